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
from ledgerlm.routing.model_list import listed_models

__all__ = ["DONE", "chat_completions", "embeddings", "list_models"]

chat_completions = inference_route(CHAT)
embeddings = inference_route(EMBEDDINGS)


def _model_entry(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "ledgerlm"}


async def list_models(request: Request) -> Response:
    """``GET /v1/models``: only the public model names the caller's key (and team) may use, wildcard
    groups expanded into concrete names (``ledgerlm.routing.model_list``; ``?return_wildcard_routes=true``
    also lists the patterns; ``litellm_settings.check_provider_endpoint`` asks the provider)."""
    state: ProxyState = request.app.state.proxy
    try:
        key: KeyContext = await state.auth.authenticate(request.headers)
    except LedgerLMError as exc:
        return error_response(exc)
    groups = state.router.groups
    settings = state.config.litellm_settings
    names = await listed_models(
        groups,
        lambda n: groups.allowed(key.models, n) and groups.allowed(key.team_models, n),
        return_wildcard_routes=request.query_params.get("return_wildcard_routes", "").lower() == "true",
        check_provider_endpoint=bool((settings.model_extra or {}).get("check_provider_endpoint")),
    )
    return json_response({"object": "list", "data": [_model_entry(n) for n in names]})
