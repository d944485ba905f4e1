"""Model groups: public model names -> deployments, with wildcards, aliases and access groups.

* An exact ``model_name`` wins; else ``model_group_alias``; else the most specific wildcard entry
  (``"openai/*"``, ``"gpt-*"``, ``"*"``: most literal characters first). A wildcard deployment whose
  ``litellm_params.model`` holds ``*`` serves the requested name: each ``*`` of the pattern captures a
  part of the name and fills the matching ``*`` of the model (``model_name: "*"`` with
  ``model: openai/*`` serves ``gpt-4o`` as ``openai/gpt-4o``). Concrete deployments are made once per
  name (bounded cache) so their price is compiled once.
* Access (LiteLLM "model access"): a key's / team's ``models`` list allows a name when it is empty,
  names it, holds ``*`` / ``all-proxy-models``, holds a wildcard matching it (``openai/*``), or holds an
  access group (``model_info.access_groups``) one of the name's deployments belongs to.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledgerlm.errors import NotFoundError
from ledgerlm.providers.base import Deployment

if TYPE_CHECKING:
    from ledgerlm.routing.budget_limits import Budget

__all__ = ["ALL_MODELS", "Entry", "ModelGroups", "Resolved", "is_wildcard", "wildcard_match"]

ALL_MODELS = frozenset({"*", "all-proxy-models"})
_CONCRETE_LIMIT = 1024


@dataclass(slots=True)
class Entry:
    """One configured deployment with its routing fields: ``rpm``/``tpm`` limits (per minute),
    ``weight``, ``timeout``/``stream_timeout`` (seconds), ``max_retries`` (transport retries inside one
    attempt, default 0: the router is the retry loop), ``access_groups``, ``model_info`` (as configured),
    ``order`` (priority, lower first: ``routing.filters``), ``max_parallel_requests`` (attempts in
    flight at once in this process; more wait), ``budget`` (``max_budget`` per ``budget_duration``:
    ``routing.budget_limits``)."""

    deployment: Deployment
    rpm: int | None = None
    tpm: int | None = None
    weight: float | None = None
    stream_timeout: float | None = None
    max_retries: int | None = None
    access_groups: list[str] = field(default_factory=list)
    model_info: dict[str, Any] = field(default_factory=dict)
    model_name: str = ""
    order: int | None = None
    max_parallel_requests: int | None = None
    budget: Budget | None = None

    @property
    def id(self) -> str:
        """The deployment id (``model_info.id`` or a stable hash): the key of its routing state."""
        return str(self.deployment.deployment_id)


@dataclass(slots=True)
class Resolved:
    """A requested name resolved: ``group`` (the model group name reported, the requested name for a
    wildcard), ``entries`` (its deployments, concrete), ``wildcard`` (matched a pattern)."""

    group: str
    entries: list[Entry]
    wildcard: bool = False


def is_wildcard(name: str) -> bool:
    """Whether a model name is a pattern (holds ``*``)."""
    return "*" in name


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile("^" + "(.*?)".join(re.escape(p) for p in name.split("*")) + "$", re.DOTALL)


def wildcard_match(pattern: str, name: str) -> list[str] | None:
    """The parts of ``name`` captured by each ``*`` of ``pattern``, or None when it does not match."""
    if pattern in ALL_MODELS:
        return [name]
    found = _pattern(pattern).match(name)
    return list(found.groups()) if found else None


def _fill(model: str, parts: Sequence[str], name: str) -> str:
    """``openai/*`` + parts -> ``openai/<part>``; extra ``*`` take the whole name; none: unchanged."""
    if "*" not in model:
        return model
    pieces = model.split("*")
    out = pieces[0]
    for index, piece in enumerate(pieces[1:]):
        out += (parts[index] if index < len(parts) else name) + piece
    return out


def _concrete(entry: Entry, parts: list[str], name: str) -> Entry:
    base = entry.deployment
    model = _fill(base.model, parts, name)
    if "/" in model and base.model.startswith("*"):  # model_name "*", model "openai/*", asked "openai/x"
        prefix = base.provider + "/"
        model = model[len(prefix) :] if model.startswith(prefix) else model
    keep_price = getattr(base.price, "source", None) == "custom"
    deployment = dataclasses.replace(
        base, model=model, model_group=name, price=base.price if keep_price else None, tags=list(base.tags)
    )
    return dataclasses.replace(entry, deployment=deployment)


class ModelGroups:
    """All model groups by public name (see the module docstring)."""

    def __init__(
        self, entries: Iterable[Entry], aliases: dict[str, str] | None = None, hidden: Iterable[str] = ()
    ) -> None:
        self.exact: dict[str, list[Entry]] = {}
        self.patterns: dict[str, list[Entry]] = {}
        for entry in entries:
            target = self.patterns if is_wildcard(entry.model_name) else self.exact
            target.setdefault(entry.model_name, []).append(entry)
        self.aliases = dict(aliases or {})
        self.hidden = frozenset(hidden)
        self._order = sorted(self.patterns, key=lambda p: (-len(p.replace("*", "")), p))
        self._concrete: dict[str, Resolved] = {}

    def names(self) -> list[str]:
        """Public names: groups in config order (patterns included), then visible aliases."""
        return [*self.exact, *self.patterns, *(a for a in self.aliases if a not in self.hidden)]

    def all_entries(self) -> list[Entry]:
        """Every configured deployment (patterns as configured)."""
        return [e for items in (*self.exact.values(), *self.patterns.values()) for e in items]

    def find(self, name: str) -> Resolved | None:
        """The group serving ``name`` (exact, alias, then wildcard), or None."""
        if name in self.exact:
            return Resolved(name, self.exact[name])
        target = self.aliases.get(name)
        if target is not None and target != name:
            found = self.find(target)
            return found
        cached = self._concrete.get(name)
        if cached is not None:
            return cached
        for pattern in self._order:
            parts = wildcard_match(pattern, name)
            if parts is not None:
                resolved = Resolved(name, [_concrete(e, parts, name) for e in self.patterns[pattern]], True)
                if len(self._concrete) >= _CONCRETE_LIMIT:
                    self._concrete.clear()
                self._concrete[name] = resolved
                return resolved
        return None

    def resolve(self, name: str) -> Resolved:
        """``find`` or 404 ``model_not_found`` (OpenAI's error) naming the model."""
        found = self.find(name)
        if found is None:
            raise NotFoundError(
                f"model {name!r} is not served by this proxy", param="model", code="model_not_found"
            )
        return found

    def access_groups(self, name: str) -> set[str]:
        """The access groups of the deployments serving ``name`` (empty when unknown)."""
        found = self.find(name)
        return {g for e in (found.entries if found else ()) for g in e.access_groups}

    def allowed(self, models: Sequence[str], name: str) -> bool:
        """Whether an access list (a key's or team's ``models``) allows ``name`` (module docstring)."""
        if not models or name in models or any(m in ALL_MODELS for m in models):
            return True
        target = self.aliases.get(name)
        if target is not None and target in models:
            return True
        if any(is_wildcard(m) and wildcard_match(m, name) is not None for m in models):
            return True
        groups = self.access_groups(name)
        return bool(groups and groups.intersection(models))
