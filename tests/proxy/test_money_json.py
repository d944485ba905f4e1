"""Money leaves the proxy as JSON numbers with the exact decimal digits (issue 17 item 4): one encoder at
the JSON edge (``ledgerlm.proxy.http``) for every response."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ledgerlm.proxy.http import json_response


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.00000855"), "0.00000855"),  # a float would print 8.55e-06
        (Decimal("12.50"), "12.5"),
        (Decimal("1E+2"), "100"),
        (Decimal("-0"), "0"),
        (Decimal("0.1") + Decimal("0.2"), "0.3"),  # float arithmetic would give 0.30000000000000004
        (Decimal("123456789012.0123456789"), "123456789012.0123456789"),
    ],
)
def test_decimal_is_an_exact_json_number(value: Decimal, text: str) -> None:
    body = bytes(json_response({"spend": value, "rows": [{"max_budget": value}]}).body)
    assert body == f'{{"spend":{text},"rows":[{{"max_budget":{text}}}]}}'.encode()
    parsed = json.loads(body, parse_float=Decimal)
    assert parsed["spend"] == value and isinstance(json.loads(body)["spend"], (int, float))


def test_non_finite_decimal_is_null_not_invalid_json() -> None:
    assert json.loads(bytes(json_response({"x": Decimal("NaN")}).body)) == {"x": None}
