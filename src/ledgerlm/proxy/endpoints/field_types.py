"""Type checks of the numeric sampling fields of a request body, done at parse so a wrong type is a
400 naming the field instead of a body forwarded to the provider (or a 500 in a translator).

Documented types (OpenAI API reference "Chat completions" / "Responses"; Anthropic "Messages"):

* ``max_tokens``, ``max_completion_tokens``, ``max_output_tokens``: integer >= 1 (or ``null``);
* ``n``: integer >= 1; ``top_logprobs``: integer 0..20; ``top_k`` (Anthropic): integer >= 0;
* ``temperature``: number, 0..2 on OpenAI, 0..1 on Anthropic; ``top_p``: number 0..1.

``bool`` is never an integer or a number here (JSON ``true`` is not ``1``). Raises
``ledgerlm.errors.BadRequestError`` (400 ``invalid_request_error``, ``param`` = the field).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgerlm.errors import BadRequestError

__all__ = ["ANTHROPIC_FIELDS", "CHAT_FIELDS", "RESPONSES_FIELDS", "check_fields"]

# name -> (kind, minimum, maximum); kind "int" or "number"; None = unbounded
Rule = tuple[str, float | None, float | None]

CHAT_FIELDS: dict[str, Rule] = {
    "max_tokens": ("int", 1, None),
    "max_completion_tokens": ("int", 1, None),
    "n": ("int", 1, None),
    "temperature": ("number", 0, 2),
    "top_p": ("number", 0, 1),
    "top_logprobs": ("int", 0, 20),
}
ANTHROPIC_FIELDS: dict[str, Rule] = {
    "max_tokens": ("int", 1, None),
    "temperature": ("number", 0, 1),
    "top_p": ("number", 0, 1),
    "top_k": ("int", 0, None),
}
RESPONSES_FIELDS: dict[str, Rule] = {
    "max_output_tokens": ("int", 1, None),
    "temperature": ("number", 0, 2),
    "top_p": ("number", 0, 1),
    "top_logprobs": ("int", 0, 20),
}


def _fits(value: Any, kind: str) -> bool:
    if isinstance(value, bool):
        return False
    if kind == "int":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return isinstance(value, (int, float))


def check_fields(body: Mapping[str, Any], rules: Mapping[str, Rule]) -> None:
    """Raise ``BadRequestError`` for the first field of ``rules`` in ``body`` of the wrong type or
    out of range; ``null`` (absent) is accepted."""
    for name, (kind, low, high) in rules.items():
        value = body.get(name)
        if value is None:
            continue
        noun = "an integer" if kind == "int" else "a number"
        if not _fits(value, kind):
            raise BadRequestError(
                f"'{name}' must be {noun}, got {type(value).__name__} {value!r:.40}", param=name
            )
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f">= {low:g}" if high is None else f"between {low:g} and {high:g}"
            raise BadRequestError(f"'{name}' must be {noun} {bounds}, got {value!r}", param=name)
