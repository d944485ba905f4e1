"""Property-based bad input: schemathesis generates requests for every operation of the running proxy's
``/openapi.json`` (valid data, then invalid data) and checks that no answer is a 5xx and that every
answer matches the schema (and content type) documented for its status. Bounded (``MAX_EXAMPLES`` per
operation and mode) so the suite stays fast; the machine's PostgreSQL behind the proxy; the simulator as
upstream.

schemathesis' own pytest loader (``from_fixture``) does not run on pytest 9, so each operation is driven
through its Hypothesis strategy (``APIOperation.as_strategy``) inside a plain parametrized test.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance
from tests.e2e.conftest import MASTER_KEY, Proxy

from ledgerlm.proxy.openapi import openapi_document

MAX_EXAMPLES = 5
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _operations() -> list[tuple[str, str]]:
    """Every documented operation except the pass-through routes, which relay the provider's own
    answers (a provider's 5xx included) and are covered by tests/e2e/test_passthrough.py."""
    paths = openapi_document()["paths"]
    return [
        (method.upper(), path)
        for path, item in paths.items()
        for method, op in item.items()
        if not op.get("x-ledgerlm-pass-through")
    ]


@pytest.fixture(scope="module")
def proxy(pg_database: str, proxy_factory: Any) -> Proxy:
    proxy: Proxy = proxy_factory(pg_database, litellm_settings={"callbacks": ["prometheus"]})
    return proxy


@pytest.fixture(scope="module")
def api_schema(proxy: Proxy) -> Any:
    """The proxy's own OpenAPI document, loaded over HTTP from the running proxy."""
    return schemathesis.openapi.from_url(f"{proxy.url}/openapi.json")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: v)
def test_no_5xx_and_no_schema_violation(
    api_schema: Any, proxy: Proxy, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    calls: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call_and_validate(
            base_url=proxy.url, headers={"Authorization": f"Bearer {MASTER_KEY}"}, checks=CHECKS, timeout=30
        )
        calls.append(response.status_code)

    try:
        run()
    except Unsatisfiable:
        # negative mode on an operation with nothing to make invalid (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE and not _has_inputs(operation), (method, path)
        return
    assert calls, "schemathesis generated no request"


def _has_inputs(operation: Any) -> bool:
    definition = operation.definition.raw
    return bool(definition.get("parameters") or definition.get("requestBody"))
