"""``POST /v1/audio/transcriptions`` (multipart upload, priced per second) and
``POST /v1/audio/speech`` (audio bytes answer, priced per input character); also without ``/v1``.
Both are lifecycle ``Endpoint`` values (``ledgerlm.proxy.lifecycle``): routing with retries, fallbacks
and cooldowns, admission, hooks, one spend row, failure rows and cancellation as on chat.

Formats: OpenAI API reference ("Audio"). OpenAI-compatible deployments (OpenAI, Azure, Groq ...).

* transcriptions: the form is read by ``body_readers.read_form``; its ``file`` is forwarded with the
  other fields (``model`` set to the deployment's); the file never enters a log or callback. Admission
  reserves the file's worst case (``pricing.audio_worst``: its duration from a WAV header, else its
  size at 6 kbit/s, x the per-second rate). Priced by the answer's duration (``usage.seconds`` or
  ``verbose_json``'s ``duration``) at the per-second rate, or by tokens when the answer reports tokens
  (gpt-4o-transcribe). ``text`` / ``srt`` / ``vtt`` answers report no duration: the call is then
  logged "unpriced" with the reason; call type ``atranscription``;
* speech: ``input`` characters x the per-character rate (tts-1, tts-1-hd); the audio is returned as
  the provider sent it; call type ``aspeech``.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from ledgerlm import engine
from ledgerlm.errors import BadRequestError
from ledgerlm.pricing.audio_worst import transcription_worst_case
from ledgerlm.pricing.unit_prices import UnitPrice, unit_rates
from ledgerlm.providers.openai.endpoints import BINARY_RESPONSE, UPLOAD_KEY
from ledgerlm.proxy.body_readers import read_form
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints.upstreams import flagged, openai_compatible, unsupported
from ledgerlm.proxy.http import error_response
from ledgerlm.proxy.lifecycle import Endpoint, Reply, Upstream, inference_route
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


def _transcription_upstream(call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
    deployment = call.deployment
    assert deployment is not None
    if not openai_compatible(deployment):
        raise unsupported(deployment, "audio transcription", "an openai/, azure/ or groq/ whisper model")
    upload = call.attachments["file"]
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
    worst = transcription_worst_case(deployment.provider, deployment.model, upload[1])
    copy = flagged(deployment, "audio/transcriptions", price, **extra)
    return Upstream(copy, fields, native=True, worst_case=worst)


def _text_or_json(call: ProxyCall, upstream: Upstream, result: Any) -> Reply:
    media = "text/plain" if call.body.get("response_format") in _TEXT_FORMATS else "application/json"
    return Reply(result.raw or b"", media_type=media)


def _speech_upstream(call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
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
    return Upstream(flagged(deployment, "audio/speech", price, **{BINARY_RESPONSE: marker}), admitted, True)


def _audio(call: ProxyCall, upstream: Upstream, result: Any) -> Reply:
    media = _AUDIO_TYPES.get(str(call.body.get("response_format") or "mp3"), "application/octet-stream")
    return Reply(result.raw or b"", media_type=media)


TRANSCRIPTIONS = Endpoint(
    call_type="atranscription",
    need="file",
    call=engine.chat,
    encode=_text_or_json,
    error=error_response,
    prepare=_transcription_upstream,
    read=read_form,
    name="transcriptions",
)
SPEECH = Endpoint(
    call_type="aspeech",
    need="input",
    call=engine.chat,
    encode=_audio,
    error=error_response,
    prepare=_speech_upstream,
    name="speech",
)

transcriptions = inference_route(TRANSCRIPTIONS)
speech = inference_route(SPEECH)


def routes() -> list[Route]:
    """The audio routes, with and without ``/v1``."""
    out: list[Route] = []
    for prefix in ("/v1", ""):
        out.append(Route(f"{prefix}/audio/transcriptions", transcriptions, methods=["POST"]))
        out.append(Route(f"{prefix}/audio/speech", speech, methods=["POST"]))
    return out
