"""The Gemini wire format: Google AI Studio (``gemini/...``) and Vertex AI (``vertex_ai/...``).

Modules: ``provider`` (``GeminiProvider``, ``VertexProvider``: URLs, auth, errors), ``request``
(OpenAI chat body -> ``generateContent`` body), ``response`` (bodies and stream chunks -> OpenAI format).
"""

from ledgerlm.providers.gemini.provider import GeminiProvider, GeminiSSEDecoder, VertexProvider, gemini_error

__all__ = ["GeminiProvider", "GeminiSSEDecoder", "VertexProvider", "gemini_error"]
