"""Request tags: the ordered union, without duplicates, of every source (issue 5 item 4).

Precedence (first occurrence wins the position)::

    1. body  metadata.tags                   (list of strings)
    2. body  tags                            (root-level list of strings)
    3. header x-litellm-tags                 (comma separated; IGNORED when the body has root ``tags``)
    4. the virtual key's tags                (key metadata.tags)
    5. the key's team's tags                 (team tags / team metadata.tags)
    6. the serving deployment's config tags  (litellm_params.tags)
    7. one "<Header-Name>: <value>" tag per header in litellm_settings.extra_spend_tag_headers

A ``key=value`` tag is stored as ``key:value`` (``ledgerlm.tags.dimensions.canonical``).
Limits: each tag a string of 1..128 characters, at most 64 tags per request; otherwise
``BadRequestError`` (400). Then the tag policies (``ledgerlm.tags``: ``general_settings.tag_policies``,
overridden per dimension by the team's then the key's ``metadata.tag_policies``) are enforced; a
``required_tags`` prefix ``dim:`` is the policy ``{required: true, action: reject}``, any other prefix
must be matched by one tag.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ledgerlm.errors import BadRequestError
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.tags.dimensions import canonical
from ledgerlm.tags.enforce import RECORD_KEY, TagDecision, enforce, metadata_lookup
from ledgerlm.tags.policy import Policies, from_required_tags, merge, parse_policies
from ledgerlm.types import CallContext

__all__ = ["MAX_TAGS", "MAX_TAG_LENGTH", "TagResolver", "check_required", "key_policies", "parse_header_tags"]

log = logging.getLogger("ledgerlm.tags")
ALERT_EVERY_S = 60.0
_PARSED = "_tag_policies"  # KeyContext.extra cache of the key's and team's parsed policies

MAX_TAG_LENGTH = 128
MAX_TAGS = 64
TAGS_HEADER = "x-litellm-tags"


def _bad(message: str, param: str) -> BadRequestError:
    return BadRequestError(message, param=param, code="invalid_tags")


def _body_list(value: Any, param: str) -> list[str]:
    """A body tag list: None -> [], else a list of valid strings."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(f"{param} must be a list of strings", param)
    for item in value:
        _check_tag(item, param)
    return value


def _check_tag(tag: Any, param: str) -> None:
    if not isinstance(tag, str):
        raise _bad(f"{param}: every tag must be a string, got {type(tag).__name__}", param)
    if not tag:
        raise _bad(f"{param}: empty tag", param)
    if len(tag) > MAX_TAG_LENGTH:
        raise _bad(f"{param}: tag longer than {MAX_TAG_LENGTH} characters ({len(tag)})", param)
    if "\x00" in tag:
        raise _bad(f"{param}: a tag may not contain a NUL character (\\u0000)", param)


