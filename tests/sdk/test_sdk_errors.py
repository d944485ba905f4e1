"""Errors, retries, timeouts, broken and stalled streams, bad input: SDK over real HTTP to the simulator."""

from __future__ import annotations

import socket
import time

import orjson
import pytest
from sdk_helpers import MESSAGES, knobs

import ledgerlm
from ledgerlm import errors, transport
from ledgerlm.simulator import Simulator
from ledgerlm.transport import RetryPolicy

STATUS_CLASSES = [
    (400, errors.BadRequestError),
    (401, errors.AuthenticationError),
    (403, errors.PermissionDeniedError),
    (404, errors.NotFoundError),
    (422, errors.UnprocessableEntityError),
    (429, errors.RateLimitError),
    (500, errors.InternalServerError),
    (503, errors.ServiceUnavailableError),
    (529, errors.ServiceUnavailableError),
]


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_status_maps_to_error_class(base: str, status: int, cls: type[errors.APIError]) -> None:
    with pytest.raises(cls) as info:
        ledgerlm.completion(
            "openai/gpt-4o-mini",
            MESSAGES,
            api_base=base,
            api_key="sk",
            num_retries=0,
            **knobs(error_status=status),
        )
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    assert err.provider == "openai" and err.model == "gpt-4o-mini"
    assert isinstance(err.body, dict) and "error" in err.body
    assert f"HTTP {status}" in err.message
    assert err.request_id is not None and err.request_id.startswith("req_sim_")


async def test_async_error_carries_body_and_code(base: str) -> None:
    with pytest.raises(errors.NotFoundError) as info:
        await ledgerlm.acompletion(
            "openai/nope", MESSAGES, api_base=base, api_key="sk", num_retries=0, **knobs(error_status=404)
        )
    assert info.value.code == "model_not_found"
    assert info.value.body["error"]["type"] == "invalid_request_error"


