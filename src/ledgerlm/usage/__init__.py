"""Canonical usage mapping: every provider's usage object -> ``ledgerlm.types.Usage``.

Pure functions, no I/O. Canonical meaning (DESIGN.md section 3): ``input_tokens`` INCLUDES cache reads
and writes, ``output_tokens`` INCLUDES reasoning; the provider's usage is kept in ``Usage.raw``.

Public functions:

* ``usage_from_openai(usage, *, provider="openai", service_tier=None) -> Usage``: OpenAI family
  (chat completions, embeddings, stream usage chunk, Responses API), incl. DeepSeek, OpenRouter, xAI.
"""

from __future__ import annotations

from ledgerlm.usage.openai import usage_from_openai

__all__ = ["usage_from_openai"]
