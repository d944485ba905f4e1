"""SageMaker TGI endpoints for the simulator: ``POST /endpoints/{endpoint}/invocations`` with
``{"inputs", "parameters"}`` -> ``[{"generated_text", "details": {"generated_tokens", "prefill"}}]``
(``details`` only when ``parameters.details`` is true, as the TGI container does), and
``POST /endpoints/{endpoint}/invocations-response-stream`` (InvokeEndpointWithResponseStream): an AWS
event stream of ``PayloadPart`` frames whose bytes are TGI's SSE stream (``data:{"token": {...},
"generated_text", "details"}``), each event split over two frames as SageMaker may split them; the last
event carries ``details`` (``finish_reason``, ``generated_tokens``). Requests must carry a SigV4
``Authorization`` header (service ``sagemaker``). Knobs as for chat (``content``, ``prompt_tokens``,
``completion_tokens``, errors, ``chunk_interval_ms`` and the stream faults)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ledgerlm.simulator._bedrock_eventstream import encode_frame, exception_frame
from ledgerlm.simulator._native_common import write_events
from ledgerlm.simulator.knobs import Knobs, count_text_tokens, merge_knobs
from ledgerlm.simulator.state import SimState, _header_knobs, split_words

__all__ = ["routes"]


def _error(status: int, message: str) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps({"message": message}), content_type="application/json"
    )


_PART = {":event-type": "PayloadPart", ":content-type": "application/octet-stream", ":message-type": "event"}
EVENTSTREAM = "application/vnd.amazon.eventstream"
STREAM_ERROR = exception_frame("ModelStreamError", "The model stream failed (simulated).")


def stream_frames(text: str, generated_tokens: int) -> list[bytes]:
    """PayloadPart frames of a TGI token stream of ``text`` (each SSE event split in two frames)."""
    pieces = split_words(text) or [text]
    frames: list[bytes] = []
    for index, piece in enumerate(pieces):
        event: dict[str, Any] = {
            "index": index,
            "token": {"id": index, "text": piece, "logprob": -0.1, "special": False},
            "generated_text": None,
            "details": None,
        }
        if index == len(pieces) - 1:
            event["generated_text"] = text
            event["details"] = {
                "finish_reason": "eos_token",
                "generated_tokens": generated_tokens,
                "seed": None,
            }
        sse = b"data:" + orjson.dumps(event) + b"\n\n"
        half = len(sse) // 2
        frames += [encode_frame(_PART, sse[:half]), encode_frame(_PART, sse[half:])]
    return frames


def _reply(knobs: Knobs, prompt: str) -> tuple[str, int, int]:
    text = knobs.content if knobs.content is not None else "Hello from the simulated SageMaker endpoint."
    n_in = knobs.prompt_tokens if knobs.prompt_tokens is not None else count_text_tokens(prompt)
    n_out = knobs.completion_tokens if knobs.completion_tokens is not None else count_text_tokens(text)
    return text, n_in, n_out


def routes(state: SimState) -> list[web.RouteDef]:
    """The invocations routes bound to ``state``."""

    async def invocations(request: web.Request) -> web.StreamResponse:
        try:
            body: Any = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _error(400, "body is not JSON")
        state.log(request, body)
        if "/sagemaker/aws4_request" not in request.headers.get("Authorization", ""):
            return _error(403, "missing SigV4 signature for service sagemaker")
        endpoint = request.match_info["endpoint"]
        knobs = merge_knobs(state.models.get(endpoint), _header_knobs(request.headers))
        if state.should_fail(knobs):
            return _error(knobs.error_status or 500, "simulated error")
        text, n_in, n_out = _reply(knobs, str(body.get("inputs") or ""))
        if request.path.endswith("/invocations-response-stream"):
            if not body.get("stream"):
                return _error(400, "the TGI container streams only with stream: true")
            frames = stream_frames(text, n_out)
            return await write_events(
                request, state, knobs, frames, content_type=EVENTSTREAM, error_event=STREAM_ERROR
            )
        answer: dict[str, Any] = {"generated_text": text}
        if (body.get("parameters") or {}).get("details"):
            prefill = [{"id": i, "text": "t", "logprob": None} for i in range(n_in)]
            answer["details"] = {"finish_reason": "eos_token", "generated_tokens": n_out, "prefill": prefill}
        return web.Response(body=orjson.dumps([answer]), content_type="application/json")

    return [
        web.post("/endpoints/{endpoint}/invocations", invocations),
        web.post("/endpoints/{endpoint}/invocations-response-stream", invocations),
    ]
