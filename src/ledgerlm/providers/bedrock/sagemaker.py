"""AWS SageMaker endpoints (``sagemaker/{endpoint name}``), on the Bedrock provider's SigV4 code.

Request (LiteLLM's ``sagemaker/`` format, the Hugging Face TGI container's API):
``POST {host}/endpoints/{endpoint}/invocations`` with ``{"inputs": prompt, "parameters":
{"max_new_tokens", "temperature", "top_p", "stop", "details": true, "decoder_input_details": true}}``,
signed with SigV4 (service ``sagemaker``) by the same credentials code as Bedrock (``extra``
``aws_access_key_id`` / ``aws_secret_access_key`` / ``aws_session_token`` / ``aws_profile_name``, or
botocore's chain). Host: ``https://runtime.sagemaker.{region}.amazonaws.com`` unless ``api_base``;
region from ``aws_region_name``, ``AWS_REGION``, else ``us-east-1``. The prompt is the messages as
``role: content`` lines followed by ``assistant:``.

Answer: ``[{"generated_text", "details": {"generated_tokens", "prefill": [...]}}]``; usage is
``len(prefill)`` input and ``generated_tokens`` output tokens; without ``details`` it is estimated
(~4 characters per token) and marked ``{"ledgerlm_estimated": true}``.

Streaming: ``POST {host}/endpoints/{endpoint}/invocations-response-stream``
(InvokeEndpointWithResponseStream) with ``"stream": true`` in the body (TGI's streaming switch; no
``decoder_input_details``, which TGI refuses on a stream); the answer is decoded by
``bedrock.sagemaker_stream.SageMakerStreamDecoder`` (input tokens estimated, output from ``details``).
Errors: Bedrock's error mapping (``{"message"}``, ``x-amzn-errortype``; stream exception frames).
Pricing per second of call (``cost_per_second``/``input_cost_per_second``) is the pricing module's
(``ledgerlm.pricing.per_second``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from ledgerlm.errors import APIError
from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment, HTTPRequest, Provider, StreamDecoder
from ledgerlm.providers.bedrock import bedrock_error
from ledgerlm.providers.bedrock.sagemaker_stream import SageMakerStreamDecoder
from ledgerlm.types import Usage

__all__ = ["SageMakerProvider"]


def _prompt(messages: Any) -> str:
    lines = []
    for message in messages or ():
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
        lines.append(f"{message.get('role', 'user')}: {content or ''}")
    return "\n".join([*lines, "assistant:"])


def _first(body: Any) -> Mapping[str, Any]:
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        return body[0]
    return body if isinstance(body, Mapping) else {}


class SageMakerProvider(Provider):
    """SageMaker TGI endpoints (see the module docstring)."""

    name = "sagemaker"
    api_key_env = ()

    def region(self, deployment: Deployment) -> str:
        """The AWS region of the endpoint."""
        configured = deployment.extra.get("aws_region_name") or os.environ.get("AWS_REGION")
        return str(configured or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")

    def build_chat_request(
        self, deployment: Deployment, params: Mapping[str, Any], *, stream: bool
    ) -> HTTPRequest:
        """The signed ``invocations`` (or ``invocations-response-stream``) request for an OpenAI chat
        body."""
        parameters: dict[str, Any] = {"details": True}
        if not stream:
            parameters["decoder_input_details"] = True
        names = {
            "max_tokens": "max_new_tokens",
            "temperature": "temperature",
            "top_p": "top_p",
            "stop": "stop",
        }
        for given, sent in names.items():
            if params.get(given) is not None:
                parameters[sent] = params[given]
        payload: dict[str, Any] = {"inputs": _prompt(params.get("messages")), "parameters": parameters}
        if stream:
            payload["stream"] = True
        body = orjson.dumps(payload)
        host = deployment.api_base or f"https://runtime.sagemaker.{self.region(deployment)}.amazonaws.com"
        action = "invocations-response-stream" if stream else "invocations"
        url = f"{host.rstrip('/')}/endpoints/{quote(deployment.model, safe='')}/{action}"
        accept = "application/vnd.amazon.eventstream" if stream else "application/json"
        headers = {"content-type": "application/json", "accept": accept}
        request = AWSRequest(method="POST", url=url, data=body, headers=headers)
        credentials = get_provider("bedrock").credentials(deployment)  # type: ignore[attr-defined]
        SigV4Auth(credentials, "sagemaker", self.region(deployment)).add_auth(request)
        return HTTPRequest("POST", url, {str(k): str(v) for k, v in request.headers.items()}, body)

    def parse_chat_response(self, deployment: Deployment, body: Any) -> dict[str, Any]:
        """An OpenAI ``chat.completion`` for the TGI answer."""
        first = _first(body)
        usage = self.usage_from_body(body)
        return {
            "id": f"sagemaker-{deployment.model}",
            "object": "chat.completion",
            "model": deployment.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": str(first.get("generated_text") or "")},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage.to_openai(),
        }

    def usage_from_body(self, body: Any) -> Usage:
        """Tokens from ``details`` (exact), else estimated from the text (see the module docstring)."""
        first = _first(body)
        details = first.get("details")
        if isinstance(details, Mapping) and "generated_tokens" in details:
            prefill = details.get("prefill")
            return Usage(
                input_tokens=len(prefill) if isinstance(prefill, list) else 0,
                output_tokens=int(details.get("generated_tokens") or 0),
                raw={k: v for k, v in details.items() if k != "tokens"},
            )
        text = str(first.get("generated_text") or "")
        return Usage(output_tokens=math.ceil(len(text) / 4), raw={"ledgerlm_estimated": True})

    def stream_decoder(self, deployment: Deployment, *, caller_wants_usage: bool) -> StreamDecoder:
        """The event-stream decoder (see the module docstring)."""

        def on_error(kind: str, payload: Any) -> APIError:
            error = bedrock_error(500, payload, model=deployment.model, exception_type=kind)
            error.provider = self.name
            return error

        return SageMakerStreamDecoder(deployment.model, on_error)

    def error_from_response(
        self, deployment: Deployment, status: int, body: bytes, headers: Mapping[str, str]
    ) -> APIError:
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = body.decode("utf-8", "replace")
        error = bedrock_error(status, parsed, model=deployment.model, headers=headers)
        error.provider = self.name
        return error
