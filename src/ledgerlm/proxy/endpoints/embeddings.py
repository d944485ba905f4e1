"""``POST /v1/embeddings``: the OpenAI embeddings format
(https://platform.openai.com/docs/api-reference/embeddings); never streamed (``stream`` is ignored)."""

from __future__ import annotations

from typing import Any

from ledgerlm import engine
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.http import error_response
from ledgerlm.proxy.lifecycle import Endpoint, Upstream

__all__ = ["EMBEDDINGS"]


def _encode(call: ProxyCall, upstream: Upstream, result: Any) -> dict[str, Any]:
    body: dict[str, Any] = result.body
    return body


EMBEDDINGS = Endpoint(
    call_type="aembedding",
    need="input",
    call=engine.embed,
    encode=_encode,
    error=error_response,
    forward_raw=True,
    name="embeddings",
)
