"""The Anthropic Messages wire format (``anthropic/claude-...``).

Modules: ``provider`` (``AnthropicProvider``: URLs, headers, errors), ``request`` (OpenAI chat body ->
Messages body), ``response`` (Messages body and stream events -> OpenAI format), ``from_openai`` (the
reverse, for the proxy's ``/v1/messages`` served by any provider).
"""

from ledgerlm.providers.anthropic.provider import (
    ANTHROPIC_VERSION,
    COUNT_TOKENS_FLAG,
    NATIVE_FLAG,
    AnthropicProvider,
    AnthropicSSEDecoder,
    anthropic_error,
    messages_url,
    resolve_api_key,
    retry_after_seconds,
)

__all__ = [
    "ANTHROPIC_VERSION",
    "COUNT_TOKENS_FLAG",
    "NATIVE_FLAG",
    "AnthropicProvider",
    "AnthropicSSEDecoder",
    "anthropic_error",
    "messages_url",
    "resolve_api_key",
    "retry_after_seconds",
]
