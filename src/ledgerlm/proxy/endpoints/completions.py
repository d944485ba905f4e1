"""``POST /v1/completions`` (and ``/completions``): OpenAI's legacy text completions, as a lifecycle
``Endpoint``.

Format: OpenAI API reference ("Completions"): ``prompt`` (a string, or a list holding one string) ->
``text_completion`` with ``choices[].text`` and token ``usage``; streamed as ``data:`` chunks of the
same object and ``data: [DONE]``.

* OpenAI-compatible deployments (``openai/``, ``text-completion-openai/``, vLLM, Together ...): the body
  goes to ``{base}/completions`` unchanged (model set), the answer comes back unchanged;
* any other deployment: the prompt becomes one user message of a chat completion (as LiteLLM's
  ``text_completion`` does) and the answer is encoded back as ``text_completion``.

Priced per token like chat (call type ``atext_completion``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from starlette.routing import Route

from ledgerlm import engine
from ledgerlm.errors import BadRequestError
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints.chat import DONE
from ledgerlm.proxy.endpoints.upstreams import flagged, openai_compatible
from ledgerlm.proxy.http import dumps, error_body, error_response
from ledgerlm.proxy.lifecycle import Endpoint, StreamEncoder, Upstream, inference_route

__all__ = ["COMPLETIONS", "completions", "routes", "text_completion"]

_CHAT_FIELDS = (
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "user",
    "logit_bias",
    "stream",
    "stream_options",
)


def _prompt(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequestError(
            "'prompt' must be a string (or a list of one string) for a chat model", param="prompt"
        )
    return prompt


def text_completion(completion: dict[str, Any], model: str) -> dict[str, Any]:
    """A ``text_completion`` for a ``chat.completion`` (text of each choice, same usage)."""
    choices = [
        {
            "text": (c.get("message") or {}).get("content") or "",
            "index": c.get("index", 0),
            "logprobs": None,
            "finish_reason": c.get("finish_reason"),
        }
        for c in completion.get("choices") or ()
    ]
    return {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": completion.get("usage"),
    }


def _prepare(call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
    deployment = call.deployment
    assert deployment is not None
    if openai_compatible(deployment):
        native = flagged(deployment, "completions", engine.compiled_price(deployment))
        return Upstream(native, admitted, native=True)
    chat: dict[str, Any] = {"messages": [{"role": "user", "content": _prompt(admitted)}]}
    chat.update({k: admitted[k] for k in _CHAT_FIELDS if k in admitted})
    return Upstream(deployment, chat)


def _encode(call: ProxyCall, upstream: Upstream, result: Any) -> dict[str, Any]:
    if upstream.native:
        body: dict[str, Any] = result.body
        return body
    result.raw = None  # the upstream bytes are a chat completion: never forwarded
    return text_completion(result.body, call.model)


class _Encoder:
    """``text_completion`` chunks as ``data:`` frames: relayed (native) or re-encoded from chat chunks
    (bridged); keeps the text for a stored reply."""

    def __init__(self, bridged: bool) -> None:
        self._bridged = bridged
        self._text: list[str] = []

    def feed(self, item: dict[str, Any]) -> Iterable[bytes]:
        out = item
        if self._bridged:
            out = {**item, "object": "text_completion"}
            out["choices"] = [
                {
                    "text": (c.get("delta") or {}).get("content") or "",
                    "index": c.get("index", 0),
                    "logprobs": None,
                    "finish_reason": c.get("finish_reason"),
                }
                for c in item.get("choices") or ()
            ]
        self._text.extend(str(c.get("text") or "") for c in out.get("choices") or ())
        return (b"data: " + dumps(out) + b"\n\n",)

    def finish(self, stream: Any) -> Iterable[bytes]:
        return (DONE,)

    def error(self, exc: BaseException) -> Iterable[bytes]:
        return (b"data: " + dumps(error_body(exc)) + b"\n\n", DONE)

    def reply(self) -> Any:
        return {"choices": [{"index": 0, "text": "".join(self._text)}]}


def _stream_encoder(call: ProxyCall, upstream: Upstream) -> StreamEncoder:
    return _Encoder(bridged=not upstream.native)


COMPLETIONS = Endpoint(
    call_type="atext_completion",
    need="prompt",
    call=engine.chat,
    open_stream=engine.chat_stream,
    encode=_encode,
    stream_encoder=_stream_encoder,
    error=error_response,
    prepare=_prepare,
    forward_raw=True,
    name="completions",
)

completions = inference_route(COMPLETIONS)


def routes() -> list[Route]:
    """``/v1/completions`` and ``/completions``."""
    return [Route(p, completions, methods=["POST"]) for p in ("/v1/completions", "/completions")]
