"""AWS Bedrock Runtime provider (``bedrock/...``): Converse, ConverseStream and InvokeModel for Claude.

Model strings (the part after ``bedrock/``):

* ``{model id}`` or ``converse/{model id}``: Converse (``POST /model/{id}/converse``) or ConverseStream
  (``/converse-stream``), any Bedrock chat model;
* ``invoke/{model id}``: InvokeModel (``/invoke``, ``/invoke-with-response-stream``) with the Anthropic
  Messages body, for Claude models. With ``extra[NATIVE_FLAG]`` (the proxy's ``/v1/messages``) the call
  body is already an Anthropic request and the Anthropic body / events come back unchanged.

Model ids may carry a cross-region inference prefix (``us.``, ``eu.``, ``apac.``, ``global.``); they are
sent as they are. Region: ``extra["aws_region_name"]``, else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``,
else inferred from the prefix (``eu.`` -> ``eu-west-1``, ``apac.`` -> ``ap-northeast-1``, otherwise
``us-east-1``). The host is ``https://bedrock-runtime.{region}.amazonaws.com`` unless ``api_base``
overrides it (the tests point it at the simulator).

Auth: a Bedrock API key (``api_key`` or ``AWS_BEARER_TOKEN_BEDROCK``) as ``Authorization: Bearer``;
otherwise SigV4 (service ``bedrock``) signed by botocore with ``extra`` ``aws_access_key_id`` /
``aws_secret_access_key`` / ``aws_session_token``, or ``aws_profile_name``, or botocore's usual
credential chain (environment, shared files, SSO, container / instance roles).

Errors (Bedrock Runtime "Common Errors"): body ``{"message": ...}``, type in ``x-amzn-errortype``;
ValidationException 400, AccessDeniedException 403, ResourceNotFoundException 404,
ThrottlingException 429, ModelTimeoutException 408, InternalServerException 500,
ServiceUnavailableException 503, ModelNotReadyException 429.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.session import Session
from yarl import URL

from ledgerlm.errors import APIError, MissingAPIKeyError, error_for_status
from ledgerlm.providers.anthropic import NATIVE_FLAG, retry_after_seconds
from ledgerlm.providers.anthropic.response import openai_completion as anthropic_completion
from ledgerlm.providers.base import Deployment, HTTPRequest, Provider
from ledgerlm.providers.bedrock.count import bedrock_count_body
from ledgerlm.providers.bedrock.request import converse_body, invoke_anthropic_body, native_invoke_body
from ledgerlm.providers.bedrock.response import openai_completion
from ledgerlm.providers.count_tokens import count_answer, count_usage, is_count
from ledgerlm.types import Usage

__all__ = ["REGION_PREFIXES", "BedrockProvider", "base_model_id", "bedrock_error", "split_route"]

REGION_PREFIXES: dict[str, str] = {
    "us.": "us-east-1",
    "us-gov.": "us-gov-west-1",
    "eu.": "eu-west-1",
    "apac.": "ap-northeast-1",
    "jp.": "ap-northeast-1",
    "au.": "ap-southeast-2",
    "global.": "us-east-1",
}
"""Cross-region inference profile prefixes -> the source region used when none is configured."""

_EXCEPTION_STATUS: dict[str, int] = {
    "validationexception": 400,
    "accessdeniedexception": 403,
    "unrecognizedclientexception": 401,
    "resourcenotfoundexception": 404,
    "modeltimeoutexception": 408,
    "throttlingexception": 429,
    "servicequotaexceededexception": 429,
    "modelnotreadyexception": 429,
    "internalserverexception": 500,
    "modelstreamerrorexception": 500,
    "serviceunavailableexception": 503,
}


def split_route(model: str) -> tuple[str, str]:
    """``("converse" | "invoke", model id)`` from the deployment's model string."""
    route, sep, rest = model.partition("/")
    if sep and route in ("converse", "invoke"):
        return route, rest
    return "converse", model


def base_model_id(model: str) -> str:
    """The foundation-model id without route or cross-region prefix (for price lookup):
    ``invoke/us.anthropic.claude-3-5-haiku-20241022-v1:0`` -> ``anthropic.claude-3-5-haiku-20241022-v1:0``."""
    _, model_id = split_route(model)
    for prefix in REGION_PREFIXES:
        if model_id.startswith(prefix):
            return model_id[len(prefix) :]
    return model_id


def bedrock_error(
    status: int,
    body: Any,
    *,
    model: str | None,
    headers: Mapping[str, str] | None = None,
    exception_type: str | None = None,
) -> APIError:
    """Map a Bedrock error (HTTP status + parsed body, or an exception frame in a stream)."""
    headers = dict(headers or {})
    lowered = {k.lower(): v for k, v in headers.items()}
    kind = exception_type or lowered.get("x-amzn-errortype", "").split(":")[0]
    if exception_type:
        status = _EXCEPTION_STATUS.get(kind.lower(), status)
    message = body.get("message") or body.get("Message") if isinstance(body, Mapping) else body
    return error_for_status(status)(
        f"bedrock {kind or 'error'} ({status}): {message or f'HTTP {status}'}",
        provider="bedrock",
        model=model,
        body=body,
        request_id=lowered.get("x-amzn-requestid"),
        headers=headers,
        retry_after=retry_after_seconds(headers),
        code="model_not_found" if status == 404 else None,
    )


