"""Response cache: hit and miss with the local and the Redis backend, per-request controls, one and two
proxy instances sharing Redis; the spend rows (cache_hit, spend 0, saved cost), callbacks' cache_hit,
and budgets not charged for hits."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.routing.harness import RoutedProxy, deployment

from ledgerlm.simulator import Simulator

CALLBACK_MODULE = "ledgerlm_routing_cache_callbacks"
CALLBACK_SOURCE = """
from ledgerlm.callbacks import CustomLogger

EVENTS = []


class Recorder(CustomLogger):
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        EVENTS.append((kwargs["litellm_call_id"], kwargs["cache_hit"], kwargs["response_cost"]))


handler = Recorder()
"""
PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(models={"m": {"completion_tokens": 7}}) as running:
        yield running


def _proxy(folder: Path, sim: Simulator, cache_params: dict[str, Any], **sections: Any) -> RoutedProxy:
    folder.mkdir(parents=True, exist_ok=True)
    litellm = {"cache": True, "cache_params": cache_params, "callbacks": [f"{CALLBACK_MODULE}.handler"]}
    return RoutedProxy(
        folder, [deployment("cached", sim.url, "m", **PRICES)], litellm_settings=litellm, **sections
    )


@pytest.fixture(scope="module")
def callbacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Any]]:
    folder = tmp_path_factory.mktemp("callbacks")
    (folder / f"{CALLBACK_MODULE}.py").write_text(CALLBACK_SOURCE, encoding="utf-8")
    sys.path.insert(0, str(folder))
    import importlib

    module = importlib.import_module(CALLBACK_MODULE)
    yield module.EVENTS
    sys.path.remove(str(folder))


def _calls(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if r.json.get("model") == "m")


def _hit_and_miss(proxy: RoutedProxy, sim: Simulator, events: list[Any], content: str) -> None:
    before = _calls(sim)
    first = proxy.chat("cached", **{"metadata": {"n": 1}})
    first_content = first.parse().choices[0].message.content
    client = proxy.client()
    second = client.chat.completions.with_raw_response.create(
        model="cached", messages=[{"role": "user", "content": "hello there"}]
    )
    assert _calls(sim) == before + 1, "the hit answered without a provider call"
    assert second.parse().choices[0].message.content == first_content
    assert second.headers["x-litellm-cache-key"] == first.headers["x-litellm-cache-key"]
    assert Decimal(second.headers["x-litellm-response-cost"]) == 0
    miss = proxy.rows(request_id=first.headers["x-request-id"])[0]
    hit = proxy.rows(request_id=second.headers["x-request-id"])[0]
    assert not miss["cache_hit"] and miss["spend"] > 0
    assert hit["cache_hit"] and hit["spend"] == 0 and hit["prompt_tokens"] == 0
    saved = hit["metadata"]["request_metadata"]["cache"]["saved_cost"]
    assert Decimal(saved) == miss["spend"]
    by_id = {rid: (flag, cost) for rid, flag, cost in events}
    assert by_id[second.headers["x-request-id"]] == (True, Decimal(0))
    assert by_id[first.headers["x-request-id"]][0] is False
    assert content


def test_local_cache_hit_and_miss(tmp_path: Path, sim: Simulator, callbacks: list[Any]) -> None:
    proxy = _proxy(tmp_path, sim, {"type": "local", "ttl": 60, "namespace": uuid.uuid4().hex})
    try:
        _hit_and_miss(proxy, sim, callbacks, "local")
    finally:
        proxy.close()


def test_per_request_controls(tmp_path: Path, sim: Simulator, callbacks: list[Any]) -> None:
    proxy = _proxy(tmp_path, sim, {"type": "local", "ttl": 60})
    try:
        before = _calls(sim)
        proxy.chat("cached", cache={"no-store": True})
        proxy.chat("cached", cache={"no-store": True})
        assert _calls(sim) == before + 2, "no-store: nothing kept"
        proxy.chat("cached")
        raw = proxy.chat("cached", cache={"no-cache": True})
        assert _calls(sim) == before + 4, "no-cache: the lookup is skipped"
        assert not proxy.rows(request_id=raw.headers["x-request-id"])[0]["cache_hit"]
        assert proxy.rows(request_id=proxy.chat("cached").headers["x-request-id"])[0]["cache_hit"]
        proxy.chat("cached", stream=False, temperature=0.5)
        assert _calls(sim) == before + 5, "another parameter is another key"
    finally:
        proxy.close()


def test_redis_cache_shared_by_two_instances(
    tmp_path: Path, sim: Simulator, callbacks: list[Any], redis_url: str
) -> None:
    params = {"type": "redis", "url": redis_url, "ttl": 60, "namespace": f"t-{uuid.uuid4().hex[:8]}"}
    database_url = f"sqlite:///{tmp_path}/ledger.db"
    one = _proxy(tmp_path / "one", sim, params, database_url=database_url)
    two = _proxy(tmp_path / "two", sim, params, database_url=database_url)
    try:
        _hit_and_miss(one, sim, callbacks, "redis")
        before = _calls(sim)
        raw = two.chat("cached", **{"metadata": {"n": 2}})
        assert _calls(sim) == before, "instance two answered from instance one's entry"
        assert two.rows(request_id=raw.headers["x-request-id"])[0]["cache_hit"]
    finally:
        one.close()
        two.close()


def test_budget_not_charged_for_hits(tmp_path: Path, sim: Simulator, callbacks: list[Any]) -> None:
    proxy = _proxy(tmp_path, sim, {"type": "local"})
    try:
        key = proxy.admin("POST", "/key/generate", {"max_budget": 1})["key"]
        proxy.chat("cached", key=key)
        proxy.wait_written()
        spent = proxy.admin("GET", f"/key/info?key={key}")["info"]["spend"]
        for _ in range(3):
            proxy.chat("cached", key=key)
        proxy.wait_written()
        assert proxy.admin("GET", f"/key/info?key={key}")["info"]["spend"] == spent
    finally:
        proxy.close()


async def test_unreachable_redis_cache_is_skipped() -> None:
    from ledgerlm.routing.cache import CacheControls, CacheSettings, ResponseCache

    cache = ResponseCache.build(CacheSettings(type="redis", redis_url="redis://127.0.0.1:1/0"))
    controls = CacheControls()
    with pytest.raises(Exception):  # noqa: B017 - the first failure reaches the caller, who logs it
        await cache.lookup("k", controls)
    assert not cache.available()
    assert await cache.lookup("k", controls) is None, "skipped at once during the outage"
    await cache.store("k", {"body": {}}, controls)
    await cache.backend.close()


def _stream(proxy: RoutedProxy, **extra: Any) -> tuple[Any, list[Any]]:
    raw = proxy.client().chat.completions.with_raw_response.create(
        model="cached",
        messages=[{"role": "user", "content": "hello there"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_body=extra or None,
    )
    return raw, list(raw.parse())


def _text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize("backend", ["local", "redis"])
def test_streamed_miss_is_stored_and_replayed(
    tmp_path: Path, sim: Simulator, callbacks: list[Any], redis_url: str, backend: str
) -> None:
    params: dict[str, Any] = {"type": backend, "ttl": 60, "namespace": f"s-{uuid.uuid4().hex[:8]}"}
    if backend == "redis":
        params["url"] = redis_url
    proxy = _proxy(tmp_path, sim, params)
    try:
        before = _calls(sim)
        miss, miss_chunks = _stream(proxy)
        hit, hit_chunks = _stream(proxy)
        assert _calls(sim) == before + 1, "the streamed hit answered without a provider call"
        assert _text(hit_chunks) == _text(miss_chunks) and _text(hit_chunks)
        assert hit_chunks[-1].usage is not None and hit_chunks[-1].usage.completion_tokens == 7
        assert [c.choices[0].finish_reason for c in hit_chunks if c.choices][-1] == "stop"
        assert hit.headers["x-litellm-cache-key"] == miss.headers["x-litellm-cache-key"]
        miss_row = proxy.rows(request_id=miss.headers["x-request-id"])[0]
        hit_row = proxy.rows(request_id=hit.headers["x-request-id"])[0]
        assert not miss_row["cache_hit"] and miss_row["spend"] > 0
        assert hit_row["cache_hit"] and hit_row["spend"] == 0 and hit_row["completion_tokens"] == 0
        saved = hit_row["metadata"]["request_metadata"]["cache"]["saved_cost"]
        assert Decimal(saved) == miss_row["spend"]
        by_id = {rid: flag for rid, flag, _ in callbacks}
        assert by_id[hit.headers["x-request-id"]] is True
        plain = proxy.chat("cached")
        assert _calls(sim) == before + 1, "a plain call is served from the streamed entry"
        assert plain.parse().choices[0].message.content == _text(miss_chunks)
    finally:
        proxy.close()


def test_plain_entry_replayed_to_a_stream_and_broken_stream_not_stored(
    tmp_path: Path, callbacks: list[Any]
) -> None:
    with Simulator(models={"m": {"completion_tokens": 7, "break_after_chunks": 2}}) as broken:
        proxy = _proxy(tmp_path, broken, {"type": "local", "ttl": 60})
        try:
            with pytest.raises(Exception):  # noqa: B017 - the break reaches the client in the stream
                _stream(proxy)
            with pytest.raises(Exception):  # noqa: B017
                _stream(proxy)
            assert _calls(broken) == 2, "a stream cut short is never stored"
        finally:
            proxy.close()
    with Simulator(models={"m": {"completion_tokens": 7}}) as fine:
        proxy = _proxy(tmp_path / "plain", fine, {"type": "local", "ttl": 60})
        try:
            content = proxy.chat("cached").parse().choices[0].message.content
            hit, chunks = _stream(proxy)
            assert _calls(fine) == 1 and _text(chunks) == content
            assert proxy.rows(request_id=hit.headers["x-request-id"])[0]["cache_hit"]
        finally:
            proxy.close()


def test_streamed_entry_shared_by_two_instances(
    tmp_path: Path, sim: Simulator, callbacks: list[Any], redis_url: str
) -> None:
    params = {"type": "redis", "url": redis_url, "ttl": 60, "namespace": f"s2-{uuid.uuid4().hex[:8]}"}
    database_url = f"sqlite:///{tmp_path}/ledger.db"
    one = _proxy(tmp_path / "one", sim, params, database_url=database_url)
    two = _proxy(tmp_path / "two", sim, params, database_url=database_url)
    try:
        before = _calls(sim)
        _, miss_chunks = _stream(one)
        hit, hit_chunks = _stream(two)
        assert _calls(sim) == before + 1, "instance two replayed instance one's streamed answer"
        assert _text(hit_chunks) == _text(miss_chunks)
        assert two.rows(request_id=hit.headers["x-request-id"])[0]["cache_hit"]
    finally:
        one.close()
        two.close()
