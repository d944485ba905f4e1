"""LiteLLM provider prefixes ledgerlm does not implement, each with the alternative to use.

Every other prefix of LiteLLM's provider list (``litellm.provider_list``) is a ledgerlm provider or an
alias of one (``ledgerlm.providers``). A deployment naming one of these fails at start with one line
naming the deployment, the provider and this alternative.
"""

from __future__ import annotations

__all__ = ["UNSUPPORTED_PREFIXES"]

_OPENAI_LIKE = "openai_like/<model> with api_base set to the server's OpenAI-compatible URL"

UNSUPPORTED_PREFIXES: dict[str, str] = {
    "replicate": _OPENAI_LIKE + " (or a provider hosting the same model)",
    "huggingface": _OPENAI_LIKE + " (Inference Endpoints / TGI serve /v1/chat/completions)",
    "clarifai": _OPENAI_LIKE + " (Clarifai's OpenAI-compatible endpoint)",
    "anthropic_text": "anthropic/<model> (the Messages API)",
    "ai21": "ai21 models on bedrock/<model id>",
    "ai21_chat": "ai21 models on bedrock/<model id>",
    "watsonx": _OPENAI_LIKE,
    "watsonx_text": _OPENAI_LIKE,
    "cloudflare": _OPENAI_LIKE + " (Workers AI's /ai/v1 endpoint)",
    "predibase": _OPENAI_LIKE,
    "triton": _OPENAI_LIKE + " (Triton's OpenAI-compatible frontend)",
    "nlp_cloud": _OPENAI_LIKE,
    "petals": _OPENAI_LIKE,
    "oobabooga": _OPENAI_LIKE + " (text-generation-webui's --api)",
    "palm": "gemini/<model>",
    "maritalk": _OPENAI_LIKE,
    "baseten": _OPENAI_LIKE + " (the model's /v1 URL)",
    "empower": _OPENAI_LIKE,
    "datarobot": _OPENAI_LIKE,
    "volcengine": _OPENAI_LIKE + " (Ark's /api/v3 endpoint)",
    "deepgram": "openai/whisper-1 (or groq/whisper-large-v3) for /v1/audio/transcriptions",
    "elevenlabs": "openai/tts-1 for /v1/audio/speech",
    "assemblyai": "openai/whisper-1 for /v1/audio/transcriptions",
    "infinity": _OPENAI_LIKE + " (infinity serves /embeddings)",
    "github_copilot": "github/<model> (GitHub Models)",
    "snowflake": _OPENAI_LIKE + " (Cortex's OpenAI-compatible endpoint)",
    "sagemaker_chat": "sagemaker/<endpoint> (TGI containers) or " + _OPENAI_LIKE,
    "bedrock_mantle": "bedrock/<model id>",
    "custom": _OPENAI_LIKE,
}
"""LiteLLM prefix -> the alternative named in the start-up error."""
