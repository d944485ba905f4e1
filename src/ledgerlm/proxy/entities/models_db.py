"""Models added through the API (LiteLLM ``store_model_in_db``): ``POST /model/new`` (``{"model_name",
"litellm_params", "model_info"}``), ``POST /model/update`` (``model_info.id`` names the model; the fields
sent replace the stored ones), ``POST /model/delete`` (``{"id"}``).

Only with ``general_settings.store_model_in_db: true`` (else 400, as LiteLLM). Stored in ``proxy_models``
and served at once by this instance beside the config's ``model_list`` (an id already in the config is a
400); other instances load them at start and then pick up every change within
``general_settings.model_db_poll_interval_s`` (default 10 s: ``ModelSync`` re-reads the table and
reloads when its content changed), without a restart. Credentials are stored only as
``os.environ/NAME`` references: a literal key, secret or token in ``litellm_params`` is a 400 (no
secret is ever written anywhere).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.errors import BadRequestError, ConfigError, NotFoundError
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.config import ModelEntry, format_path, resolve_env
from ledgerlm.proxy.management import managed, read_body
from ledgerlm.proxy.models import build_registry
from ledgerlm.proxy.routing_setup import model_groups
from ledgerlm.proxy.state import ProxyState
from ledgerlm.store import _crud, tables
from ledgerlm.ticker import Ticker

__all__ = ["ModelSync", "load_db_models", "routes"]

log = logging.getLogger("ledgerlm.proxy")

_SECRET_HINTS = ("api_key", "secret", "password", "credential", "_token", "access_key")


def _check_enabled(state: ProxyState) -> None:
    if not getattr(state.config.general_settings, "store_model_in_db", False):
        raise BadRequestError(
            "set general_settings.store_model_in_db: true to add models through the API",
            code="store_model_in_db_disabled",
        )


def _check_secrets(params: dict[str, Any]) -> None:
    for name, value in params.items():
        secretish = any(h in name for h in _SECRET_HINTS) and "cost" not in name and name != "max_tokens"
        if secretish and isinstance(value, str) and not value.startswith("os.environ/"):
            raise BadRequestError(
                f"litellm_params.{name}: store credentials as os.environ/NAME, never the value",
                param=f"litellm_params.{name}",
                code="secret_not_allowed",
            )


def _entry(body: dict[str, Any]) -> ModelEntry:
    try:
        entry = ModelEntry.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = format_path(first.get("loc", ())) or "body"
        raise BadRequestError(f"{path}: {first.get('msg')}", param=path) from None
    _check_secrets(entry.litellm_params.model_dump(exclude_none=True))
    return entry


async def _stored_rows(state: ProxyState) -> list[dict[str, Any]]:
    query = sa.select(tables.proxy_models).order_by(tables.proxy_models.c.model_id)
    async with state.store.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(query)).mappings()]


def _fingerprint(rows: list[dict[str, Any]]) -> str:
    """A digest of the stored models' content (what a reload depends on)."""
    parts = [(r["model_id"], r["model_name"], r["litellm_params"], r["model_info"]) for r in rows]
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


async def load_db_models(state: ProxyState, *, strict: bool = True) -> None:
    """Serve the config's models plus every stored one (rebuilds the registry and the deployments' rpm /
    tpm limits). A stored model that does not build (unset variable, ...) raises ``BadRequestError`` when
    ``strict`` (an API call), else is skipped with an error logged (start-up: the config's models serve)."""
    rows = await _stored_rows(state)
    _apply(state, rows, strict=strict)


def _apply(state: ProxyState, rows: list[dict[str, Any]], *, strict: bool) -> None:
    extra = []
    for row in rows:
        try:
            extra.append(_row_entry(row))
        except BadRequestError as exc:
            if strict:
                raise
            log.error("stored model %s not served: %s", row["model_id"], exc.message)
    config = state.config.model_copy(update={"model_list": [*state.config.model_list, *extra]})
    try:
        state.registry = build_registry(config)
        state.router.groups = model_groups(config, state.registry)  # the router keeps its state
    except ConfigError as exc:
        raise BadRequestError(f"model_list: {exc}", code="invalid_model") from None
    deployments = getattr(state.admission, "deployments", None)
    if isinstance(deployments, dict):
        from ledgerlm.proxy.budget_setup import deployment_limits

        deployments.clear()
        deployments.update(deployment_limits(config))


