"""Absurd header values are refused, not stored: an ``x-litellm-end-user-id`` (or body ``user``) over
255 characters or an ``x-request-id`` over 200 gets 400 ``invalid_request_error`` naming it; the call
still gets its failure row (under a fresh request id, without the oversized value). Values at the limit
pass. Real proxy, official ``openai`` client; SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from typing import Any

import openai
import pytest
from tests.e2e.conftest import Proxy

MESSAGES: Any = [{"role": "user", "content": "hello"}]


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.mark.parametrize(
    ("headers", "user", "named"),
    [
        ({"x-litellm-end-user-id": "e" * 70_000}, None, "x-litellm-end-user-id"),
        ({"x-litellm-end-user-id": "e" * 256}, None, "x-litellm-end-user-id"),
        ({}, "u" * 256, "user"),
        ({"x-request-id": "r" * 201}, None, "x-request-id"),
    ],
)
def test_oversized_values_get_400_naming_them(
    proxy: Proxy, headers: dict[str, str], user: str | None, named: str
) -> None:
    key = proxy.new_key(key_alias=f"limits-{named}")
    client = proxy.client(key)
    extra: dict[str, Any] = {} if user is None else {"user": user}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="priced", messages=MESSAGES, extra_headers=headers, **extra)
    body: Any = caught.value.body
    assert body["type"] == "invalid_request_error" and body["param"] == named and named in body["message"]
    proxy.wait_written()
    (row,) = proxy.rows(api_key=_sha(key))
    assert row["status"] == "failure" and row["end_user"] is None
    assert len(row["request_id"]) <= 200 and "r" * 201 not in row["request_id"]


def test_values_at_the_limit_pass(proxy: Proxy) -> None:
    key = proxy.new_key(key_alias="limits-ok")
    end_user, request_id = "e" * 255, "r" * 199 + "1"
    headers = {"x-litellm-end-user-id": end_user, "x-request-id": request_id}
    raw = proxy.client(key).chat.completions.with_raw_response.create(
        model="priced", messages=MESSAGES, extra_headers=headers
    )
    assert raw.headers["x-request-id"] == request_id
    proxy.wait_written()
    row = proxy.row(request_id)
    assert row["end_user"] == end_user and row["status"] == "success"
