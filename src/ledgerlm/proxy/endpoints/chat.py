"""``POST /v1/chat/completions``: the OpenAI chat format
(https://platform.openai.com/docs/api-reference/chat). Plain answers forward the upstream bytes when the
provider speaks OpenAI and no hook changes them; streams are ``data: <chunk>`` frames ending in
``data: [DONE]``, an error after the first byte being a ``data: {"error": ...}`` frame before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ledgerlm.errors import BadRequestError
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints import mock
from ledgerlm.proxy.endpoints.field_types import CHAT_FIELDS, check_fields
from ledgerlm.proxy.http import dumps, error_body, error_response
from ledgerlm.proxy.lifecycle import Endpoint, Upstream

__all__ = ["CHAT", "DONE", "ChatStreamEncoder"]

DONE = b"data: [DONE]\n\n"


def _parse(call: ProxyCall, body: dict[str, Any]) -> None:
    if not isinstance(body["messages"], list) or not body["messages"]:
        raise BadRequestError("'messages' must be a non-empty list", param="messages")
    check_fields(body, CHAT_FIELDS)


def _encode(call: ProxyCall, upstream: Upstream, result: Any) -> dict[str, Any]:
    body: dict[str, Any] = result.body
    return body


class ChatStreamEncoder:
    """OpenAI chunks as ``data:`` frames; keeps the text content when the reply is stored."""

    __slots__ = ("_text",)

    def __init__(self, call: ProxyCall, upstream: Upstream) -> None:
        self._text: list[str] | None = [] if call.sink.defer else None

    def feed(self, item: dict[str, Any]) -> Iterable[bytes]:
        if self._text is not None:
            for choice in item.get("choices") or ():
                content = (choice.get("delta") or {}).get("content")
                if content:
                    self._text.append(content)
        return (b"data: " + dumps(item) + b"\n\n",)

    def finish(self, stream: Any) -> Iterable[bytes]:
        return (DONE,)

    def error(self, exc: BaseException) -> Iterable[bytes]:
        return (b"data: " + dumps(error_body(exc)) + b"\n\n", DONE)

    def reply(self) -> Any:
        """The streamed reply as stored with ``store_prompts_in_spend_logs`` (text content only)."""
        if self._text is None:
            return None
        message = {"role": "assistant", "content": "".join(self._text)}
        return {"choices": [{"index": 0, "message": message}]}


CHAT = Endpoint(
    call_type="acompletion",
    need="messages",
    call=mock.chat,  # engine.chat, or LiteLLM's mock_response (no provider call)
    open_stream=mock.chat_stream,
    prepare=mock.prepare,
    encode=_encode,
    stream_encoder=ChatStreamEncoder,
    error=error_response,
    parse=_parse,
    forward_raw=True,
    name="chat_completions",
)
