"""More OpenAI-compatible providers, as LiteLLM names them (its provider list), each a ``Preset`` row:
``(name, default base URL, key variables, key required, base URL variables, stream usage option)``.

Base URLs and key variables are from each provider's "OpenAI compatibility" documentation and
LiteLLM's provider pages. An empty default URL means the server is the user's own (``api_base`` or
the variable is required, and its absence is a clear error naming them).
"""

from __future__ import annotations

__all__ = ["MORE_PRESETS"]

MORE_PRESETS: tuple[tuple[str, str, tuple[str, ...], bool, tuple[str, ...], bool], ...] = (
    (
        "text-completion-openai",
        "https://api.openai.com/v1",
        ("OPENAI_API_KEY",),
        True,
        ("OPENAI_BASE_URL",),
        True,
    ),
    ("azure_ai", "", ("AZURE_AI_API_KEY",), True, ("AZURE_AI_API_BASE",), True),
    ("cohere", "https://api.cohere.ai/compatibility/v1", ("COHERE_API_KEY", "CO_API_KEY"), True, (), False),
    (
        "perplexity",
        "https://api.perplexity.ai",
        ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
        True,
        (),
        False,
    ),
    ("cerebras", "https://api.cerebras.ai/v1", ("CEREBRAS_API_KEY",), True, (), True),
    (
        "nvidia_nim",
        "https://integrate.api.nvidia.com/v1",
        ("NVIDIA_NIM_API_KEY",),
        True,
        ("NVIDIA_NIM_API_BASE",),
        True,
    ),
    ("databricks", "", ("DATABRICKS_API_KEY",), True, ("DATABRICKS_API_BASE",), True),
    ("lm_studio", "http://localhost:1234/v1", ("LM_STUDIO_API_KEY",), False, ("LM_STUDIO_API_BASE",), True),
    ("openai_like", "", ("OPENAI_LIKE_API_KEY",), False, (), True),
    ("deepinfra", "https://api.deepinfra.com/v1/openai", ("DEEPINFRA_API_KEY",), True, (), True),
    ("sambanova", "https://api.sambanova.ai/v1", ("SAMBANOVA_API_KEY",), True, (), True),
    ("hyperbolic", "https://api.hyperbolic.xyz/v1", ("HYPERBOLIC_API_KEY",), True, (), True),
    ("nebius", "https://api.studio.nebius.ai/v1", ("NEBIUS_API_KEY",), True, (), True),
    ("moonshot", "https://api.moonshot.ai/v1", ("MOONSHOT_API_KEY",), True, (), True),
    (
        "dashscope",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        ("DASHSCOPE_API_KEY",),
        True,
        (),
        True,
    ),
    ("github", "https://models.inference.ai.azure.com", ("GITHUB_API_KEY",), True, (), True),
    ("llamafile", "http://127.0.0.1:8080/v1", ("LLAMAFILE_API_KEY",), False, ("LLAMAFILE_API_BASE",), True),
    ("jina_ai", "https://api.jina.ai/v1", ("JINA_AI_API_KEY",), True, (), True),
    ("voyage", "https://api.voyageai.com/v1", ("VOYAGE_API_KEY",), True, (), True),
    (
        "friendliai",
        "https://api.friendli.ai/serverless/v1",
        ("FRIENDLI_TOKEN", "FRIENDLIAI_API_KEY"),
        True,
        (),
        True,
    ),
    ("codestral", "https://codestral.mistral.ai/v1", ("CODESTRAL_API_KEY",), True, (), False),
    ("litellm_proxy", "", ("LITELLM_PROXY_API_KEY",), False, ("LITELLM_PROXY_API_BASE",), True),
    ("nscale", "https://inference.api.nscale.com/v1", ("NSCALE_API_KEY",), True, (), True),
    ("featherless_ai", "https://api.featherless.ai/v1", ("FEATHERLESS_AI_API_KEY",), True, (), True),
    ("novita", "https://api.novita.ai/v3/openai", ("NOVITA_API_KEY",), True, (), True),
    ("lambda_ai", "https://api.lambda.ai/v1", ("LAMBDA_API_KEY",), True, (), True),
    ("meta_llama", "https://api.llama.com/compat/v1", ("LLAMA_API_KEY",), True, (), True),
    ("vercel_ai_gateway", "https://ai-gateway.vercel.sh/v1", ("VERCEL_AI_GATEWAY_API_KEY",), True, (), True),
)
