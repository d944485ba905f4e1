"""Audit (issue 18 item 6): every numeric usage field in the recorded provider payloads of
../shared/fixtures is one the format's documented list knows (``ledgerlm.usage.known_fields``), so a
field a provider adds later is the only thing ``unknown_usage_fields`` reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ledgerlm.usage.dispatch import provider_family
from ledgerlm.usage.known_fields import unknown_usage_fields

_PROVIDER = {"vertex": "vertex_ai", "azure_openai": "azure"}


def _usage(body: Any) -> Any:
    if not isinstance(body, dict):
        return None
    inner = body.get("response") if isinstance(body.get("response"), dict) else {}
    return body.get("usage") or body.get("usageMetadata") or inner.get("usage")


def test_every_recorded_usage_field_is_documented(shared_fixtures: Path) -> None:
    checked, unknown = 0, {}
    for path in sorted(shared_fixtures.glob("*/*/response.json")):
        provider = path.parent.parent.name
        try:
            usage = _usage(json.loads(path.read_text()))
        except ValueError:
            continue
        if isinstance(usage, dict):
            checked += 1
            found = unknown_usage_fields(usage, provider_family(_PROVIDER.get(provider, provider)))
            if found:
                unknown[f"{provider}/{path.parent.name}"] = found
    assert checked >= 20
    assert unknown == {}
