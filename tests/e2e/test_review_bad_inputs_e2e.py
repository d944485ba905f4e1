"""Hostile bodies on the Responses API through the proxy to the simulator (review of issue 15).

``input_text`` parts whose ``text`` is a number crashed the simulator (a 500 the proxy relayed as
``openai returned HTTP 500``); the simulator now answers OpenAI's 400 (``Invalid type for
'input[0].content[0].text'``), the proxy relays it with its status, and the call leaves exactly one
failure row and no spend. Official ``openai`` client; SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from typing import Any

import openai
import pytest
from tests.e2e.conftest import Proxy, model_list

from ledgerlm.simulator import Simulator


@pytest.fixture(scope="module")
def rproxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    return proxy_factory(database_url, model_list=model_list(simulator.url))


@pytest.mark.parametrize("stream", [False, True])
def test_responses_non_string_text_is_a_400_and_one_failure_row(rproxy: Proxy, stream: bool) -> None:
    key = rproxy.new_key(max_budget=1)
    bad_input: Any = [{"role": "user", "content": [{"type": "input_text", "text": 5}]}]
    with pytest.raises(openai.BadRequestError) as err:
        rproxy.client(key).responses.create(model="gpt-4o-mini", input=bad_input, stream=stream)
    assert "input[0].content[0].text" in str(err.value)
    rproxy.wait_written()
    rows = rproxy.rows(api_key=hashlib.sha256(key.encode()).hexdigest())
    assert len(rows) == 1 and rows[0]["status"] == "failure" and not rows[0]["spend"]
    # the reservation was released: the key's whole budget is still available
    info = rproxy.ok("GET", f"/key/info?key={key}")
    assert str(info["info"]["spend"]) in ("0", "0.0")
