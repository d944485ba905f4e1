"""Key routes beyond generate/info/update/delete/list (LiteLLM paths): ``POST /key/regenerate`` and
``POST /key/{key}/regenerate`` (a new secret for the same key: same alias, limits, team, user and spend;
the old secret stops working at once), ``POST /key/block`` and ``/key/unblock`` (``{"key"}``), ``POST
/key/health`` (the calling key: ``{"key": "healthy", "logging_callbacks": null}``).

Regenerating changes the stored hash (``token``); spend rows written before keep the old hash.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.errors import NotFoundError
from ledgerlm.proxy import management_models as mm
from ledgerlm.proxy.auth import KeyContext, generate_key, hash_key, mask_key
from ledgerlm.proxy.management import authorize_key_write, invalidate, managed, read_body
from ledgerlm.proxy.state import ProxyState
from ledgerlm.store import keys, tables

__all__ = ["routes"]


class KeyRef(BaseModel):
    """``{"key": "sk-..." | hash}``."""

    model_config = ConfigDict(extra="ignore")
    key: str = Field(min_length=1)


async def _writable_key(state: ProxyState, ctx: KeyContext, key: str) -> dict[str, Any]:
    row = await keys.get_key(state.store.engine, key)
    if row is None:
        raise NotFoundError("no such key", param="key", code="key_not_found")
    await authorize_key_write(state, ctx, row.get("team_id"), row.get("user_id"), None)
    return row


@managed()
async def key_regenerate(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /key/regenerate`` ``{"key"}`` (or the key in the path) -> the key's row with the new
    ``key`` (shown once) and ``token``."""
    path_key = request.path_params.get("key")
    body = await read_body(request) if path_key is None else {}
    ref = mm.parse_body(KeyRef, {"key": path_key} if path_key else body)
    row = await _writable_key(state, ctx, ref.key)
    new_key = generate_key()
    table = tables.verification_tokens
    values = {"token": hash_key(new_key), "key_name": mask_key(new_key)}
    async with state.store.engine.begin() as conn:
        await conn.execute(table.update().where(table.c.token == row["token"]).values(values))
    await invalidate(state, row["token"])
    fresh = await keys.get_key(state.store.engine, values["token"])
    return {**(fresh or row), "key": new_key, "token_id": values["token"]}


async def _set_blocked(request: Request, state: ProxyState, ctx: KeyContext, blocked: bool) -> Any:
    ref = mm.parse_body(KeyRef, await read_body(request))
    row = await _writable_key(state, ctx, ref.key)
    updated = await keys.update_key(state.store.engine, row["token"], {"blocked": blocked})
    await invalidate(state, row["token"])
    return updated


@managed()
async def key_block(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /key/block`` ``{"key"}`` -> the key row (``blocked: true``); refused (401) at once."""
    return await _set_blocked(request, state, ctx, True)


@managed()
async def key_unblock(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /key/unblock`` ``{"key"}`` -> the key row (``blocked: false``)."""
    return await _set_blocked(request, state, ctx, False)


@managed()
async def key_health(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /key/health``: the calling key works (it authenticated); no key-level logging callbacks."""
    return {"key": "healthy", "logging_callbacks": None}


def routes() -> list[Route]:
    """Regenerate, block, unblock, health."""
    return [
        Route("/key/regenerate", key_regenerate, methods=["POST"]),
        Route("/key/{key}/regenerate", key_regenerate, methods=["POST"]),
        Route("/key/block", key_block, methods=["POST"]),
        Route("/key/unblock", key_unblock, methods=["POST"]),
        Route("/key/health", key_health, methods=["POST"]),
    ]
