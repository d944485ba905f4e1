"""FOCUS ``Tags`` of request tags as LiteLLM writes them (review of issues 19/20): the
``extra_spend_tag_headers`` tag ``"X-Service: checkout"`` (LiteLLM's ``"<Header>: <value>"``) was
exported as ``{"X-Service": " checkout"}``, a value with a leading space that matches no other
export's ``checkout``. Keys and values are trimmed; the raw tags stay in ``x_RequestTags``."""

from __future__ import annotations

import json

from ledgerlm.ledger.focus_rows import _tags


def test_header_tags_are_trimmed_in_focus_tags() -> None:
    tags, raw = _tags(["X-Service: checkout", "env:prod", " team : search "])
    assert json.loads(tags) == {"X-Service": "checkout", "env": "prod", "team": "search"}
    assert json.loads(raw) == ["X-Service: checkout", "env:prod", " team : search "]
