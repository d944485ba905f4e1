"""Azure OpenAI: the OpenAI wire format behind Azure's deployment URLs.

Per the Azure OpenAI data-plane reference
(https://learn.microsoft.com/azure/ai-services/openai/reference):

* URL ``{endpoint}/openai/deployments/{deployment}/chat/completions?api-version={version}`` (and
  ``/embeddings``); the model string's name is the DEPLOYMENT name (``azure/my-gpt4o``);
* key in the ``api-key`` header (``AZURE_API_KEY`` or ``AZURE_OPENAI_API_KEY``);
* endpoint from ``api_base`` or ``AZURE_API_BASE`` / ``AZURE_OPENAI_ENDPOINT``; version from
  ``api_version`` or ``AZURE_API_VERSION`` / ``OPENAI_API_VERSION``, default ``DEFAULT_API_VERSION``;
* responses carry content-filter fields (``prompt_filter_results``, ``choices[].content_filter_results``)
  which are kept unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import quote

from ledgerlm.errors import BadRequestError
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.openai import OpenAICompatibleProvider, Preset

__all__ = ["DEFAULT_API_VERSION", "AzureOpenAIProvider"]

DEFAULT_API_VERSION = "2024-10-21"
"""The latest GA data-plane version at the time of writing."""

_BASE_ENV = ("AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT")
_VERSION_ENV = ("AZURE_API_VERSION", "OPENAI_API_VERSION")


class AzureOpenAIProvider(OpenAICompatibleProvider):
    """Azure OpenAI deployments (chat completions, embeddings)."""

    name = "azure"
    preset = Preset("azure", "", ("AZURE_API_KEY", "AZURE_OPENAI_API_KEY"), True, _BASE_ENV)
    api_key_env = preset.api_key_env

    def api_base(self, deployment: Deployment) -> str:
        """The resource endpoint (``https://<resource>.openai.azure.com``); required."""
        base = super().api_base(deployment)
        if not base:
            raise BadRequestError(
                "Azure OpenAI needs the resource endpoint: pass api_base='https://<resource>.openai.azure.com'"
                " or set AZURE_API_BASE",
                provider=self.name,
                model=deployment.model,
                param="api_base",
            )
        return base

    def api_version(self, deployment: Deployment) -> str:
        """``api-version`` query value: the deployment's, else an env variable, else the default."""
        if deployment.api_version:
            return deployment.api_version
        for env in _VERSION_ENV:
            value = os.environ.get(env)
            if value:
                return value
        return DEFAULT_API_VERSION

    def headers(self, deployment: Deployment, extra: Mapping[str, str] | None) -> dict[str, str]:
        """JSON headers with the key in ``api-key`` (not ``Authorization``)."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = self.api_key(deployment)
        if key:
            headers["api-key"] = key
        configured = deployment.extra.get("headers")
        if configured:
            headers.update(configured)
        if extra:
            headers.update(extra)
        return headers

    def url(self, deployment: Deployment, path: str) -> str:
        """``{endpoint}/openai/deployments/{deployment}/{path}?api-version={version}``."""
        name = quote(deployment.model, safe="")
        version = quote(self.api_version(deployment), safe="")
        return f"{self.api_base(deployment)}/openai/deployments/{name}/{path}?api-version={version}"

    def responses_url(self, deployment: Deployment, suffix: str = "") -> str:
        """The v1 Responses API: ``{endpoint}/openai/v1/responses{suffix}`` (no ``api-version``);
        the body's ``model`` is the deployment name."""
        return f"{self.api_base(deployment)}/openai/v1/responses{suffix}"