def test_missing_auth_header_is_401_from_the_server(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    with pytest.raises(errors.AuthenticationError):
        ledgerlm.completion("ollama/llama3", MESSAGES, api_base=base, num_retries=0)


def test_missing_api_key_fails_before_any_request(
    sim: Simulator, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    before = len(sim.requests)
    with pytest.raises(errors.MissingAPIKeyError, match="DEEPSEEK_API_KEY"):
        ledgerlm.completion("deepseek/deepseek-chat", MESSAGES, api_base=base)
    assert len(sim.requests) == before


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff without waiting (the delays' shape is unit-tested in test_transport.py)."""
    monkeypatch.setattr(transport, "DEFAULT_RETRY_POLICY", RetryPolicy(initial_delay_s=0.0, max_delay_s=0.0))


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize("status", [429, 500, 503, 529])
def test_retries_then_succeeds(sim: Simulator, base: str, key: str, status: int) -> None:
    resp = ledgerlm.completion(
        "openai/gpt-4o-mini",
        MESSAGES,
        api_base=base,
        api_key="sk",
        num_retries=2,
        **knobs(error_status=status, fail_times=2, fail_key=key),
    )
    assert resp.ledger.record.retries == 2
    sent = [r for r in sim.requests if r.headers.get("x-sim", "").find(key) >= 0]
    assert len(sent) == 3


def test_retry_after_is_honoured(sim: Simulator, base: str, key: str) -> None:
    started = time.monotonic()
    resp = ledgerlm.completion(
        "openai/gpt-4o-mini",
        MESSAGES,
        api_base=base,
        api_key="sk",
        num_retries=1,
        **knobs(error_status=429, fail_times=1, fail_key=key, retry_after=0.3),
    )
    waited = time.monotonic() - started
    assert resp.ledger.record.retries == 1
    assert waited >= 0.3  # the client waited at least what Retry-After said (no upper bound asserted)


@pytest.mark.usefixtures("fast_retries")
def test_num_retries_zero_disables_retries(sim: Simulator, base: str, key: str) -> None:
    with pytest.raises(errors.RateLimitError) as info:
        ledgerlm.completion(
            "openai/gpt-4o-mini",
            MESSAGES,
            api_base=base,
            api_key="sk",
            num_retries=0,
            **knobs(error_status=429, fail_times=5, fail_key=key, retry_after=0),
        )
    assert info.value.retry_after == 0
    assert len([r for r in sim.requests if key in r.headers.get("x-sim", "")]) == 1


@pytest.mark.usefixtures("fast_retries")
def test_400_is_not_retried(sim: Simulator, base: str, key: str) -> None:
    with pytest.raises(errors.BadRequestError):
        ledgerlm.completion(
            "openai/gpt-4o-mini",
            MESSAGES,
            api_base=base,
            api_key="sk",
            num_retries=3,
            **knobs(error_status=400, fail_times=5, fail_key=key),
        )
    assert len([r for r in sim.requests if key in r.headers.get("x-sim", "")]) == 1


def test_timeout_non_streamed(base: str) -> None:
    with pytest.raises(errors.APITimeoutError, match=r"0\.2 s"):
        ledgerlm.completion(
            "openai/gpt-4o-mini",
            MESSAGES,
            api_base=base,
            api_key="sk",
            timeout=0.2,
            num_retries=0,
            **knobs(latency_ms=1500),
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.usefixtures("fast_retries")
async def test_connection_refused() -> None:
    with pytest.raises(errors.APIConnectionError, match="cannot connect") as info:
        await ledgerlm.acompletion(
            "openai/gpt-4o-mini",
            MESSAGES,
            api_base=f"http://127.0.0.1:{_free_port()}/v1",
            api_key="sk",
            num_retries=1,
        )
    assert type(info.value) is errors.APIConnectionError


def test_stalled_stream_times_out_with_one_failure_record(base: str) -> None:
    stream = ledgerlm.completion(
        "openai/gpt-4o-mini",
        MESSAGES,
        stream=True,
        api_base=base,
        api_key="sk",
        timeout=0.3,
        **knobs(stall_after_chunks=3),
    )
    received = []
    with pytest.raises(errors.APITimeoutError):
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 3
    record = stream.ledger.record
    assert record.status == "failure"
    assert record.error is not None and record.error.type == "APITimeoutError"
    # estimate from the two content deltas seen before the stall, "Hello " + "from ": ceil(11 chars / 4)
    assert stream.ledger.usage.output_tokens == 3
    assert stream.ledger.usage.raw == {"ledgerlm_estimated": True}


async def test_broken_stream_is_a_connection_error(base: str) -> None:
    stream = await ledgerlm.acompletion(
        "openai/gpt-4o-mini",
        MESSAGES,
        stream=True,
        api_base=base,
        api_key="sk",
        **knobs(break_after_chunks=2),
    )
    with pytest.raises(errors.APIConnectionError):
        async for _ in stream:
            pass
    assert stream.ledger.record.status == "failure"
    assert stream.ledger.record.error.type == "APIConnectionError"


async def test_error_event_inside_a_200_stream(base: str) -> None:
    stream = await ledgerlm.acompletion(
        "openai/gpt-4o-mini",
        MESSAGES,
        stream=True,
        api_base=base,
        api_key="sk",
        **knobs(stream_error_after_chunks=2),
    )
    with pytest.raises(errors.InternalServerError, match="inside the stream"):
        async for _ in stream:
            pass
    assert stream.ledger.record.error.type == "InternalServerError"


def test_stream_error_status_is_raised_before_iteration(base: str) -> None:
    with pytest.raises(errors.AuthenticationError):
        ledgerlm.completion(
            "openai/gpt-4o-mini",
            MESSAGES,
            stream=True,
            api_base=base,
            api_key="sk",
            num_retries=0,
            **knobs(error_status=401),
        )


def test_non_json_body_is_a_validation_error(base: str) -> None:
    with pytest.raises(errors.APIResponseValidationError, match="not JSON"):
        ledgerlm.completion(
            "openai/gpt-4o-mini", MESSAGES, api_base=base, api_key="sk", **knobs(raw_body="<html>oops</html>")
        )


def test_json_without_choices_is_a_validation_error(base: str) -> None:
    with pytest.raises(errors.APIResponseValidationError, match="choices"):
        ledgerlm.completion(
            "openai/gpt-4o-mini", MESSAGES, api_base=base, api_key="sk", **knobs(raw_body="{}")
        )


def test_unknown_provider_lists_known_prefixes() -> None:
    with pytest.raises(errors.UnsupportedProviderError, match="openai") as info:
        ledgerlm.completion("nosuch/model", MESSAGES, api_key="sk")
    assert "groq" in info.value.message
    with pytest.raises(errors.UnsupportedProviderError, match="provider/model"):
        ledgerlm.completion("llama-3-8b", MESSAGES, api_key="sk")


@pytest.mark.parametrize("messages", [[], None, "hello", [{"content": "no role"}]])
def test_bad_messages(messages: object) -> None:
    with pytest.raises(errors.BadRequestError, match="messages") as info:
        ledgerlm.completion("openai/gpt-4o-mini", messages, api_key="sk")  # type: ignore[arg-type]
    assert info.value.param == "messages"


@pytest.mark.parametrize("api_base", ["not a url", "ftp://host/v1", "http://", "http://host:99999/v1"])
def test_invalid_api_base(api_base: str) -> None:
    with pytest.raises(errors.BadRequestError, match="api_base"):
        ledgerlm.completion("openai/gpt-4o-mini", MESSAGES, api_key="sk", api_base=api_base)


def test_empty_embedding_input() -> None:
    with pytest.raises(errors.BadRequestError, match="input"):
        ledgerlm.embedding("openai/text-embedding-3-small", [], api_key="sk")


def test_stream_time_to_first_byte_timeout(base: str) -> None:
    with pytest.raises(errors.APITimeoutError):
        ledgerlm.completion(
            "openai/gpt-4o-mini",
            MESSAGES,
            stream=True,
            api_base=base,
            api_key="sk",
            timeout=0.2,
            num_retries=0,
            **knobs(latency_ms=1500),
        )


def test_dropped_sync_stream_is_one_failure_event(base: str) -> None:
    from ledgerlm import callbacks
    from ledgerlm.callbacks import CustomLogger

    class Collect(CustomLogger):
        def __init__(self) -> None:
            self.failures: list[object] = []
            self.successes: list[object] = []

        def log_failure_event(
            self, kwargs: dict, response_obj: object, start_time: object, end_time: object
        ) -> None:  # type: ignore[type-arg]
            self.failures.append(kwargs)

        def log_success_event(
            self, kwargs: dict, response_obj: object, start_time: object, end_time: object
        ) -> None:  # type: ignore[type-arg]
            self.successes.append(kwargs)

    logger = Collect()
    stream = ledgerlm.completion(
        "openai/gpt-4o-mini",
        MESSAGES,
        stream=True,
        api_base=base,
        api_key="sk",
        callbacks=[logger],
        **knobs(chunk_interval_ms=20),
    )
    next(stream)
    del stream
    import gc

    gc.collect()
    assert callbacks.flush(5.0)
    assert len(logger.failures) == 1 and logger.successes == []


async def test_stream_answered_with_a_non_sse_body(base: str) -> None:
    stream = await ledgerlm.acompletion(
        "openai/gpt-4o-mini",
        MESSAGES,
        stream=True,
        api_base=base,
        api_key="sk",
        **knobs(raw_body='{"ok": 1}'),
    )
    with pytest.raises(errors.APIResponseValidationError, match="without any stream event"):
        async for _ in stream:
            pass
    assert stream.ledger.record.error.type == "APIResponseValidationError"


def test_stream_cut_cleanly_before_its_end_is_a_failure(base: str) -> None:
    chunk = orjson.dumps(
        {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
    ).decode()
    stream = ledgerlm.completion(
        "openai/gpt-4o-mini",
        MESSAGES,
        stream=True,
        api_base=base,
        api_key="sk",
        **knobs(raw_body=f"data: {chunk}\n\n"),
    )
    received = []
    with pytest.raises(errors.APIConnectionError, match="ended before"):
        for c in stream:
            received.append(c)
    assert [c.choices[0].delta.content for c in received] == ["hi"]
    assert stream.ledger.record.status == "failure"
    assert stream.ledger.usage.output_tokens == 1
