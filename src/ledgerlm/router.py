"""Router: from what a caller asks for (a model string or a model group) to a ``Deployment``.

* ``resolve_deployment(model, api_key=..., api_base=..., api_version=...)``: the SDK path; parses the
  model string (``provider/model``, see ``ledgerlm.providers.split_model``), checks ``api_base`` and
  caches the deployment per arguments so its price is compiled once.

Model groups, strategies, retries, fallbacks and cooldowns live in ``ledgerlm.routing`` (one router for
the SDK and the proxy).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ledgerlm.errors import BadRequestError
from ledgerlm.providers import get_provider, split_model
from ledgerlm.providers.base import Deployment

__all__ = ["resolve_deployment", "validate_api_base"]

_CACHE_LIMIT = 256
_cache: dict[tuple[str, str | None, str | None, str | None], Deployment] = {}


def validate_api_base(api_base: str | None) -> str | None:
    """``api_base`` unchanged when it is an absolute ``http(s)://host[...]`` URL (or ``None``).

    Raises ``BadRequestError`` (param ``api_base``) otherwise, saying what a valid one looks like.
    """
    if api_base is None:
        return None
    try:
        parts = urlsplit(api_base)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        if valid:
            _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        valid = False
    if not valid:
        raise BadRequestError(
            f"invalid api_base {api_base!r}: expected an absolute http(s) URL such as "
            "'https://api.example.com/v1'",
            param="api_base",
        )
    return api_base


def resolve_deployment(
    model: str,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
) -> Deployment:
    """The deployment for an SDK call on ``model`` (``provider/model``).

    Raises ``UnsupportedProviderError`` (unknown or ambiguous provider) or ``BadRequestError``
    (invalid ``api_base``). The same arguments return the same ``Deployment`` object (its price is
    compiled on first use and kept).
    """
    key = (model, api_key, api_base, api_version)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    provider, provider_model = split_model(model)
    get_provider(provider)
    deployment = Deployment(
        provider=provider,
        model=provider_model,
        api_base=validate_api_base(api_base),
        api_key=api_key,
        api_version=api_version,
        model_group=model,
    )
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()
    _cache[key] = deployment
    return deployment
