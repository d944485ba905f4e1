"""Usage of the calls billed per unit, read from the provider's answer -> ``Usage`` (units in
``Usage.raw[UNITS_KEY]``, tokens where the answer reports them).

Shapes (OpenAI API reference "Images", "Audio", "Moderations"; Cohere "Rerank v2"):

* image generation: ``{"created", "data": [...], "usage"?}``: one ``image`` unit per ``data`` item;
  gpt-image-1 adds token ``usage`` (``input_tokens``, ``output_tokens``,
  ``input_tokens_details.image_tokens``), mapped too;
* transcription: ``{"text", "usage": {"type": "duration", "seconds"}}`` (whisper-1) -> ``audio_second``;
  ``{"type": "tokens", "input_tokens", "output_tokens", "input_token_details.audio_tokens"}``
  (gpt-4o-transcribe) -> tokens; ``verbose_json``'s top-level ``duration`` (seconds) also counts;
* speech (the audio bytes carry no usage): the proxy passes ``{"object": "audio.speech",
  "characters": n}`` -> ``character``;
* moderation: ``{"id": "modr-...", "results": [...]}`` -> one free ``request``;
* rerank: ``{"results": [{"index", "relevance_score"}], "meta": {"billed_units": {"search_units"}}}``
  -> ``search`` (1 when the answer does not say);
* Anthropic token counting: ``{"input_tokens": n}`` alone -> one free ``request`` (``n`` is a count,
  not billed tokens).

``media_usage(body)`` returns ``None`` for any other body (chat, embeddings, responses).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ledgerlm.types import Usage
from ledgerlm.usage._common import as_int, sub

__all__ = ["UNITS_KEY", "media_usage", "speech_marker"]

UNITS_KEY = "ledgerlm_units"
"""Same key as ``ledgerlm.pricing.unit_prices.UNITS_KEY``."""


def speech_marker(characters: int) -> dict[str, Any]:
    """The body that stands for a speech answer (audio bytes) in the call pipeline."""
    return {"object": "audio.speech", "characters": characters}


def _units(raw: Mapping[str, Any], units: dict[str, Any], **tokens: Any) -> Usage:
    return Usage(raw={**raw, UNITS_KEY: units}).replace(**tokens)


def _images(body: Mapping[str, Any]) -> Usage:
    usage = sub(body, "usage")
    details = sub(usage, "input_tokens_details")
    return _units(
        dict(usage),
        {"image": len(body.get("data") or [])},
        input_tokens=as_int(usage.get("input_tokens")),
        output_tokens=as_int(usage.get("output_tokens")),
        input_image_tokens=as_int(details.get("image_tokens")),
        output_image_tokens=as_int(usage.get("output_tokens")),
    )


def _transcription(body: Mapping[str, Any]) -> Usage:
    usage = sub(body, "usage")
    if usage.get("type") == "tokens":
        details = sub(usage, "input_token_details")
        return Usage(
            input_tokens=as_int(usage.get("input_tokens")),
            output_tokens=as_int(usage.get("output_tokens")),
            input_audio_tokens=as_int(details.get("audio_tokens")),
            raw=dict(usage),
        )
    seconds = usage.get("seconds") if usage.get("type") == "duration" else body.get("duration")
    if seconds is None or isinstance(seconds, bool):
        return Usage(raw=dict(usage))  # no duration reported: unpriced, never $0
    return _units(dict(usage), {"audio_second": str(Decimal(str(seconds)))})


def media_usage(body: Mapping[str, Any]) -> Usage | None:
    """The usage of a per-unit call's answer, or ``None`` when ``body`` is not one (see above)."""
    if "choices" in body or body.get("object") in ("list", "response", "text_completion", "chat.completion"):
        return None
    if body.get("object") == "audio.speech":
        return _units({}, {"character": as_int(body.get("characters"))})
    results = body.get("results")
    if isinstance(results, list):
        if str(body.get("id", "")).startswith("modr"):
            return _units({}, {"request": 1})
        billed = sub(sub(body, "meta"), "billed_units")
        return _units(dict(billed), {"search": as_int(billed.get("search_units")) or 1})
    if isinstance(body.get("data"), list) and "created" in body:
        return _images(body)
    if isinstance(body.get("text"), str):
        return _transcription(body)
    if set(body) == {"input_tokens"}:
        return _units({}, {"request": 1})
    return None
