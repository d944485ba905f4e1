"""The AWS wire formats signed with SigV4: Bedrock Runtime (``bedrock/...``) and SageMaker endpoints.

Modules: ``provider`` (``BedrockProvider``: routes, regions, errors), ``request`` (Converse and
InvokeModel bodies), ``response`` (bodies and stream events -> OpenAI format), ``stream`` (the binary
event stream decoder), ``sagemaker`` (``SageMakerProvider``: TGI endpoints on the same signing and
errors). Usage: ``ledgerlm.usage.bedrock``.
"""

from ledgerlm.providers.bedrock.provider import (
    REGION_PREFIXES,
    BedrockProvider,
    base_model_id,
    bedrock_error,
    split_route,
)
from ledgerlm.providers.bedrock.stream import BedrockEventStreamDecoder

__all__ = [
    "REGION_PREFIXES",
    "BedrockEventStreamDecoder",
    "BedrockProvider",
    "base_model_id",
    "bedrock_error",
    "split_route",
]
