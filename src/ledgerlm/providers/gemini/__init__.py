"""The Gemini wire format: Google AI Studio (``gemini/...``) and Vertex AI (``vertex_ai/...``).

Modules: ``provider`` (``GeminiProvider``, ``VertexProvider``: URLs, auth, errors), ``request``
(OpenAI chat body -> ``generateContent`` body), ``response`` (bodies and stream chunks -> OpenAI format),
``stream`` (the SSE stream decoder). Usage: ``ledgerlm.usage.gemini``.
"""

from ledgerlm.providers.gemini.provider import GeminiProvider, VertexProvider, gemini_error
from ledgerlm.providers.gemini.stream import GeminiSSEDecoder

__all__ = ["GeminiProvider", "GeminiSSEDecoder", "VertexProvider", "gemini_error"]
