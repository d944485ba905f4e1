"""The AWS wire formats signed with SigV4: Bedrock Runtime (``bedrock/...``) and SageMaker endpoints.

Modules: ``provider`` (``BedrockProvider``: routes, regions, errors), ``request`` (Converse and
InvokeModel bodies), ``response`` (bodies and the binary event stream -> OpenAI format), ``sagemaker``
(``SageMakerProvider``: TGI endpoints on the same signing and errors).
"""

from ledgerlm.providers.bedrock.provider import (
    REGION_PREFIXES,
    BedrockProvider,
    base_model_id,
    bedrock_error,
    split_route,
)

__all__ = ["REGION_PREFIXES", "BedrockProvider", "base_model_id", "bedrock_error", "split_route"]
