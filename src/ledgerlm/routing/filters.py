"""Deployment filters applied before a strategy picks (LiteLLM's pre-routing checks), in this order
after the cooled-down deployments are left out:

* ``by_tags`` (``router_settings.enable_tag_filtering: true``; https://docs.litellm.ai/docs/proxy/tag_routing):
  a request with tags goes to the deployments whose ``litellm_params.tags`` hold ANY of them (ALL of
  them with ``tag_filtering_match_any: false``), else to those tagged ``default``, else it is refused
  (400 ``no_deployments_with_tag_routing``); a request without tags goes to the ``default``-tagged
  deployments when there are any, else to all.
* budgets (``routing.budget_limits``): deployments over their budget are left out.
* ``by_order`` (``litellm_params.order``; https://docs.litellm.ai/docs/routing, "Deployment
  Ordering"): only the deployments with the lowest ``order`` among those left are candidates;
  deployments without ``order`` only when no ordered one is left. A higher order is used when the
  lower ones are cooling down, over budget, or already tried by this request (a retry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ledgerlm.errors import BadRequestError, ConfigError
from ledgerlm.routing.budget_limits import parse_budget
from ledgerlm.routing.groups import Entry

__all__ = ["DEFAULT_TAG", "by_order", "by_tags", "deployment_limits"]

DEFAULT_TAG = "default"


def _matches(deployment_tags: Sequence[str], request_tags: Sequence[str], match_any: bool) -> bool:
    have = set(deployment_tags)
    return bool(have.intersection(request_tags)) if match_any else set(request_tags) <= have


def by_tags(
    entries: Sequence[Entry], request_tags: Sequence[str], *, match_any: bool, model: str
) -> list[Entry]:
    """The deployments a request with ``request_tags`` may use (module docstring). Raises 400
    ``no_deployments_with_tag_routing`` when a tagged request matches none and none is ``default``."""
    defaults = [e for e in entries if DEFAULT_TAG in e.deployment.tags]
    if not request_tags:
        return defaults or list(entries)
    matched = [e for e in entries if _matches(e.deployment.tags, request_tags, match_any)]
    if matched or defaults:
        return matched or defaults
    raise BadRequestError(
        f"no deployment of model {model!r} matches the request's tags {list(request_tags)!r} "
        "(router_settings.enable_tag_filtering)",
        param="tags",
        code="no_deployments_with_tag_routing",
    )


def by_order(entries: Sequence[Entry]) -> list[Entry]:
    """The deployments with the lowest ``order`` (module docstring)."""
    orders = [e.order for e in entries if e.order is not None]
    if not orders:
        return list(entries)
    low = min(orders)
    return [e for e in entries if e.order == low]


def deployment_limits(extra: Mapping[str, Any], path: str) -> dict[str, Any]:
    """``order``, ``max_parallel_requests`` (integers) and ``max_budget`` + ``budget_duration`` of one
    deployment's ``litellm_params``. Raises ``ConfigError`` naming the key."""
    out: dict[str, Any] = {}
    for name, minimum in (("order", 0), ("max_parallel_requests", 1)):
        value = extra.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"must be an integer >= {minimum}", path=f"{path}.{name}")
        out[name] = value
    if extra.get("max_budget") is not None:
        period = extra.get("budget_duration") or "30d"
        out["budget"] = parse_budget(extra["max_budget"], period, f"{path}.max_budget")
    return out
