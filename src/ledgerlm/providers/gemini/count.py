"""The Gemini / Vertex AI ``models.countTokens`` request body (Google Gemini API reference
"countTokens": ``{"generateContentRequest": {...}}`` on AI Studio, the generate body's ``contents``,
``systemInstruction`` and ``tools`` on Vertex AI), built from an Anthropic Messages body. The answer
side is ``ledgerlm.providers.count_tokens``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgerlm.providers.anthropic.from_openai import openai_request
from ledgerlm.providers.gemini.request import gemini_request_body

__all__ = ["gemini_count_body"]


def gemini_count_body(model: str, body: Mapping[str, Any], *, vertex: bool) -> dict[str, Any]:
    """The ``countTokens`` body for a Messages ``body`` (see the module docstring)."""
    generate = gemini_request_body(openai_request(body))
    kept = {k: v for k, v in generate.items() if k in ("contents", "systemInstruction", "tools")}
    if vertex:
        return kept
    return {"generateContentRequest": {"model": f"models/{model}", **kept}}