def parse_header_tags(value: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (blank items dropped; each tag checked)."""
    if not value:
        return []
    tags = [part.strip() for part in value.split(",")]
    tags = [t for t in tags if t]
    for tag in tags:
        _check_tag(tag, TAGS_HEADER)
    return tags


def check_required(tags: Sequence[str], prefixes: Sequence[str]) -> None:
    """Raise 400 naming every required prefix that no tag starts with."""
    missing = [p for p in prefixes if not any(t.startswith(p) for t in tags)]
    if missing:
        raise _bad(
            "missing required request tags: "
            + ", ".join(repr(p) for p in missing)
            + " (send them in metadata.tags, tags or the x-litellm-tags header)",
            "tags",
        )


def _layer(metadata: Mapping[str, Any], owner: str) -> Policies:
    try:
        return parse_policies(metadata.get("tag_policies"))
    except ValueError as exc:  # validated on write; an older stored value is ignored, loudly
        log.warning("ignoring the %s's metadata.tag_policies: %s", owner, exc)
        return {}


def key_policies(key: KeyContext) -> tuple[Policies, Policies]:
    """The team's and the key's own policies (``metadata.tag_policies``), parsed once per cached key."""
    cached = key.extra.get(_PARSED)
    if cached is None:
        cached = (_layer(key.team_metadata, "team"), _layer(key.metadata, "key"))
        key.extra[_PARSED] = cached
    return cached


class TagResolver:
    """Resolves the tags of one request; built once per config (header names are lower-cased once)."""

    def __init__(
        self,
        extra_spend_tag_headers: Iterable[str] = (),
        required: Iterable[str] = (),
        policies: Policies | None = None,
    ) -> None:
        self.extra_headers: list[tuple[str, str]] = [(h, h.lower()) for h in extra_spend_tag_headers]
        self.policies, self.required = from_required_tags(list(required), dict(policies or {}))
        self._alerted: dict[str, float] = {}  # dimension -> monotonic time of its last quarantine alert
        # (dimension, "untagged" | "invalid", invalid values) per quarantined dimension: proxy.ops_alerts
        self.on_quarantine: Callable[[str, str, list[str]], None] | None = None

    def from_request(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> list[str]:
        """Sources 1-3 (the request's own tags), in order, duplicates kept (``resolve`` dedupes)."""
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise _bad("metadata must be an object", "metadata")
        out = list(_body_list(metadata.get("tags") if metadata else None, "metadata.tags"))
        if "tags" in body and body["tags"] is not None:
            out.extend(_body_list(body["tags"], "tags"))
        else:
            out.extend(parse_header_tags(headers.get(TAGS_HEADER)))
        return out

    def from_headers(self, headers: Mapping[str, str]) -> list[str]:
        """Source 7: ``"<Header-Name>: <value>"`` for each configured header present."""
        out = []
        for name, lower in self.extra_headers:
            value = headers.get(lower)
            if value is not None:
                tag = f"{name}: {value}"
                _check_tag(tag, name)
                out.append(tag)
        return out

    def resolve(
        self,
        request_tags: Sequence[str],
        key_tags: Sequence[str],
        team_tags: Sequence[str],
        deployment_tags: Sequence[str],
        headers: Mapping[str, str],
    ) -> list[str]:
        """The ordered union of every source with the limits and the GLOBAL policies enforced."""
        union = self._union((request_tags, key_tags, team_tags, deployment_tags, self.from_headers(headers)))
        return enforce(union, self.policies, metadata_lookup({}, {})).tags

    def _union(self, groups: Iterable[Sequence[str]]) -> list[str]:
        seen: dict[str, None] = {}
        for group in groups:
            for tag in group:
                seen.setdefault(canonical(tag), None)
        tags = list(seen)
        if len(tags) > MAX_TAGS:
            raise _bad(f"too many tags: {len(tags)} (at most {MAX_TAGS} per request)", "tags")
        if self.required:
            check_required(tags, self.required)
        return tags

    def decide(
        self,
        key: KeyContext,
        request_tags: Sequence[str],
        deployment_tags: Sequence[str],
        headers: Mapping[str, str],
    ) -> TagDecision:
        """Every source's tags for ``key``'s call, with the global, team and key policies enforced."""
        sources = (request_tags, key.tags, key.team_tags, deployment_tags, self.from_headers(headers))
        union = self._union(sources)
        team_layer, key_layer = key_policies(key)
        policies = merge(self.policies, team_layer, key_layer) if team_layer or key_layer else self.policies
        if not policies:
            return TagDecision(tags=union)
        return enforce(union, policies, metadata_lookup(key.metadata, key.team_metadata))

    def step(
        self,
        ctx: CallContext,
        key: KeyContext,
        request_tags: Sequence[str],
        deployment_tags: Sequence[str],
        headers: Mapping[str, str],
    ) -> None:
        """The proxy's tag step: sets ``ctx.request_tags`` and the policy record in ``ctx.metadata``
        (a client-sent ``tag_policy`` is dropped). On a 400 the call keeps NO tags (no tag rows)."""
        ctx.metadata.pop(RECORD_KEY, None)
        try:
            decision = self.decide(key, request_tags, deployment_tags, headers)
        except BadRequestError:
            ctx.request_tags = []
            raise
        ctx.request_tags = decision.tags
        record = decision.record()
        if record:
            ctx.metadata[RECORD_KEY] = record
        if decision.quarantined:
            self._alert(decision)

    def _alert(self, decision: TagDecision) -> None:
        """The quarantine alert: a ``ledgerlm.tags`` warning, at most once a minute per dimension."""
        now = time.monotonic()
        for dim, mark in decision.quarantined.items():
            if self.on_quarantine is not None:
                self.on_quarantine(dim, mark, list(decision.invalid.get(dim, [])))
            if now - self._alerted.get(dim, -ALERT_EVERY_S) >= ALERT_EVERY_S:
                self._alerted[dim] = now
                invalid = decision.invalid.get(dim, [])
                log.warning(
                    "tag policy: dimension %r quarantined as %r (invalid values: %s)", dim, mark, invalid
                )
