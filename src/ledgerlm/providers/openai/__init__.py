"""The OpenAI wire format: OpenAI itself, Azure OpenAI and every OpenAI-compatible preset.

Modules: ``provider`` (``OpenAICompatibleProvider``, presets' registry), ``presets`` (more presets),
``azure`` (Azure OpenAI URLs and auth), ``endpoints`` (images, audio, moderations, rerank ... bodies),
``stream`` (chat-completions SSE decoder), ``responses`` (Responses API decoder and usage),
``responses_from_chat`` (the Responses API served by a chat-completions provider).
"""

from ledgerlm.providers.openai.provider import (
    PRESETS,
    OpenAICompatibleProvider,
    OpenAIProvider,
    Preset,
    preset_provider,
)

__all__ = ["PRESETS", "OpenAICompatibleProvider", "OpenAIProvider", "Preset", "preset_provider"]
