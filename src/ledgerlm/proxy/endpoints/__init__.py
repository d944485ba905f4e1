"""Inference endpoints, one module per API format; each defines an ``Endpoint`` value
(``ledgerlm.proxy.lifecycle``) and nothing of the call path:

* ``chat``: ``POST /v1/chat/completions`` (OpenAI chat, plain and SSE; ``mock`` answers LiteLLM's
  ``mock_response``)
* ``embeddings``: ``POST /v1/embeddings`` (OpenAI)
* ``messages``: ``POST /v1/messages`` (Anthropic Messages, native or translated)
* ``responses``: ``POST /v1/responses`` (OpenAI Responses API, passed through or bridged to chat)
* ``completions``: ``POST /v1/completions`` (legacy text completions)
* ``media``: ``POST /v1/images/generations``, ``/v1/moderations``, ``/v1/rerank`` (per-unit prices)
* ``audio``: ``POST /v1/audio/transcriptions`` (multipart reader) and ``/v1/audio/speech`` (audio bytes)
* ``count_tokens``: ``POST /v1/messages/count_tokens`` (never admitted, $0 row)
* ``stored_responses``: ``GET`` / ``DELETE /v1/responses/{id}``, ``.../input_items`` (no body, own
  target, $0 row)
* ``passthrough``: ``/openai/*``, ``/anthropic/*`` ... (any method, raw bytes in and out, own target)

A route is ``Route(path, inference_route(ENDPOINT), methods=["POST"])``. Helpers: ``upstreams``
(deployment copies for non-chat OpenAI endpoints), ``logged`` (the row of a call the engine does not
run), ``passthrough_targets`` / ``passthrough_stream``; ``azure_paths`` maps Azure's deployment URLs
onto the endpoints above. ``routes()`` lists them all for the app.
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
