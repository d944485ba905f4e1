"""Inference endpoints, one module per API format; each defines an ``Endpoint`` value
(``ledgerlm.proxy.lifecycle``) and nothing of the call path:

* ``chat``: ``POST /v1/chat/completions`` (OpenAI chat, plain and SSE; ``mock`` answers LiteLLM's
  ``mock_response``)
* ``embeddings``: ``POST /v1/embeddings`` (OpenAI)
* ``messages``: ``POST /v1/messages`` (Anthropic Messages, native or translated)
* ``responses``: ``POST /v1/responses`` (OpenAI Responses API, passed through or bridged to chat)
* ``completions``: ``POST /v1/completions`` (legacy text completions)
* ``media``: ``POST /v1/images/generations``, ``/v1/moderations``, ``/v1/rerank`` (per-unit prices)

A route is ``Route(path, inference_route(ENDPOINT), methods=["POST"])``.

Routes whose request or answer the lifecycle does not speak (it reads a JSON body and answers JSON or
SSE) have their own small path: ``audio`` and ``media_uploads`` (multipart uploads, audio bytes),
``count_tokens`` (never admitted), ``stored_responses`` (GET/DELETE, no call), ``passthrough`` (any
method, the provider's own bytes); ``azure_paths`` maps Azure's deployment URLs onto the endpoints
above. ``routes()`` lists them all for the app.
"""

from __future__ import annotations

from starlette.routing import Route

__all__ = ["routes"]


def routes() -> list[Route]:
    """Every route of the endpoint modules beyond chat, embeddings and messages (imported here, not at
    package import)."""
    from ledgerlm.proxy.endpoints import (
        audio,
        azure_paths,
        completions,
        count_tokens,
        media,
        media_uploads,
        passthrough,
        responses,
    )

    return [
        *responses.routes(),
        *count_tokens.routes(),
        *completions.routes(),
        *media.routes(),
        *audio.routes(),
        *media_uploads.routes(),  # images/edits, images/variations, audio/translations
        *azure_paths.routes(),  # before the /openai/* pass-through
        *passthrough.routes(),
    ]
