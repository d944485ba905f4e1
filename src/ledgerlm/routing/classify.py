"""What a failed attempt means for routing, read from the error alone (kind, status, Retry-After), as
LiteLLM's router does (https://docs.litellm.ai/docs/routing, "Retries, fallbacks and cooldowns"):

* ``kind(exc)``: ``context_window`` (``ContextWindowExceededError``), ``content_policy`` (a 400 whose
  code or message names ``content_policy`` / ``content_filter``), ``bad_request`` (other 4xx a retry
  cannot fix), ``budget`` (our own budget refusal), else ``transient``.
* ``retryable(exc)``: 408, 409, 429, 5xx, connection errors and timeouts.
* ``cooldown_now(exc)``: 401, 404, 408 and 429 take a deployment out at once; other failures count
  toward ``allowed_fails`` (per minute).
"""

from __future__ import annotations

from ledgerlm.errors import (
    APIConnectionError,
    APIError,
    BadRequestError,
    BudgetExceededError,
    ContextWindowExceededError,
    RequestTooLargeError,
    UnprocessableEntityError,
)

__all__ = ["cooldown_now", "counts_as_failure", "kind", "retry_after_of", "retryable", "status_of"]

_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
_COOLDOWN_NOW = frozenset({401, 404, 408, 429})
_POLICY_MARKS = ("content_policy", "content_filter", "contentfilter", "responsibleaipolicyviolation")


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an API error (None for connection errors and non-API errors)."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _is_content_policy(exc: BaseException) -> bool:
    text = (
        f"{getattr(exc, 'code', '') or ''} {getattr(exc, 'message', '')} {getattr(exc, 'body', '')}".lower()
    )
    return any(mark in text for mark in _POLICY_MARKS)


def kind(exc: BaseException) -> str:
    """``context_window`` | ``content_policy`` | ``bad_request`` | ``budget`` | ``transient``."""
    if isinstance(exc, ContextWindowExceededError):
        return "context_window"
    if isinstance(exc, BudgetExceededError):
        return "budget"
    if isinstance(exc, BadRequestError) and _is_content_policy(exc):
        return "content_policy"
    if isinstance(exc, BadRequestError | UnprocessableEntityError | RequestTooLargeError):
        return "bad_request"
    return "transient"


def retryable(exc: BaseException) -> bool:
    """Whether another attempt in the same model group may succeed."""
    if isinstance(exc, BudgetExceededError) or not isinstance(exc, APIError):
        return False
    if isinstance(exc, APIConnectionError):
        return True
    return status_of(exc) in _RETRY_STATUSES


def counts_as_failure(exc: BaseException) -> bool:
    """Whether the failure is the deployment's (not the caller's request): 4xx bad requests are not."""
    return (isinstance(exc, APIError) and kind(exc) == "transient") or status_of(exc) in _COOLDOWN_NOW


def cooldown_now(exc: BaseException) -> bool:
    """Whether the failure cools the deployment down at once (401, 404, 408, 429)."""
    return status_of(exc) in _COOLDOWN_NOW and not isinstance(exc, BudgetExceededError)


def retry_after_of(exc: BaseException) -> float | None:
    """The provider's ``Retry-After`` (seconds) carried by the error, when any."""
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) else None
