"""``POST /v1/completions`` (and ``/completions``): OpenAI's legacy text completions.

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
from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm import engine
from ledgerlm.errors import BadRequestError
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints._glue import Endpoint, Plan, flagged, json_body, openai_compatible, run
from ledgerlm.proxy.http import dumps, error_body, json_response
from ledgerlm.proxy.llm_routes import DONE, _relay
from ledgerlm.proxy.sse_response import SSEResponse

__all__ = ["ENDPOINT", "completions", "routes", "text_completion"]

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


async def _parse(request: Request, call: ProxyCall) -> dict[str, Any]:
    body = await json_body(request, call)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequestError("'stream' must be a boolean", param="stream", code="invalid_type")
    call.stream = stream
    return body


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


async def _bridged_encode(call: ProxyCall, result: Any) -> Response:
    body = text_completion(result.body, call.model)
    return json_response(body, headers=call.headers(result.record, result.cost.total))


async def _native_stream(call: ProxyCall, plan: Plan) -> Response:
    stream = await engine.chat_stream(plan.deployment, plan.upstream, **call.engine_kwargs())
    return SSEResponse(_relay(call, stream), call.headers())


async def _bridged_stream(call: ProxyCall, plan: Plan) -> Response:
    stream = await engine.chat_stream(plan.deployment, plan.upstream, **call.engine_kwargs())
    return SSEResponse(_bridged_events(call, stream), call.headers())


async def _bridged_events(call: ProxyCall, stream: Any) -> AsyncGenerator[bytes, None]:
    """Chat chunks re-encoded as ``text_completion`` chunks; the row is written before ``[DONE]``."""
    failed: BaseException | None = None
    try:
        async for chunk in stream:
            out = {**chunk, "object": "text_completion"}
            out["choices"] = [
                {
                    "text": (c.get("delta") or {}).get("content") or "",
                    "index": c.get("index", 0),
                    "logprobs": None,
                    "finish_reason": c.get("finish_reason"),
                }
                for c in chunk.get("choices") or ()
            ]
            yield b"data: " + dumps(out) + b"\n\n"
    except Exception as exc:
        failed = exc
    finally:
        await stream.aclose()
        if call.sink.record is None:
            call.write_failure(failed or RuntimeError("stream closed early"))
        await call.settle(call.sink.record)
    if failed is not None:
        yield b"data: " + dumps(error_body(failed)) + b"\n\n"
    yield DONE


def _plan(call: ProxyCall, admitted: dict[str, Any]) -> Plan:
    deployment = call.deployment
    assert deployment is not None
    if openai_compatible(deployment):
        native = flagged(deployment, "completions", engine.compiled_price(deployment))
        return Plan(native, admitted, stream=_native_stream)
    chat: dict[str, Any] = {"messages": [{"role": "user", "content": _prompt(admitted)}]}
    chat.update({k: admitted[k] for k in _CHAT_FIELDS if k in admitted})
    return Plan(deployment, chat, encode=_bridged_encode, stream=_bridged_stream)


ENDPOINT = Endpoint("atext_completion", "prompt", _parse, _plan)


async def completions(request: Request) -> Response:
    """``POST /v1/completions``."""
    return await run(request, ENDPOINT)


def routes() -> list[Route]:
    """``/v1/completions`` and ``/completions``."""
    return [Route(p, completions, methods=["POST"]) for p in ("/v1/completions", "/completions")]
