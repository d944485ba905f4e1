"""The Anthropic Messages wire format (``anthropic/claude-...``).

Modules: ``provider`` (``AnthropicProvider``: URLs, headers, errors), ``request`` (OpenAI chat body ->
Messages body), ``response`` (Messages body and stream events -> OpenAI format), ``stream`` (the SSE
stream decoder), ``from_openai`` (the reverse, for the proxy's ``/v1/messages`` served by any
provider). Usage: ``ledgerlm.usage.anthropic``.
"""

from ledgerlm.providers.anthropic.provider import (
    ANTHROPIC_VERSION,
    COUNT_TOKENS_FLAG,
    NATIVE_FLAG,
    AnthropicProvider,
    anthropic_error,
    messages_url,
    resolve_api_key,
    retry_after_seconds,
)
from ledgerlm.providers.anthropic.stream import AnthropicSSEDecoder

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
