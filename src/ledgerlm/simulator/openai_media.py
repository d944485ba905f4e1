"""OpenAI endpoints beside chat for the simulator, in OpenAI's documented formats (API reference
"Completions", "Images", "Audio", "Moderations") and Cohere's rerank ("Rerank V2"):

* ``POST /v1/completions`` (plain and ``data:`` stream of ``text_completion`` chunks, usage chunk with
  ``stream_options.include_usage``) and Azure's ``/openai/deployments/{d}/completions``;
* ``POST /v1/images/generations`` (one ``data`` item per ``n``; gpt-image-* adds token ``usage``) and
  Azure's ``/openai/deployments/{d}/images/generations``;
* ``POST /v1/audio/transcriptions`` (multipart; ``{"text", "usage": {"type": "duration", "seconds"}}``,
  ``verbose_json`` with ``duration``, ``text`` as plain text) and ``POST /v1/audio/speech`` (bytes);
* ``POST /v1/images/edits`` and ``/v1/images/variations`` (multipart ``image``/``image[]``, ``mask``;
  answers as generations, gpt-image-* edits with image input tokens);
* ``POST /v1/audio/translations`` (multipart; ``json`` is ``{"text"}``, ``verbose_json`` adds
  ``duration``, ``text`` plain);
* ``POST /v1/moderations`` (``modr-`` id, one result per input);
* ``POST /v1/rerank`` and ``/v2/rerank`` (Cohere: ``results`` + ``meta.billed_units.search_units``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import orjson
from aiohttp import web

from ledgerlm.simulator.knobs import Knobs, count_text_tokens, merge_knobs
from ledgerlm.simulator.openai import _write_stream
from ledgerlm.simulator.state import SimState, _check_auth, _header_knobs, error_response, split_words

__all__ = ["completion_body", "routes"]


def _json(value: Any) -> web.Response:
    return web.Response(body=orjson.dumps(value), content_type="application/json")


def _usage(knobs: Knobs, prompt_text: str, text: str) -> dict[str, Any]:
    prompt = knobs.prompt_tokens if knobs.prompt_tokens is not None else count_text_tokens(prompt_text) + 1
    completion = knobs.completion_tokens if knobs.completion_tokens is not None else count_text_tokens(text)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_body(knobs: Knobs, body: dict[str, Any]) -> dict[str, Any]:
    """A ``text_completion`` for ``body``."""
    prompt = str(body.get("prompt") or "")
    text = knobs.content if knobs.content is not None else f" completed: {prompt[:40]}"
    return {
        "id": "cmpl-sim" + hashlib.sha256(prompt.encode()).hexdigest()[:20],
        "object": "text_completion",
        "created": int(time.time()),
        "model": body.get("model", "sim-model"),
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": _usage(knobs, prompt, text),
    }


def _completion_events(knobs: Knobs, body: dict[str, Any]) -> list[bytes]:
    final = completion_body(knobs, body)
    base = {k: final[k] for k in ("id", "object", "created", "model")}
    text = final["choices"][0]["text"]
    chunks = [
        {**base, "choices": [{"text": w, "index": 0, "logprobs": None, "finish_reason": None}]}
        for w in split_words(text)
    ]
    chunks.append({**base, "choices": [{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": final["usage"]})
    return [b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


def _images(knobs: Knobs, body: dict[str, Any], *, edited: bool = False) -> dict[str, Any]:
    """An images answer; for gpt-image-* with token ``usage`` (an edit also bills its input images:
    ``input_tokens_details.image_tokens``, 323 per uploaded image in the simulator)."""
    n = int(body.get("n") or 1)
    data = [
        {"url": f"https://sim.invalid/image/{i}.png", "revised_prompt": body.get("prompt")} for i in range(n)
    ]
    out: dict[str, Any] = {"created": int(time.time()), "data": data}
    if str(body.get("model", "")).startswith("gpt-image"):
        prompt = count_text_tokens(str(body.get("prompt") or ""))
        output = knobs.completion_tokens if knobs.completion_tokens is not None else 1056 * n
        images = 323 * sum(1 for f in body.get("files") or () if f.startswith("image")) if edited else 0
        details = {"text_tokens": prompt, "image_tokens": images}
        out["usage"] = {
            "input_tokens": prompt + images,
            "output_tokens": output,
            "total_tokens": prompt + images + output,
            "input_tokens_details": details,
        }
    return out


def _transcription(knobs: Knobs, fields: dict[str, Any], size: int) -> web.Response:
    seconds = knobs.audio_seconds if knobs.audio_seconds is not None else round(size / 32000, 2)
    text = knobs.content if knobs.content is not None else "Simulated transcript."
    fmt = fields.get("response_format", "json")
    if fmt in ("text", "srt", "vtt"):
        return web.Response(text=text, content_type="text/plain")
    if fmt == "verbose_json":
        return _json(
            {"task": "transcribe", "language": "english", "duration": seconds, "text": text, "segments": []}
        )
    return _json({"text": text, "usage": {"type": "duration", "seconds": seconds}})


def _translation(knobs: Knobs, fields: dict[str, Any], size: int) -> web.Response:
    """OpenAI's translation answers: ``json`` is ``{"text"}`` only; ``verbose_json`` adds ``duration``."""
    seconds = knobs.audio_seconds if knobs.audio_seconds is not None else round(size / 32000, 2)
    text = knobs.content if knobs.content is not None else "Simulated translation."
    fmt = fields.get("response_format", "json")
    if fmt in ("text", "srt", "vtt"):
        return web.Response(text=text, content_type="text/plain")
    if fmt == "verbose_json":
        return _json(
            {"task": "translate", "language": "english", "duration": seconds, "text": text, "segments": []}
        )
    return _json({"text": text})


