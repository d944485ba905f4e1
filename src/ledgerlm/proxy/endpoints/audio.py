"""``POST /v1/audio/transcriptions`` (multipart upload, priced per second) and
``POST /v1/audio/speech`` (audio bytes answer, priced per input character); also without ``/v1``.
They run on ``_glue.run`` (the lifecycle reads JSON bodies and answers JSON or SSE).

Formats: OpenAI API reference ("Audio"). OpenAI-compatible deployments (OpenAI, Azure, Groq ...).

* transcriptions: the form's ``file`` is forwarded with the other fields (``model`` set to the
  deployment's); the file never enters a log or callback. Priced by the answer's duration
  (``usage.seconds`` or ``verbose_json``'s ``duration``) at the per-second rate, or by tokens when the
  answer reports tokens (gpt-4o-transcribe). ``text`` / ``srt`` / ``vtt`` answers report no duration:
  the call is then logged "unpriced" with the reason; call type ``atranscription``;
* speech: ``input`` characters x the per-character rate (tts-1, tts-1-hd); the audio is returned as
  the provider sent it; call type ``aspeech``.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm import engine
from ledgerlm.errors import BadRequestError, RequestTooLargeError
from ledgerlm.pricing.unit_prices import UnitPrice, unit_rates
from ledgerlm.providers.openai.endpoints import BINARY_RESPONSE, UPLOAD_KEY
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints._glue import Plan, RawEndpoint, flagged, openai_compatible, run, unsupported
from ledgerlm.proxy.http import read_json_body
from ledgerlm.usage.media import speech_marker

__all__ = ["SPEECH", "TRANSCRIPTIONS", "routes", "speech", "transcriptions"]

_TEXT_FORMATS = {"text", "srt", "vtt"}
_AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


async def _form(request: Request, call: ProxyCall) -> dict[str, Any]:
    """The form fields as a body (``file`` -> its name); the file itself kept on the call."""
    length = request.headers.get("content-length")
    limit = call.state.max_body_bytes
    if length is not None and length.isdigit() and int(length) > limit:
        raise RequestTooLargeError(f"request body over {limit} bytes", code="request_too_large")
    try:
        form = await request.form()
    except Exception as exc:  # not multipart, or a broken one
        raise BadRequestError(f"send multipart/form-data with a 'file' part ({exc})", param="file") from None
    body: dict[str, Any] = {}
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                kind = value.content_type or "application/octet-stream"
                request.state.ledgerlm_upload = (value.filename or "audio", data, kind)
                body["file"] = value.filename or "audio"
            elif name.endswith("[]"):
                body.setdefault(name, []).append(value)
            else:
                body[name] = value
    finally:
        await form.close()
    override = getattr(request.state, "model_override", None)
    if override:
        body["model"] = override  # Azure path: /openai/deployments/{deployment}/audio/transcriptions
    if "file" not in body:
        raise BadRequestError("'file' is required (a multipart file part)", param="file")
    return body


def _transcription_plan(call: ProxyCall, admitted: dict[str, Any]) -> Plan:
    deployment = call.deployment
    assert deployment is not None
    if not openai_compatible(deployment):
        raise unsupported(deployment, "audio transcription", "an openai/, azure/ or groq/ whisper model")
    upload = call.request.state.ledgerlm_upload
    fields = {k: v for k, v in admitted.items() if k != "file"}
    price = UnitPrice(
        engine.compiled_price(deployment),
        unit_rates(deployment.provider, deployment.model),
        model=deployment.model,
        token_first=True,
    )
    extra: dict[str, Any] = {UPLOAD_KEY: upload}
    if admitted.get("response_format") in _TEXT_FORMATS:
        extra[BINARY_RESPONSE] = {"object": "audio.transcription", "text": ""}
    return Plan(flagged(deployment, "audio/transcriptions", price, **extra), fields, encode=_text_or_json)


async def _text_or_json(call: ProxyCall, result: Any) -> Response:
    headers = call.headers(result.record, result.cost.total)
    fmt = call.body.get("response_format")
    media = "text/plain" if fmt in _TEXT_FORMATS else "application/json"
    return Response(result.raw or b"", media_type=media, headers=headers)


def _speech_plan(call: ProxyCall, admitted: dict[str, Any]) -> Plan:
    deployment = call.deployment
    assert deployment is not None
    if not openai_compatible(deployment):
        raise unsupported(deployment, "text to speech", "an openai/ or azure/ tts model")
    text = admitted.get("input")
    if not isinstance(text, str) or not text:
        raise BadRequestError("'input' must be a non-empty string", param="input")
    if admitted.get("stream_format") == "sse":
        raise BadRequestError(
            "stream_format 'sse' is not supported by this proxy; use 'audio'", param="stream_format"
        )
    price = UnitPrice(None, unit_rates(deployment.provider, deployment.model), model=deployment.model)
    marker = speech_marker(len(text))
    return Plan(
        flagged(deployment, "audio/speech", price, **{BINARY_RESPONSE: marker}), admitted, encode=_audio
    )


async def _audio(call: ProxyCall, result: Any) -> Response:
    headers = call.headers(result.record, result.cost.total)
    media = _AUDIO_TYPES.get(str(call.body.get("response_format") or "mp3"), "application/octet-stream")
    return Response(result.raw or b"", media_type=media, headers=headers)


async def _json(request: Request, call: ProxyCall) -> dict[str, Any]:
    body: dict[str, Any] = await read_json_body(request, call.state.max_body_bytes)
    return body


TRANSCRIPTIONS = RawEndpoint("atranscription", "file", _form, _transcription_plan)
SPEECH = RawEndpoint("aspeech", "input", _json, _speech_plan)


async def transcriptions(request: Request) -> Response:
    """``POST /v1/audio/transcriptions``."""
    return await run(request, TRANSCRIPTIONS)


async def speech(request: Request) -> Response:
    """``POST /v1/audio/speech``."""
    return await run(request, SPEECH)


def routes() -> list[Route]:
    """The audio routes, with and without ``/v1``."""
    out: list[Route] = []
    for prefix in ("/v1", ""):
        out.append(Route(f"{prefix}/audio/transcriptions", transcriptions, methods=["POST"]))
        out.append(Route(f"{prefix}/audio/speech", speech, methods=["POST"]))
    return out
