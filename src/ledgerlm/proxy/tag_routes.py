"""Tag management (LiteLLM paths; master key only): ``POST /tag/new``, ``POST /tag/update``,
``GET /tag/info?name=a&name=b`` (also ``POST /tag/info`` with ``{"names": [...]}``), ``GET /tag/list``,
``POST /tag/delete``; and ``GET /tags/drift?start_date=&end_date=&dimension=`` (the drift report,
``ledgerlm.tags.drift``).

Body fields: ``name`` (or ``tag_name``), ``description``, ``models``, ``max_budget`` / ``soft_budget`` (USD),
``budget_duration`` (``30s`` ... ``1mo``; sets ``budget_reset_at``), ``rpm_limit``, ``tpm_limit``,
``max_parallel_requests``, ``metadata``. A registered tag's ``spend`` counts every call carrying it from
the moment it is registered; its budget applies to every request carrying the tag (issue 7).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.budgets.durations import with_reset_time
from ledgerlm.errors import BadRequestError, NotFoundError
from ledgerlm.proxy import management_models as mm
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.http import read_json_body
from ledgerlm.proxy.management import managed
from ledgerlm.proxy.spend_api import parse_day
from ledgerlm.proxy.state import ProxyState
from ledgerlm.proxy.tags import MAX_TAG_LENGTH

__all__ = ["routes"]


class TagBody(BaseModel):
    """``POST /tag/new`` and ``/tag/update``."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, max_length=MAX_TAG_LENGTH)
    tag_name: str | None = Field(default=None, max_length=MAX_TAG_LENGTH)
    description: str | None = None
    models: list[str] | None = None
    max_budget: Decimal | None = Field(
        default=None, ge=0, le=mm.MAX_USD, allow_inf_nan=False, description="USD"
    )
    soft_budget: Decimal | None = Field(
        default=None, ge=0, le=mm.MAX_USD, allow_inf_nan=False, description="USD"
    )
    budget_duration: str | None = None
    tpm_limit: int | None = Field(default=None, ge=0, le=mm.MAX_LIMIT)
    rpm_limit: int | None = Field(default=None, ge=0, le=mm.MAX_LIMIT)
    max_parallel_requests: int | None = Field(default=None, ge=0, le=2**31 - 1)
    metadata: dict[str, Any] | None = None

    @field_validator("budget_duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        return mm.check_duration(value)

    def ident(self) -> str:
        name = self.name or self.tag_name
        if not name:
            raise BadRequestError("'name' is required", param="name")
        return name

    def fields(self) -> dict[str, Any]:
        out = {k: v for k, v in self.model_dump(exclude_unset=True).items() if k not in ("name", "tag_name")}
        if "models" in out and out["models"] is None:
            out["models"] = []
        if "metadata" in out and out["metadata"] is None:
            out["metadata"] = {}
        return out


def _body_names(body: dict[str, Any]) -> list[str]:
    """``names`` (a list of strings) or ``name`` (a string) from a body; 400 for any other shape."""
    names = body.get("names")
    if names is None:
        name = body.get("name")
        names = [name] if name is not None else []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BadRequestError("'names' must be a list of tag names (strings)", param="names")
    return names


def _invalidate(state: ProxyState) -> None:
    invalidate = getattr(state.admission, "invalidate", None)
    if callable(invalidate):
        invalidate()


@managed()
async def tag_new(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /tag/new`` -> the stored tag."""
    from ledgerlm.store import tags

    req = mm.parse_body(TagBody, await read_json_body(request, 1024 * 1024, forbid_nul=True))
    row = await tags.create_tag(state.store.engine, req.ident(), with_reset_time(req.fields()))
    _invalidate(state)
    return row


@managed()
async def tag_update(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /tag/update`` -> the updated tag (404 when unknown)."""
    from ledgerlm.store import tags

    req = mm.parse_body(TagBody, await read_json_body(request, 1024 * 1024, forbid_nul=True))
    name = req.ident()
    existing = await tags.get_tag(state.store.engine, name)
    if existing is None:
        raise NotFoundError(f"tag {name!r} does not exist", param="name", code="tag_not_found")
    fields = with_reset_time(req.fields(), existing_duration=existing.get("budget_duration"))
    row = await tags.update_tag(state.store.engine, name, fields)
    _invalidate(state)
    return row


@managed()
async def tag_info(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /tag/info?name=...`` (repeatable, or comma separated) -> ``{name: tag}``; 404 if none exist."""
    from ledgerlm.store import tags

    if request.method == "POST":
        body = await read_json_body(request, 1024 * 1024, forbid_nul=True)
        names = _body_names(body)
    else:
        names = [n for value in request.query_params.getlist("name") for n in value.split(",") if n]
        names += [n for value in request.query_params.getlist("names") for n in value.split(",") if n]
    if not names or not all(isinstance(n, str) for n in names):
        raise BadRequestError("give the tag name(s): ?name=<tag>", param="name")
    rows = await tags.get_tags(state.store.engine, list(dict.fromkeys(names)))
    if not rows:
        raise NotFoundError(f"no such tag: {', '.join(names)}", param="name", code="tag_not_found")
    return rows


@managed()
async def tag_list(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /tag/list`` -> every registered tag."""
    from ledgerlm.store import tags

    return await tags.list_tags(state.store.engine, limit=1000)


@managed()
async def tag_delete(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /tag/delete`` with ``names`` (or ``name``); spend history is kept."""
    from ledgerlm.store import tags

    body = await read_json_body(request, 1024 * 1024, forbid_nul=True)
    names = _body_names(body)
    deleted = [n for n in names if isinstance(n, str) and await tags.delete_tag(state.store.engine, n)]
    if not deleted:
        raise NotFoundError("no such tag", param="names", code="tag_not_found")
    _invalidate(state)
    return {"deleted": deleted}


@managed()
async def tags_drift(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /tags/drift`` -> ``{from, to, dimensions: [...], alerts: [...]}`` (master key only)."""
    from ledgerlm.store.spend_queries import LogFilter
    from ledgerlm.tags.policy import DIMENSION_NAME_RULE, is_dimension_name
    from ledgerlm.tags.report import drift_report

    q = request.query_params
    start = parse_day(q.get("start_date"), param="start_date")
    end = parse_day(q.get("end_date"), param="end_date")
    if start is not None and end is not None and start > end:
        raise BadRequestError("start_date is after end_date", param="start_date")
    dimension = q.get("dimension") or None
    if dimension is not None and not is_dimension_name(dimension):
        raise BadRequestError(f"dimension: {DIMENSION_NAME_RULE}", param="dimension")
    threshold = Decimal(str(state.config.general_settings.tag_drift_alert_threshold))
    report = await drift_report(
        state.store.engine,
        state.tags.policies,
        LogFilter(start=start, end=end),
        dimension=dimension,
        threshold=threshold,
    )
    state.alerts.drift(report)  # through the alert channels, once per period and dimension
    return report


def routes() -> list[Route]:
    """The tag routes, to mount beside the other management routes."""
    return [
        Route("/tag/new", tag_new, methods=["POST"]),
        Route("/tag/update", tag_update, methods=["POST"]),
        Route("/tag/info", tag_info, methods=["GET", "POST"]),
        Route("/tag/list", tag_list, methods=["GET"]),
        Route("/tag/delete", tag_delete, methods=["POST"]),
        Route("/tags/drift", tags_drift, methods=["GET"]),
    ]
