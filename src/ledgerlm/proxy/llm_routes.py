"""OpenAI-compatible routes: ``POST /v1/chat/completions`` (plain and SSE), ``POST /v1/embeddings``,
``GET /v1/models``. The shapes are OpenAI's (https://platform.openai.com/docs/api-reference/chat); the
formats are ``ledgerlm.proxy.endpoints.chat`` / ``.embeddings``, the call path ``ledgerlm.proxy.lifecycle``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ledgerlm.errors import LedgerLMError
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.endpoints.chat import CHAT, DONE
from ledgerlm.proxy.endpoints.embeddings import EMBEDDINGS
from ledgerlm.proxy.http import error_response, json_response
from ledgerlm.proxy.lifecycle import inference_route
from ledgerlm.proxy.state import ProxyState

__all__ = ["DONE", "chat_completions", "embeddings", "list_models"]

chat_completions = inference_route(CHAT)
embeddings = inference_route(EMBEDDINGS)


def _model_entry(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "ledgerlm"}


async def list_models(request: Request) -> Response:
    """``GET /v1/models``: only the public model names the caller's key (and team) may use."""
    state: ProxyState = request.app.state.proxy
    try:
        key: KeyContext = await state.auth.authenticate(request.headers)
    except LedgerLMError as exc:
        return error_response(exc)
    groups = state.router.groups
    data = [
        _model_entry(n)
        for n in groups.names()
        if groups.allowed(key.models, n) and groups.allowed(key.team_models, n)
    ]
    return json_response({"object": "list", "data": data})