class ModelSync:
    """Reloads the stored models when another instance changed them (``store_model_in_db``): every
    ``interval_s`` seconds one ``SELECT`` of ``proxy_models``; a changed digest rebuilds the model list
    (``_apply``, non-strict: a model that does not build is logged and skipped). Errors are logged and
    retried at the next tick."""

    def __init__(self, state: ProxyState, interval_s: float) -> None:
        self.state = state
        self.interval_s = interval_s
        self.digest: str | None = None
        self._ticker = Ticker("model-sync", interval_s, self.tick, logger=log, first_delay_s=interval_s)

    async def start(self) -> None:
        self.digest = _fingerprint(await _stored_rows(self.state))
        self._ticker.start()

    async def stop(self) -> None:
        await self._ticker.stop()

    async def tick(self) -> bool:
        """One check; True when the models were reloaded."""
        rows = await _stored_rows(self.state)
        digest = _fingerprint(rows)
        if digest == self.digest:
            return False
        _apply(self.state, rows, strict=False)
        self.digest = digest
        log.info("stored models changed: model list reloaded (%d stored)", len(rows))
        return True


def _row_entry(row: dict[str, Any]) -> ModelEntry:
    """A stored model as a ``model_list`` entry, its ``os.environ/NAME`` references resolved now."""
    info = {**(row.get("model_info") or {}), "id": row["model_id"]}
    raw = {"model_name": row["model_name"], "litellm_params": row["litellm_params"], "model_info": info}
    try:
        return ModelEntry.model_validate(resolve_env(raw, ("proxy_models", row["model_id"])))
    except ConfigError as exc:
        raise BadRequestError(str(exc), code="invalid_model") from None


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "model_info": {**(row.get("model_info") or {}), "id": row["model_id"]}}


async def _save(state: ProxyState, model_id: str, entry: ModelEntry, *, new: bool) -> dict[str, Any]:
    fields = {
        "model_name": entry.model_name,
        "litellm_params": entry.litellm_params.model_dump(mode="json", exclude_none=True),
        "model_info": {
            k: v for k, v in entry.model_info.model_dump(mode="json", exclude_none=True).items() if k != "id"
        },
    }
    engine = state.store.engine
    if new:
        row = await _crud.create(engine, tables.proxy_models, {**fields, "model_id": model_id})
    else:
        found = await _crud.update(engine, tables.proxy_models, model_id, fields)
        if found is None:
            raise NotFoundError(
                f"model {model_id!r} is not stored", param="model_info.id", code="model_not_found"
            )
        row = found
    await load_db_models(state)
    return _row(row)


@managed()
async def model_new(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /model/new`` -> the stored model (``model_id``, ``model_name``, ``litellm_params``,
    ``model_info``), served at once."""
    _check_enabled(state)
    entry = _entry(await read_body(request))
    model_id = entry.model_info.id or str(uuid.uuid4())
    if any(d.deployment_id == model_id for g in state.registry.groups.values() for d in g.deployments):
        raise BadRequestError(
            f"model id {model_id!r} exists already", param="model_info.id", code="model_exists"
        )
    return await _save(state, model_id, entry, new=True)


@managed()
async def model_update(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /model/update`` (``model_info.id`` required) -> the stored model."""
    _check_enabled(state)
    body = await read_body(request)
    model_id = (body.get("model_info") or {}).get("id") or body.get("id")
    if not isinstance(model_id, str) or not model_id:
        raise BadRequestError("model_info.id is required", param="model_info.id")
    stored = await _crud.get(state.store.engine, tables.proxy_models, model_id)
    if stored is None:
        raise NotFoundError(
            f"model {model_id!r} is not stored", param="model_info.id", code="model_not_found"
        )
    merged = {
        "model_name": body.get("model_name") or stored["model_name"],
        "litellm_params": {**stored["litellm_params"], **(body.get("litellm_params") or {})},
        "model_info": {**stored["model_info"], **(body.get("model_info") or {})},
    }
    return await _save(state, model_id, _entry(merged), new=False)


@managed()
async def model_delete(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /model/delete`` ``{"id"}`` -> ``{"message": ...}``; the model stops being served at once."""
    _check_enabled(state)
    model_id = (await read_body(request)).get("id")
    if not isinstance(model_id, str) or not model_id:
        raise BadRequestError("id is required", param="id")
    if not await _crud.delete(state.store.engine, tables.proxy_models, model_id):
        raise NotFoundError(f"model {model_id!r} is not stored", param="id", code="model_not_found")
    await load_db_models(state)
    return {"message": f"Model: {model_id} deleted successfully"}


def routes() -> list[Route]:
    """``/model/new``, ``/model/update``, ``/model/delete``."""
    return [
        Route("/model/new", model_new, methods=["POST"]),
        Route("/model/update", model_update, methods=["POST"]),
        Route("/model/delete", model_delete, methods=["POST"]),
    ]
