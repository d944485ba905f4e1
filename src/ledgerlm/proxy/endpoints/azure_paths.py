"""Azure OpenAI paths on the proxy, so Azure SDK clients (``openai.AzureOpenAI``) point at it unchanged:

``POST /openai/deployments/{deployment}/chat/completions``, ``/embeddings``, ``/completions``,
``/images/generations``, ``/images/edits``, ``/audio/transcriptions``, ``/audio/translations``,
``/audio/speech`` with ``?api-version=...``
(Azure OpenAI data-plane reference). ``{deployment}`` is the proxy's public model name (model group);
it replaces the body's ``model``. The key may come as ``api-key`` (Azure's header) or ``Authorization``.
``api-version`` is accepted and not forwarded (each deployment has its own).

Each path runs the same endpoint as its OpenAI twin (same routing, tags, admission, spend row).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from ledgerlm.proxy import llm_routes
from ledgerlm.proxy.endpoints import audio, completions, media, media_uploads

__all__ = ["AZURE_BASE", "AZURE_PATHS", "routes", "with_model_from_path"]

Handler = Callable[[Request], Awaitable[Response]]


def with_model_from_path(handler: Handler) -> Handler:
    """``handler`` called with a JSON body whose ``model`` is the path's ``{deployment}`` (a body
    that is not a JSON object is passed on unchanged, for the handler's own 400). Multipart bodies
    (transcriptions) get a ``model`` form field instead, by the handler reading the path."""

    async def endpoint(request: Request) -> Response:
        deployment = request.path_params["deployment"]
        length = request.headers.get("content-length", "")
        too_large = length.isdigit() and int(length) > request.app.state.proxy.max_body_bytes
        if too_large or "multipart/form-data" in request.headers.get("content-type", ""):
            request.state.model_override = deployment
            return await handler(request)
        raw = await request.body()
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            body["model"] = deployment
            raw = orjson.dumps(body)
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        scope = dict(request.scope)
        scope["headers"] = [(k, v) for k, v in request.scope["headers"] if k != b"content-length"] + [
            (b"content-length", str(len(raw)).encode())
        ]
        return await handler(Request(scope, receive))

    return endpoint


AZURE_BASE = "/openai/deployments/{deployment}"
AZURE_PATHS = (
    "chat/completions",
    "embeddings",
    "completions",
    "images/generations",
    "audio/transcriptions",
    "audio/speech",
    "images/edits",
    "audio/translations",
)


def routes() -> list[Route]:
    """The Azure deployment paths."""
    base = AZURE_BASE
    table: dict[str, Handler] = {
        "chat/completions": llm_routes.chat_completions,
        "embeddings": llm_routes.embeddings,
        "completions": completions.completions,
        "images/generations": media.image_generations,
        "audio/transcriptions": audio.transcriptions,
        "audio/speech": audio.speech,
        "images/edits": media_uploads.image_edits,
        "audio/translations": media_uploads.translations,
    }
    return [
        Route(f"{base}/{path}", with_model_from_path(handler), methods=["POST"])
        for path, handler in table.items()
    ]
