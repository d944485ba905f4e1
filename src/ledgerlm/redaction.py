"""Redaction: what a logged payload may carry, and the secret scrubber every logged string goes through.

Three rules (DESIGN.md section 4, rule 6; issue 4, point 5):

* **Callback payloads** (in-process, app-level debugging) carry messages and responses by default,
  unless ``turn_off_message_logging`` is set or the call was made with ``no_log=True``.
* **Anything that leaves the process** (exporters, stored spend logs) goes through
  :func:`record_for_export`, which keeps messages and responses only when the operator turns content
  logging on (and never for ``no_log`` calls or under ``turn_off_message_logging``).
* **Every logged string** is scrubbed: provider API keys (OpenAI ``sk-...``, Anthropic ``sk-ant-...``,
  OpenRouter ``sk-or-...``, Groq ``gsk_...``, xAI ``xai-...``, Google ``AIza...``, Hugging Face
  ``hf_...``, GitHub ``ghp_...``), ``Bearer`` tokens, AWS access key ids (``AKIA...``/``ASIA...``),
  ``secret=...``-style assignments, JWTs, credentials in URLs (``https://user:pass@host``,
  ``?key=...``, ``X-Amz-Signature=...``) and ledgerlm virtual keys (``sk-...``). Values of mapping
  keys that name a secret (``api_key``, ``authorization``, ``x-api-key``, ``aws_secret_access_key``,
  ...) and every header value are replaced whole. User redactors (:func:`add_redactor`) run after
  the built-in scrubber on every string.

Nothing here mutates its input: every function returns new containers.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledgerlm.record import CallRecord

__all__ = [
    "REDACTED",
    "Redactor",
    "add_redactor",
    "clear_redactors",
    "content_logging_allowed",
    "record_for_export",
    "remove_redactor",
    "scrub",
    "scrub_text",
    "set_message_logging",
    "strip_content",
]

REDACTED = "[REDACTED]"

Redactor = Callable[[str], str]
"""A user redactor: takes one logged string, returns it redacted (must not raise)."""

_SECRET_PATTERNS: tuple[str, ...] = (
    r"\bsk-[A-Za-z0-9_\-]{8,}",  # OpenAI, Anthropic (sk-ant-), OpenRouter (sk-or-), ledgerlm virtual keys
    r"\b(?:gsk|ghp|gho|ghu|ghs|ghr|hf|rk|pk|xoxb|xoxp)_[A-Za-z0-9]{16,}",  # Groq, GitHub, HF, Slack ...
    r"\bxai-[A-Za-z0-9]{16,}",  # xAI
    r"\bAIza[0-9A-Za-z_\-]{30,}",  # Google API keys
    r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b",  # AWS access key ids
    r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWTs
)
_SECRET_RE = re.compile("|".join(f"(?:{p})" for p in _SECRET_PATTERNS))
_BEARER_RE = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{6,}")
_URL_USERINFO_RE = re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+@")  # https://user:password@host
_URL_QUERY_RE = re.compile(
    r"(?i)([?&](?:key|api[_-]?key|token|access_token|sig|signature|x-amz-signature|x-amz-credential"
    r"|x-amz-security-token|code)=)[^&#\s\"']+"
)
_ASSIGNMENT_RE = re.compile(
    r"(?i)\b((?:aws_)?(?:secret(?:_access)?_key|session_token|api[_-]?key|access[_-]?token|password|secret)"
    r"[\"']?\s*[=:]\s*[\"']?)([^\s\"',;&}]{6,})"
)

SECRET_KEY_NAMES: frozenset[str] = frozenset(
    {
        "api_key",
        "api-key",
        "apikey",
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "x-goog-api-key",
        "ocp-apim-subscription-key",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_access_key_id",
        "client_secret",
        "password",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "master_key",
        "virtual_key",
        "cookie",
        "set-cookie",
    }
)
"""Mapping keys (lower-cased) whose values are replaced whole, whatever they look like."""

HEADER_KEY_NAMES: frozenset[str] = frozenset({"headers", "extra_headers", "default_headers"})
"""Mapping keys whose value is a header mapping: every header value is replaced whole."""

_redactors: list[Redactor] = []
_message_logging_off = False


def add_redactor(fn: Redactor) -> None:
    """Register a user redactor ``fn(text) -> text`` run on every logged string (after the built-ins)."""
    if fn not in _redactors:
        _redactors.append(fn)


def remove_redactor(fn: Redactor) -> None:
    """Unregister a redactor added with :func:`add_redactor` (no error when absent)."""
    if fn in _redactors:
        _redactors.remove(fn)


def clear_redactors() -> None:
    """Remove every user redactor."""
    _redactors.clear()


def set_message_logging(enabled: bool) -> None:
    """Module-level switch, the same as ``ledgerlm.turn_off_message_logging = not enabled``."""
    global _message_logging_off
    _message_logging_off = not enabled


def message_logging_off() -> bool:
    """True when ``turn_off_message_logging`` is set (on ``ledgerlm`` or via :func:`set_message_logging`)."""
    if _message_logging_off:
        return True
    pkg = sys.modules.get("ledgerlm")
    return pkg is not None and bool(vars(pkg).get("turn_off_message_logging", False))


def content_logging_allowed(*, no_log: bool, content_logging: bool = True) -> bool:
    """Whether messages/responses may appear in a payload.

    ``content_logging`` is the consumer's own setting (True for in-process callbacks, the operator's
    setting for exporters and stored spend logs); ``no_log`` is the call's own opt-out.
    """
    return content_logging and not no_log and not message_logging_off()


def scrub_text(text: str) -> str:
    """Return ``text`` with secrets replaced by ``[REDACTED]``, then every user redactor applied."""
    if len(text) >= 6:
        text = _builtin_scrub_short(text) if len(text) <= _MEMO_MAX_CHARS else _builtin_scrub(text)
    for redactor in tuple(_redactors):
        text = redactor(text)
    return text


def _builtin_scrub(text: str) -> str:
    """The built-in patterns (secrets, bearer/basic credentials, assignments, URL credentials)."""
    text = _SECRET_RE.sub(REDACTED, text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _ASSIGNMENT_RE.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    if "://" in text or "?" in text:
        text = _URL_USERINFO_RE.sub(f"{REDACTED}@", text)
        text = _URL_QUERY_RE.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return text


_MEMO_MAX_CHARS = 128
"""Short strings (model names, providers, tags, aliases, amounts) repeat from call to call: their
built-in scrub is memoised (a pure function of the text; user redactors still run every time)."""
_builtin_scrub_short = functools.lru_cache(maxsize=4096)(_builtin_scrub)


def scrub(value: Any) -> Any:
    """Recursively scrub a JSON-like value (dicts, lists, tuples, strings); returns new containers.

    Values under secret-named keys (:data:`SECRET_KEY_NAMES`) and all header values under
    :data:`HEADER_KEY_NAMES` become ``[REDACTED]``. Other scalars are returned unchanged.
    """
    kind = type(value)
    if kind in _PLAIN_SCALARS:  # exact types first: the ABC checks below cost most of a record's scrub
        return value
    if kind is str:
        return scrub_text(value)
    if kind is dict or isinstance(value, Mapping):
        return {key: item if item is None else _scrub_item(key, item) for key, item in value.items()}
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


_PLAIN_SCALARS: frozenset[type] = frozenset({int, float, bool, type(None)})


def _scrub_item(key: Any, item: Any) -> Any:
    """One mapping value (never ``None``: a ``None`` stays ``None`` under any key)."""
    name = key.lower() if isinstance(key, str) else key
    if name in SECRET_KEY_NAMES and item is not None:
        return REDACTED
    if name in HEADER_KEY_NAMES and isinstance(item, Mapping):
        return {header: REDACTED for header in item}
    return scrub(item)


CONTENT_KEY_NAMES: frozenset[str] = frozenset(
    {"content", "text", "arguments", "reasoning_content", "thinking", "refusal", "partial_json", "input"}
)
"""Keys whose values are prompt or response content (OpenAI and Anthropic message/delta shapes)."""


def strip_content(value: Any) -> Any:
    """A copy of a message list / response / chunk with every content value set to ``[REDACTED]``.

    Keeps the structure (roles, ids, usage, finish reasons). Pydantic models are dumped to dicts
    first; objects that are neither JSON-like nor models become ``[REDACTED]``.
    """
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {key: _strip_item(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strip_content(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return REDACTED


def _strip_item(key: Any, item: Any) -> Any:
    if key in CONTENT_KEY_NAMES:
        return None if item is None else REDACTED
    if isinstance(item, str):
        return item  # structure: role, id, model, finish_reason ...
    return strip_content(item)


def record_for_export(record: CallRecord, *, content_logging: bool) -> dict[str, Any]:
    """The JSON-ready form of ``record`` for anything that leaves the process.

    Shape: ``record.model_dump(mode="json")`` (amounts as decimal strings, times in epoch seconds)
    with ``messages`` and ``response`` set to ``None`` unless ``content_logging`` is on and the call
    allows it (see :func:`content_logging_allowed`), secret-named keys and header values replaced,
    and every string scrubbed. Used by exporters and the spend writer.
    """
    data = record.model_dump(mode="json")
    no_log = bool(data.get("no_log", False))
    if not content_logging_allowed(no_log=no_log, content_logging=content_logging):
        data["messages"] = None
        data["response"] = None
    scrubbed: dict[str, Any] = scrub(data)
    return scrubbed
