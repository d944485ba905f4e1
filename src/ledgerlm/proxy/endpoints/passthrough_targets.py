"""Where a pass-through request goes, per provider: upstream URL, credential headers and the model
the call is priced as. Pure (no I/O). Paths are LiteLLM's pass-through paths
(https://docs.litellm.ai/docs/pass_through/intro): the provider's own path after the prefix.

============ ============================================== ===========================================
prefix       upstream (default, or the deployment's api_base) model priced
============ ============================================== ===========================================
/openai      https://api.openai.com/{path}                   body ``model``
/anthropic   https://api.anthropic.com/{path}                body ``model``
/gemini      https://generativelanguage.googleapis.com/{path} path ``models/{model}:...``
/vertex_ai   https://{location}-aiplatform.googleapis.com/{path} path ``.../models/{model}:...``
/bedrock     https://bedrock-runtime.{region}.amazonaws.com/{path} path ``model/{model id}/...``
============ ============================================== ===========================================

The credentials are those of the config's first deployment of that provider (the one whose model
matches, when one does), else the provider's environment variables; the caller's own key is never
forwarded. Bedrock requests are signed with SigV4 over the forwarded body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from yarl import URL

from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment

__all__ = ["PREFIXES", "model_of", "target_headers", "target_url", "upstream_deployment"]

PREFIXES: Mapping[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "vertex_ai": "vertex_ai",
    "bedrock": "bedrock",
}
"""URL prefix -> provider registry name."""

_DEFAULT_ROOTS = {
    "openai": "https://api.openai.com",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}
_GOOGLE_MODEL = re.compile(r"models/([^/:]+)")
_VERTEX_LOCATION = re.compile(r"locations/([^/]+)")
_BEDROCK_MODEL = re.compile(r"model/([^/]+)/")
_FORWARDED_HEADERS = ("content-type", "accept", "anthropic-version", "anthropic-beta", "openai-beta")


def model_of(provider: str, path: str, body: Any) -> str | None:
    """The model the call is priced as (see the module table), or ``None``."""
    if provider in ("openai", "anthropic"):
        model = body.get("model") if isinstance(body, dict) else None
        return str(model) if model else None
    pattern = _BEDROCK_MODEL if provider == "bedrock" else _GOOGLE_MODEL
    found = pattern.search(path)
    return unquote(found.group(1)) if found else None


def upstream_deployment(provider: str, model: str | None, deployments: Iterable[Deployment]) -> Deployment:
    """The config deployment whose credentials are used (see the module docstring), as a copy naming
    ``model``; a bare one (environment credentials) when the config has none of ``provider``."""
    candidates = [d for d in deployments if d.provider == provider]
    chosen = next((d for d in candidates if model and d.model.split("/")[-1] == model), None)
    chosen = chosen or (candidates[0] if candidates else None)
    if chosen is None:
        return Deployment(provider=provider, model=model or "unknown", model_group=model)
    same_model = model is None or chosen.model.split("/")[-1] == model
    return Deployment(
        provider=provider,
        model=chosen.model if same_model else model or chosen.model,
        api_base=chosen.api_base,
        api_key=chosen.api_key,
        api_version=chosen.api_version,
        model_group=chosen.model_group if same_model else model,
        deployment_id=chosen.deployment_id if same_model else None,
        extra=dict(chosen.extra),
        price=chosen.price if same_model else None,
        timeout=chosen.timeout,
    )


def _root(provider: str, deployment: Deployment, path: str) -> str:
    base = (deployment.api_base or "").rstrip("/")
    if provider == "vertex_ai" and not base:
        location = _VERTEX_LOCATION.search(path)
        region = location.group(1) if location else "us-central1"
        return (
            "https://aiplatform.googleapis.com"
            if region == "global"
            else f"https://{region}-aiplatform.googleapis.com"
        )
    if provider == "bedrock" and not base:
        region = get_provider("bedrock").region(deployment)  # type: ignore[attr-defined]
        return f"https://bedrock-runtime.{region}.amazonaws.com"
    if not base:
        return _DEFAULT_ROOTS[provider]
    for suffix in ("/v1beta", "/v1"):  # the client's path carries its own version
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def target_url(provider: str, deployment: Deployment, path: str, query: str) -> str:
    """The upstream URL for ``path`` (after the prefix) and the client's ``query`` (its ``key``
    parameter, the caller's proxy key for Gemini clients, removed)."""
    kept = "&".join(p for p in query.split("&") if p and not p.startswith("key="))
    url = f"{_root(provider, deployment, path)}/{path.lstrip('/')}"
    url = f"{url}?{kept}" if kept else url
    # normalised the way aiohttp (yarl) sends it, so a SigV4 signature covers the URI the server sees
    return str(URL(url, encoded=False)) if provider == "bedrock" else url


def target_headers(
    provider: str,
    deployment: Deployment,
    client_headers: Mapping[str, str],
    url: str,
    body: bytes,
    method: str,
) -> dict[str, str]:
    """Upstream headers: the client's content headers plus the deployment's credentials."""
    headers = {k: client_headers[k] for k in _FORWARDED_HEADERS if k in client_headers}
    impl: Any = get_provider(provider)
    if provider == "openai":
        key = impl.api_key(deployment)
        if key:
            headers["authorization"] = f"Bearer {key}"
    elif provider == "anthropic":
        creds = impl.headers(deployment)
        headers["x-api-key"] = creds["x-api-key"]
        headers.setdefault("anthropic-version", creds["anthropic-version"])
    elif provider in ("gemini", "vertex_ai"):
        headers.update(impl.auth_headers(deployment))
    elif provider == "bedrock":
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(impl.credentials(deployment), "bedrock", impl.region(deployment)).add_auth(request)
        headers = {str(k): str(v) for k, v in request.headers.items()}
    return headers
