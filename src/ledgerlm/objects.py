"""``OpenAIObject``: a JSON object (dict) with attribute access, as the OpenAI client's models read
(``response.choices[0].message.content``). Vocabulary shared by the SDK's responses and the callbacks'
payloads, so neither imports the other.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["OPTIONAL_FIELDS", "OpenAIObject", "wrap_json"]


def wrap_json(value: Any) -> Any:
    if type(value) is dict:
        return OpenAIObject(value)
    if type(value) is list:
        for i, item in enumerate(value):
            if type(item) is dict:
                value[i] = OpenAIObject(item)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# Fields the OpenAI Python client declares Optional (None when the JSON leaves them out): a stream's
# last chunk has ``delta: {}``, so ``chunk.choices[0].delta.content`` must read None, as with ``openai``.
OPTIONAL_FIELDS = frozenset(
    {
        "content",
        "role",
        "refusal",
        "tool_calls",
        "function_call",
        "reasoning_content",
        "audio",
        "logprobs",
        "finish_reason",
        "usage",
        "system_fingerprint",
        "service_tier",
    }
)


class OpenAIObject(dict[str, Any]):
    """A JSON object with attribute access; nested objects are wrapped on first access. A missing
    field of ``OPTIONAL_FIELDS`` reads ``None`` (as in the OpenAI client); any other raises
    ``AttributeError``."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            value = self[name]
        except KeyError:
            if name in OPTIONAL_FIELDS:
                return None
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None
        wrapped = wrap_json(value)
        if wrapped is not value:
            dict.__setitem__(self, name, wrapped)
        return wrapped

    def model_dump(self, **_: Any) -> dict[str, Any]:
        """A deep copy as plain dicts and lists (like pydantic's ``model_dump``)."""
        plain: dict[str, Any] = _plain(self)
        return plain

    def model_dump_json(self, **_: Any) -> str:
        """The object as a JSON string."""
        return orjson.dumps(self).decode()

    def to_dict(self) -> dict[str, Any]:
        """Alias of ``model_dump``."""
        return self.model_dump()
