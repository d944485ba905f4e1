"""Redaction: the secret scrubber, user redactors, content stripping and the export form of a record."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest

import ledgerlm
from ledgerlm import redaction
from ledgerlm.redaction import REDACTED, record_for_export, scrub, scrub_text, strip_content


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-" + "a1B2c3D4" * 6,  # OpenAI project key
        "sk-" + "Z9y8X7w6" * 5,  # OpenAI legacy key / ledgerlm virtual key
        "sk-ant-api03-" + "Qw3_rT-y" * 10,  # Anthropic
        "sk-or-v1-" + "0123456789abcdef" * 4,  # OpenRouter
        "gsk_" + "A1b2C3d4E5f6G7h8" * 3,  # Groq
        "xai-" + "k" * 40,  # xAI
        "AIzaSyD-" + "9tSrke72PouQMnMX7a7eZSW0jkFMBWY",  # Google API key shape
        "AKIAIOSFODNN7EXAMPLE",  # AWS access key id (AWS documentation example)
        "hf_" + "abcdefghijklmnopqrstuvwxyz1234",  # Hugging Face
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",  # JWT
    ],
)
def test_provider_key_patterns_are_scrubbed(secret: str) -> None:
    text = f"calling with {secret} now"
    assert scrub_text(text) == f"calling with {REDACTED} now"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.DEF-123_xyz", f"Authorization: Bearer {REDACTED}"),
        (
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            f"aws_secret_access_key={REDACTED}",
        ),
        ('{"api_key": "plain-looking-value"}', f'{{"api_key": "{REDACTED}"}}'),
        ("password: hunter2hunter2", f"password: {REDACTED}"),
        ("https://bob:hunter2@proxy.internal/v1", f"https://{REDACTED}@proxy.internal/v1"),
        (
            "GET /v1beta/models/gemini:generateContent?alt=sse&key=opaque-value-123",
            f"GET /v1beta/models/gemini:generateContent?alt=sse&key={REDACTED}",
        ),
        (
            "https://b.s3.amazonaws.com/o?X-Amz-Signature=abc123&x=1",
            f"https://b.s3.amazonaws.com/o?X-Amz-Signature={REDACTED}&x=1",
        ),
    ],
)
def test_tokens_and_secret_assignments_are_scrubbed(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize("text", ["sky-high task-list", "the key is in the drawer", "gpt-4o-mini", "ok"])
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert scrub_text(text) == text


def test_scrub_replaces_secret_keys_and_header_values_without_mutating_the_input() -> None:
    value = {
        "api_key": "anything",
        "Authorization": "whatever",
        "extra_headers": {"X-Custom-Auth": "opaque", "X-Trace": "t1"},
        "nested": [{"content": "my key is sk-" + "q" * 30}],
        "count": 3,
    }
    original = copy.deepcopy(value)
    out = scrub(value)
    assert value == original
    assert out == {
        "api_key": REDACTED,
        "Authorization": REDACTED,
        "extra_headers": {"X-Custom-Auth": REDACTED, "X-Trace": REDACTED},
        "nested": [{"content": f"my key is {REDACTED}"}],
        "count": 3,
    }


def test_user_redactors_run_on_every_string_after_the_builtins() -> None:
    def no_emails(text: str) -> str:
        return text.replace("alice@example.com", "<email>")

    ledgerlm.callbacks.add_redactor(no_emails)
    assert scrub({"m": ["mail alice@example.com"]}) == {"m": ["mail <email>"]}
    ledgerlm.callbacks.remove_redactor(no_emails)
    assert scrub_text("alice@example.com") == "alice@example.com"


def test_strip_content_keeps_the_structure() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "t1", "function": {"name": "f", "arguments": "{}"}}],
        },
    ]
    assert strip_content(messages) == [
        {"role": "system", "content": REDACTED},
        {"role": "user", "content": REDACTED},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "t1", "function": {"name": "f", "arguments": REDACTED}}],
        },
    ]


def _record(make_record: Any, **changes: Any) -> Any:
    return make_record(
        messages=[{"role": "user", "content": "the plan"}],
        response={"choices": [{"message": {"content": "ok"}}]},
        **changes,
    )


def test_export_drops_content_unless_content_logging_is_on(make_record: Any) -> None:
    record = _record(make_record)
    off = record_for_export(record, content_logging=False)
    on = record_for_export(record, content_logging=True)
    assert off["messages"] is None and off["response"] is None
    assert on["messages"] == [{"role": "user", "content": "the plan"}]
    assert off["usage"] == on["usage"] and off["response_cost"] == "0.000123"
    assert record.messages is not None  # the record itself is untouched


def test_export_never_carries_content_of_a_no_log_call_or_under_turn_off_message_logging(
    make_record: Any,
) -> None:
    assert record_for_export(_record(make_record, no_log=True), content_logging=True)["messages"] is None
    setattr(ledgerlm, "turn_off_message_logging", True)  # noqa: B010
    assert record_for_export(_record(make_record), content_logging=True)["response"] is None


def test_a_canary_in_key_header_and_message_never_appears_in_an_export(make_record: Any) -> None:
    canary = f"sk-canary-{uuid.uuid4().hex}"
    record = make_record(
        messages=[{"role": "user", "content": f"please use {canary}"}],
        request_params={
            "api_key": canary,
            "extra_headers": {"x-api-key": canary, "X-Other": canary},
            "user": f"Bearer {canary}",
        },
        metadata={"note": canary},
        error={"type": "AuthenticationError", "status": 401, "message": f"bad key {canary}"},
    )
    for content_logging in (False, True):
        exported = json.dumps(record_for_export(record, content_logging=content_logging))
        assert canary not in exported
        assert canary[10:] not in exported  # not even the random part
    assert redaction.content_logging_allowed(no_log=False)
