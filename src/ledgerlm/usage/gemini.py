"""Gemini / Vertex AI ``usageMetadata`` (generateContent, streams, embeddings) -> ``Usage``.

Field names from the Gemini API reference (``UsageMetadata``) and Vertex AI (``trafficType``):

* ``promptTokenCount`` INCLUDES ``cachedContentTokenCount``; ``toolUsePromptTokenCount`` is reported
  beside it and is input too (``totalTokenCount = prompt + toolUsePrompt + candidates + thoughts``).
* ``thoughtsTokenCount`` is reported beside ``candidatesTokenCount``; output includes both.
* ``promptTokensDetails`` / ``candidatesTokensDetails`` / ``toolUsePromptTokensDetails``: per-modality
  counts (``AUDIO``, ``IMAGE``, ``TEXT``, ``VIDEO``, ``DOCUMENT``); audio and image are kept apart.
* Vertex ``trafficType`` (``ON_DEMAND``, ``ON_DEMAND_PRIORITY``, ``ON_DEMAND_FLEX``,
  ``PROVISIONED_THROUGHPUT``) or ``serviceTier`` -> ``Usage.service_tier``.
* Streams: each chunk's ``usageMetadata`` is cumulative; the last one is the call's usage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ledgerlm.types import Usage
from ledgerlm.usage._common import as_int, to_mapping

__all__ = ["GeminiStreamUsage", "usage_from_gemini", "usage_from_gemini_body", "usage_from_gemini_stream"]

_TRAFFIC_TIERS = {
    "ON_DEMAND": "standard",
    "ON_DEMAND_PRIORITY": "priority",
    "ON_DEMAND_FLEX": "flex",
    "PROVISIONED_THROUGHPUT": "provisioned",
}


def usage_from_gemini(usage_metadata: Mapping[str, Any] | Any, *, provider: str = "gemini") -> Usage:
    """Map a Gemini/Vertex ``usageMetadata`` object to canonical ``Usage`` (tokens).

    ``provider`` is ``"gemini"`` or ``"vertex_ai"`` (informational). Missing fields count 0.
    """
    raw = to_mapping(usage_metadata)
    prompt = as_int(raw.get("promptTokenCount"))
    tool_prompt = as_int(raw.get("toolUsePromptTokenCount"))
    thoughts = as_int(raw.get("thoughtsTokenCount"))
    prompt_modes = _modalities(raw, "promptTokensDetails", "promptTokenDetails")
    tool_modes = _modalities(raw, "toolUsePromptTokensDetails")
    out_modes = _modalities(raw, "candidatesTokensDetails")
    return Usage(
        input_tokens=prompt + tool_prompt,
        output_tokens=as_int(raw.get("candidatesTokenCount")) + thoughts,
        cache_read_tokens=min(prompt, as_int(raw.get("cachedContentTokenCount"))),
        reasoning_tokens=thoughts,
        input_audio_tokens=prompt_modes.get("AUDIO", 0) + tool_modes.get("AUDIO", 0),
        input_image_tokens=prompt_modes.get("IMAGE", 0) + tool_modes.get("IMAGE", 0),
        output_audio_tokens=out_modes.get("AUDIO", 0),
        output_image_tokens=out_modes.get("IMAGE", 0),
        service_tier=_service_tier(raw),
        raw=dict(raw),
    )


def _modalities(raw: Mapping[str, Any], *keys: str) -> dict[str, int]:
    """``{"AUDIO": n, ...}`` from a ``[{"modality", "tokenCount"}]`` list under the first key found."""
    out: dict[str, int] = {}
    for key in keys:
        items = raw.get(key)
        if isinstance(items, list):
            for item in items:
                entry = to_mapping(item)
                mode = str(entry.get("modality", "")).upper()
                out[mode] = out.get(mode, 0) + as_int(entry.get("tokenCount"))
            break
    return out


def _service_tier(raw: Mapping[str, Any]) -> str | None:
    tier = raw.get("serviceTier")
    if isinstance(tier, str) and tier:
        return tier.lower()
    traffic = raw.get("trafficType")
    if isinstance(traffic, str):
        return _TRAFFIC_TIERS.get(traffic.upper(), traffic.lower())
    return None


def usage_from_gemini_body(body: Mapping[str, Any], *, provider: str = "gemini") -> Usage | None:
    """The usage of a ``generateContent`` body (its ``usageMetadata``), or ``None`` when it has none."""
    raw = body.get("usageMetadata")
    return usage_from_gemini(raw, provider=provider) if isinstance(raw, Mapping) else None


class GeminiStreamUsage:
    """Keeps the last ``usageMetadata`` seen over parsed stream chunks; ``usage()`` maps it."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: Mapping[str, Any] | None = None

    def feed(self, chunk: Mapping[str, Any]) -> None:
        """Take one parsed chunk (a ``GenerateContentResponse`` dict)."""
        meta = chunk.get("usageMetadata")
        if isinstance(meta, Mapping) and meta:
            self._last = meta

    def usage(self, *, provider: str = "gemini") -> Usage | None:
        """The last chunk's usage, or ``None`` when no chunk carried ``usageMetadata``."""
        return None if self._last is None else usage_from_gemini(self._last, provider=provider)


def usage_from_gemini_stream(
    events: Iterable[Mapping[str, Any]], *, provider: str = "gemini"
) -> Usage | None:
    """The usage of a whole Gemini stream (parsed chunks), or ``None`` when none carried usage."""
    acc = GeminiStreamUsage()
    for event in events:
        acc.feed(event)
    return acc.usage(provider=provider)