class BedrockProvider(Provider):
    """AWS Bedrock Runtime (see the module docstring for model strings, region and auth)."""

    name = "bedrock"
    api_key_env = ()
    default_api_base = None

    def __init__(self) -> None:
        self._sessions: dict[str | None, Session] = {}

    # -- request --------------------------------------------------------------------------------
    def region(self, deployment: Deployment) -> str:
        """The AWS region for the deployment (see the module docstring)."""
        configured = deployment.extra.get("aws_region_name") or os.environ.get("AWS_REGION")
        configured = configured or os.environ.get("AWS_DEFAULT_REGION")
        if configured:
            return str(configured)
        model_id = split_route(deployment.model)[1]
        return next((r for p, r in REGION_PREFIXES.items() if model_id.startswith(p)), "us-east-1")

    def url(self, deployment: Deployment, *, stream: bool) -> str:
        """``{host}/model/{model id}/{converse|converse-stream|invoke|invoke-with-response-stream}``
        (``count-tokens`` for a token count)."""
        route, model_id = split_route(deployment.model)
        host = deployment.api_base or f"https://bedrock-runtime.{self.region(deployment)}.amazonaws.com"
        if is_count(deployment.extra):
            action = "count-tokens"
        elif route == "invoke":
            action = "invoke-with-response-stream" if stream else "invoke"
        else:
            action = "converse-stream" if stream else "converse"
        # Normalised the way aiohttp (yarl) sends it (``%3A`` -> ``:``, ``%2F`` kept), so the SigV4
        # canonical URI that is signed is the one the server receives.
        return str(URL(f"{host.rstrip('/')}/model/{quote(model_id, safe='')}/{action}"))

    def build_chat_request(
        self, deployment: Deployment, params: Mapping[str, Any], *, stream: bool
    ) -> HTTPRequest:
        """Converse / InvokeModel request, signed (SigV4) or with a Bedrock API key."""
        route, _ = split_route(deployment.model)
        if is_count(deployment.extra):
            body = bedrock_count_body(route, params)
        elif route == "invoke" and deployment.extra.get(NATIVE_FLAG):
            body = native_invoke_body(params)
        else:
            body = invoke_anthropic_body(params) if route == "invoke" else converse_body(params)
        data = orjson.dumps(body)
        headers = {"content-type": "application/json", "accept": "application/json"}
        if stream:
            headers["accept"] = "application/vnd.amazon.eventstream"
        headers.update({str(k): str(v) for k, v in (params.get("extra_headers") or {}).items()})
        url = self.url(deployment, stream=stream)
        bearer = deployment.api_key or deployment.extra.get("aws_bearer_token")
        bearer = bearer or os.environ.get("AWS_BEARER_TOKEN_BEDROCK")
        if bearer:
            headers["authorization"] = f"Bearer {bearer}"
            return HTTPRequest("POST", url, headers, data)
        return HTTPRequest("POST", url, self._sign(deployment, url, headers, data), data)

    def _sign(self, deployment: Deployment, url: str, headers: dict[str, str], data: bytes) -> dict[str, str]:
        request = AWSRequest(method="POST", url=url, data=data, headers=headers)
        SigV4Auth(self.credentials(deployment), "bedrock", self.region(deployment)).add_auth(request)
        return {str(k): str(v) for k, v in request.headers.items()}

    def credentials(self, deployment: Deployment) -> Credentials:
        """AWS credentials: explicit in ``extra``, else botocore's chain (optionally a profile)."""
        extra = deployment.extra
        if extra.get("aws_access_key_id") and extra.get("aws_secret_access_key"):
            return Credentials(
                str(extra["aws_access_key_id"]),
                str(extra["aws_secret_access_key"]),
                extra.get("aws_session_token"),
            )
        profile = extra.get("aws_profile_name")
        session = self._sessions.get(profile)
        if session is None:
            session = Session(profile=profile)
            self._sessions[profile] = session
        found = session.get_credentials()
        if found is None:
            raise MissingAPIKeyError(
                "bedrock: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or aws_access_key_id / aws_secret_access_key in the deployment, or a profile)",
                provider=self.name,
                model=deployment.model,
            )
        frozen = found.get_frozen_credentials()
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)

    # -- response -------------------------------------------------------------------------------
    def parse_chat_response(self, deployment: Deployment, body: Mapping[str, Any]) -> dict[str, Any]:
        """Converse body -> OpenAI; an InvokeModel (Anthropic) body is recognised by its ``type``
        (returned unchanged in native mode); a token count answers ``{"input_tokens": n}``."""
        if is_count(deployment.extra):
            return count_answer(body)
        if deployment.extra.get(NATIVE_FLAG) and body.get("type") == "message":
            return dict(body)
        if body.get("type") == "message":
            return anthropic_completion(body, provider=self.name)
        return openai_completion(body, model=split_route(deployment.model)[1])

    def usage_from_body(self, body: Mapping[str, Any]) -> Usage:
        if set(body) == {"inputTokens"}:  # CountTokens: a free call
            return count_usage(body)
        return super().usage_from_body(body)

    def error_from_response(
        self, deployment: Deployment, status: int, body: bytes, headers: Mapping[str, str]
    ) -> APIError:
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = body.decode("utf-8", "replace")
        return bedrock_error(status, parsed, model=deployment.model, headers=headers)
