"""A small real price for tests: linear USD per input and per output token, implementing the pricing
contract ``max_cost(input_tokens, max_output_tokens) -> Decimal | None`` that budgets rely on."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class LinearPrice:
    input_per_token: Decimal | None
    output_per_token: Decimal | None

    def max_cost(self, input_tokens: int, max_output_tokens: int) -> Decimal | None:
        if self.input_per_token is None or self.output_per_token is None:
            return None
        return self.input_per_token * input_tokens + self.output_per_token * max_output_tokens
