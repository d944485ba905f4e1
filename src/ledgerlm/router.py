"""Router: from what a caller asks for (a model string or a model group) to a ``Deployment``.

* ``resolve_deployment(model, api_key=..., api_base=..., api_version=...)``: the SDK path; parses the
  model string (``provider/model``, see ``ledgerlm.providers.split_model``), checks ``api_base`` and
  caches the deployment per arguments so its price is compiled once.
* ``Router``: model groups (proxy ``model_list``) -> deployments, picked round-robin. The proxy builds
  it from its config and may replace it with a smarter strategy later.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from ledgerlm.errors import BadRequestError, NotFoundError
from ledgerlm.providers import get_provider, split_model
from ledgerlm.providers.base import Deployment

__all__ = ["Router", "resolve_deployment", "validate_api_base"]

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


class Router:
    """Model groups -> deployments, round-robin within a group.

    ``Router({"gpt-4o": [dep1, dep2]})``; ``pick("gpt-4o")`` returns the next deployment;
    ``groups()`` lists the model group names. Raises ``NotFoundError`` (code ``model_not_found``)
    for an unknown group.
    """

    def __init__(self, groups: dict[str, list[Deployment]] | None = None) -> None:
        self._groups: dict[str, list[Deployment]] = {}
        self._cycles: dict[str, Iterator[Deployment]] = {}
        for name, deployments in (groups or {}).items():
            self.add(name, deployments)

    def add(self, group: str, deployments: Iterable[Deployment]) -> None:
        """Add deployments to ``group`` (their ``model_group`` is set to it when empty)."""
        items = self._groups.setdefault(group, [])
        for deployment in deployments:
            if deployment.model_group is None:
                deployment = dataclasses.replace(deployment, model_group=group)
            items.append(deployment)
        self._cycles[group] = itertools.cycle(items)

    def groups(self) -> list[str]:
        """Model group names, in insertion order."""
        return list(self._groups)

    def deployments(self, group: str) -> list[Deployment]:
        """The deployments of ``group`` (empty list when unknown)."""
        return list(self._groups.get(group, ()))

    def pick(self, group: str) -> Deployment:
        """The next deployment of ``group``."""
        cycle = self._cycles.get(group)
        if cycle is None:
            raise NotFoundError(
                f"model {group!r} is not configured; available: {', '.join(self._groups) or 'none'}",
                model=group,
                code="model_not_found",
            )
        return next(cycle)
