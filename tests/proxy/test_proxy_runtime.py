"""Each proxy app owns its runtime: its provider calls go through ``state.runtime.transport`` and the
app's shutdown closes it. The upstream is an ``InMemoryTransport``; the proxy, its store (a fresh
PostgreSQL database) and the spend rows are real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.helpers.pg import temp_database

from ledgerlm.providers.base import HTTPRequest
from ledgerlm.proxy.app import build_app
from ledgerlm.proxy.config import parse_config
from ledgerlm.proxy.state import build_state
from ledgerlm.runtime import Runtime
from ledgerlm.transport import AiohttpTransport, InMemoryTransport, MemoryResponse

MASTER = "sk-master-runtime"
COMPLETION = {
    "id": "chatcmpl-runtime",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}


@pytest.fixture(scope="module")
def database(postgres_url: str) -> Iterator[str]:
    with temp_database(postgres_url) as url:
        yield url


class _Closing(InMemoryTransport):
    def __init__(self, handler: Any) -> None:
        super().__init__(handler)
        self.closed = 0

    async def aclose(self) -> None:
        self.closed += 1


async def test_the_app_calls_through_its_runtime_and_closes_it(database: str, tmp_path: Path) -> None:
    config = parse_config(
        {
            "model_list": [
                {
                    "model_name": "runtime-model",
                    "litellm_params": {
                        "model": "openai/gpt-4o-mini",
                        "api_base": "http://upstream.test/v1",
                        "api_key": "sk-upstream",
                    },
                }
            ],
            "general_settings": {"master_key": MASTER, "database_url": database, "spool_dir": str(tmp_path)},
        }
    )
    state = build_state(config, base_dir=tmp_path)
    assert isinstance(state.runtime.transport, AiohttpTransport)
    seen: list[HTTPRequest] = []

    def upstream(request: HTTPRequest) -> MemoryResponse:
        seen.append(request)
        return MemoryResponse(200, json=COMPLETION)

    memory = _Closing(upstream)
    state.runtime = Runtime(transport=memory)
    app = build_app(state)
    async with app.router.lifespan_context(app):
        client = InMemoryTransport(app=app)  # the client side, in memory too
        body = {"model": "runtime-model", "messages": [{"role": "user", "content": "hello"}]}
        headers = {"authorization": f"Bearer {MASTER}", "content-type": "application/json"}
        request = HTTPRequest("POST", "http://proxy/v1/chat/completions", headers, orjson.dumps(body))
        response = await client.request(request, timeout=30.0, stream=False)
        answer = await response.read()
        assert response.status == 200, answer
        assert orjson.loads(answer)["choices"][0]["message"]["content"] == "hi"
        assert float(response.headers["x-litellm-response-cost"]) > 0
        assert len(seen) == 1 and seen[0].url == "http://upstream.test/v1/chat/completions"
        assert orjson.loads(seen[0].body)["model"] == "gpt-4o-mini"
        assert memory.closed == 0
    assert memory.closed == 1, "the app's shutdown closes its runtime"


async def test_two_runtimes_have_their_own_sessions() -> None:
    first, second = Runtime(), Runtime()
    one = await first.transport.session()  # type: ignore[attr-defined]
    other = await second.transport.session()  # type: ignore[attr-defined]
    assert one is not other
    await first.aclose()
    assert one.closed and not other.closed
    await second.aclose()
    assert other.closed