def _rerank(body: dict[str, Any]) -> dict[str, Any]:
    documents = body.get("documents") or []
    scored = sorted(((1.0 / (i + 1), i) for i in range(len(documents))), reverse=True)
    top = int(body.get("top_n") or len(documents))
    results = [{"index": i, "relevance_score": round(score, 6)} for score, i in scored[:top]]
    return {
        "id": "rerank-sim",
        "results": results,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
    }


async def _form_request(
    request: web.Request, state: SimState, part: str = "file"
) -> tuple[Knobs, dict[str, Any], int] | web.Response:
    form = await request.post()
    fields: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    files = {k: v for k, v in form.items() if isinstance(v, web.FileField)}
    fields["files"] = [k for k, v in form.items() if isinstance(v, web.FileField)]  # every part
    upload = files.get(part) or files.get(f"{part}[]")
    state.log(request, fields)
    if upload is None:
        return error_response(400, f"Missing required parameter: '{part}'.")
    try:
        knobs = merge_knobs(state.models.get(fields.get("model", "")), _header_knobs(request.headers))
    except (ValueError, TypeError) as exc:
        return error_response(400, f"bad x-sim header: {exc}")
    denied = _check_auth(request, knobs, azure=False)
    if denied is not None:
        return denied
    if knobs.latency_ms:  # as on the JSON routes (``SimState.prepare``)
        await asyncio.sleep(knobs.latency_ms / 1000.0)
    if state.should_fail(knobs):
        return error_response(knobs.error_status or 500, body=knobs.error_body, retry_after=knobs.retry_after)
    return knobs, fields, len(upload.file.read())


async def _answer(
    kind: str, request: web.Request, state: SimState, knobs: Any, body: Any
) -> web.StreamResponse:
    """The JSON-body endpoints' answer for ``kind``."""
    if kind == "completions":
        if body.get("stream"):
            return await _write_stream(request, state, knobs, _completion_events(knobs, body))
        return _json(completion_body(knobs, body))
    if kind == "images":
        return _json(_images(knobs, body))
    if kind == "speech":
        audio = hashlib.sha256(str(body.get("input")).encode()).digest() * 8
        return web.Response(body=b"ID3" + audio, content_type="audio/mpeg")
    if kind == "moderations":
        given = body.get("input")
        inputs = given if isinstance(given, list) else [given]
        results = [{"flagged": False, "categories": {}, "category_scores": {}} for _ in inputs]
        return _json({"id": "modr-sim", "model": body.get("model"), "results": results})
    return _json(_rerank(body))


def _form_answer(kind: str, knobs: Any, fields: dict[str, Any], size: int) -> web.StreamResponse:
    """The multipart endpoints' answer for ``kind``."""
    if kind == "transcriptions":
        return _transcription(knobs, fields, size)
    if kind == "translations":
        return _translation(knobs, fields, size)
    edit = kind == "edits"
    if edit and not fields.get("prompt"):
        return error_response(400, "Missing required parameter: 'prompt'.")
    return _json(_images(knobs, fields, edited=edit))


def routes(state: SimState) -> list[web.RouteDef]:
    """The routes bound to ``state``."""

    def handler(kind: str, azure: bool) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            prepared = await state.prepare(request, azure=azure)
            if isinstance(prepared, web.StreamResponse):
                return prepared
            knobs, body = prepared
            return await _answer(kind, request, state, knobs, body)

        return handle

    def form(kind: str, *file_part: str) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            prepared = await _form_request(request, state, *file_part)
            if isinstance(prepared, web.StreamResponse):
                return prepared
            knobs, fields, size = prepared
            return _form_answer(kind, knobs, fields, size)

        return handle

    azure = "/openai/deployments/{deployment}"
    return [
        web.post("/v1/audio/translations", form("translations")),
        web.post("/v1/images/edits", form("edits", "image")),
        web.post("/v1/images/variations", form("variations", "image")),
        web.post("/v1/completions", handler("completions", False)),
        web.post(f"{azure}/completions", handler("completions", True)),
        web.post("/v1/images/generations", handler("images", False)),
        web.post(f"{azure}/images/generations", handler("images", True)),
        web.post("/v1/audio/speech", handler("speech", False)),
        web.post("/v1/audio/transcriptions", form("transcriptions")),
        web.post("/v1/moderations", handler("moderations", False)),
        web.post("/v1/rerank", handler("rerank", False)),
        web.post("/v2/rerank", handler("rerank", False)),
    ]
