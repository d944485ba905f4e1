"""``general_settings.pass_through_endpoints`` (LiteLLM "Create Pass Through Endpoints"): custom routes
that forward a request as it is to another URL. Parsing and the pure request mapping; the route is
``ledgerlm.proxy.endpoints.custom_passthrough``.

Entry fields (LiteLLM's names):

=======================  =========================================================================
``path``                 the proxy route (``/bria``); required, starts with ``/``
``target``               the URL forwarded to; required, ``http(s)://``
``headers``              headers added upstream; a value may name ``os.environ/VAR`` anywhere in it
                         (``"bearer os.environ/COHERE_API_KEY"``), replaced at start
``forward_headers``      also forward the caller's headers (not hop-by-hop ones, never the proxy key)
``auth``                 require a proxy key (virtual or master): budgets, limits and the key's spend
                         apply; without it the route is open and the row has no key
``include_subpath``      also serve ``{path}/...``, forwarded to ``{target}/...``
``methods``              the HTTP methods served (default: GET, POST, PUT, PATCH, DELETE)
``default_query_params`` query parameters sent unless the target URL or the caller sets them
``timeout``              upstream timeout, seconds (default ``pass_through_request_timeout``, 600)
``cost_per_request``     USD charged per call (LiteLLM's UI field); without it the cost comes from
                         the answer's usage when it is in a known format, else the row is unpriced
=======================  =========================================================================

A bad entry raises ``ConfigError`` naming ``general_settings.pass_through_endpoints[i].field``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ledgerlm.errors import ConfigError

__all__ = ["PassThroughEndpoint", "parse_pass_through_endpoints", "target_url"]

_ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_ENV = re.compile(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)")
_WHERE = "general_settings.pass_through_endpoints"


@dataclass(frozen=True, slots=True)
class PassThroughEndpoint:
    """One parsed entry (see the module table)."""

    path: str
    target: str
    headers: Mapping[str, str] = field(default_factory=dict)
    forward_headers: bool = False
    auth: bool = False
    include_subpath: bool = False
    methods: tuple[str, ...] = _ALL_METHODS
    default_query_params: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 600.0
    cost_per_request: Decimal | None = None


def _env_value(value: Any, path: str) -> str:
    def replace(match: re.Match[str]) -> str:
        found = os.environ.get(match.group(1))
        if found is None:
            raise ConfigError(f"environment variable {match.group(1)} is not set", path=path)
        return found

    return _ENV.sub(replace, str(value))


def _bool(entry: Mapping[str, Any], name: str, path: str) -> bool:
    value = entry.get(name, False)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ConfigError("must be true or false", path=f"{path}.{name}")
    return value


def _mapping(entry: Mapping[str, Any], name: str, path: str) -> dict[str, str]:
    value = entry.get(name) or {}
    if not isinstance(value, Mapping):
        raise ConfigError("must be a mapping of names to values", path=f"{path}.{name}")
    return {str(k): _env_value(v, f"{path}.{name}.{k}") for k, v in value.items()}


def _cost(entry: Mapping[str, Any], path: str) -> Decimal | None:
    value = entry.get("cost_per_request")
    if value is None:
        return None
    try:
        cost = Decimal(str(value))
    except InvalidOperation:
        cost = Decimal(-1)
    if isinstance(value, bool) or not cost.is_finite() or cost < 0:
        raise ConfigError("must be a non-negative number (USD)", path=f"{path}.cost_per_request")
    return cost


def _one(entry: Any, path: str, default_timeout: float) -> PassThroughEndpoint:
    if not isinstance(entry, Mapping):
        raise ConfigError("must be a mapping with path and target", path=path)
    route, target = entry.get("path"), entry.get("target")
    if not isinstance(route, str) or not route.startswith("/") or len(route) < 2:
        raise ConfigError("must be a path starting with '/'", path=f"{path}.path")
    if not isinstance(target, str) or not target.startswith(("http://", "https://")):
        raise ConfigError("must be an http(s) URL", path=f"{path}.target")
    methods = entry.get("methods") or _ALL_METHODS
    if not isinstance(methods, (list, tuple)) or not all(str(m).upper() in _ALL_METHODS for m in methods):
        raise ConfigError(f"must be a list of {', '.join(_ALL_METHODS)}", path=f"{path}.methods")
    timeout = entry.get("timeout", default_timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError("must be a positive number of seconds", path=f"{path}.timeout")
    return PassThroughEndpoint(
        path=route.rstrip("/"),
        target=target,
        headers=_mapping(entry, "headers", path),
        forward_headers=_bool(entry, "forward_headers", path),
        auth=_bool(entry, "auth", path),
        include_subpath=_bool(entry, "include_subpath", path),
        methods=tuple(str(m).upper() for m in methods),
        default_query_params=_mapping(entry, "default_query_params", path),
        timeout=float(timeout),
        cost_per_request=_cost(entry, path),
    )


def parse_pass_through_endpoints(general_settings: Mapping[str, Any]) -> list[PassThroughEndpoint]:
    """The entries of ``general_settings`` (empty when none); raises ``ConfigError``."""
    raw = general_settings.get("pass_through_endpoints") or []
    if not isinstance(raw, list):
        raise ConfigError("must be a list of endpoints", path=_WHERE)
    default_timeout = general_settings.get("pass_through_request_timeout") or 600.0
    return [_one(entry, f"{_WHERE}[{i}]", float(default_timeout)) for i, entry in enumerate(raw)]


def target_url(endpoint: PassThroughEndpoint, subpath: str, client_query: str) -> str:
    """The upstream URL: ``target`` (+ ``/subpath``), query = defaults < target's own < the caller's."""
    parts = urlsplit(endpoint.target)
    path = parts.path
    if subpath:
        path = f"{path.rstrip('/')}/{subpath.lstrip('/')}"
    query = dict(endpoint.default_query_params)
    query.update(parse_qsl(parts.query, keep_blank_values=True))
    query.update(parse_qsl(client_query, keep_blank_values=True))
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))
