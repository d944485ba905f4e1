"""Wrong-typed request fields are refused at parse with a 400 ``invalid_request_error`` naming the
field, and the failure row is still logged: the Responses API translated for chat-only providers
(Anthropic, Gemini, Bedrock, an OpenAI-compatible chat server), and the sampling fields
(``max_tokens``, ``max_completion_tokens``, ``temperature``, ``n``) of ``/v1/chat/completions`` and
``/v1/messages``. Real proxy, the simulator upstream, the official ``openai``/``anthropic`` clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from tests.e2e.conftest import MASTER_KEY, SIM_KEY, Proxy, model_list

from ledgerlm.simulator import Simulator
from ledgerlm.simulator.bedrock import SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield f"sqlite:///{tmp_path_factory.mktemp('db')}/ledgerlm.db"


def _entries(sim_url: str) -> list[dict[str, Any]]:
    return [
        {
            "model_name": "chk-claude",
            "litellm_params": {
                "model": "anthropic/claude-sonnet-4-20250514",
                "api_base": sim_url,
                "api_key": "k",
            },
        },
        {
            "model_name": "chk-gemini",
            "litellm_params": {"model": "gemini/gemini-2.5-flash", "api_base": sim_url, "api_key": "AIza-x"},
        },
        {
            "model_name": "chk-nova",
            "litellm_params": {
                "model": "bedrock/us.amazon.nova-micro-v1:0",
                "api_base": sim_url,
                "aws_access_key_id": SIM_ACCESS_KEY_ID,
                "aws_secret_access_key": SIM_SECRET_ACCESS_KEY,
                "aws_region_name": "us-east-1",
            },
        },
        {
            "model_name": "chk-compat",
            "litellm_params": {
                "model": "openai_like/sim-compat",
                "api_base": f"{sim_url}/v1",
                "api_key": SIM_KEY,
            },
        },
    ]


@pytest.fixture(scope="module")
def cproxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    return proxy_factory(database_url, model_list=model_list(simulator.url) + _entries(simulator.url))


def _refused(proxy: Proxy, path: str, body: dict[str, Any], param: str, call_type: str) -> dict[str, Any]:
    status, answer, headers = proxy.request("POST", path, body)
    assert status == 400, answer
    error = answer["error"]
    assert error["param"] == param, error
    assert param.split("[")[0].split(".")[0] in error["message"]
    proxy.wait_written()
    row = proxy.row(headers["x-request-id"])
    assert row["status"] == "failure" and row["call_type"] == call_type
    assert row["spend"] == 0 and row["prompt_tokens"] == 0
    return error


IMAGE = {"type": "input_image", "image_url": 5}
RESPONSES_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("input is a number", {"input": 5}, "input"),
    ("input item is a string in a list", {"input": ["hi"]}, "input[0]"),
    ("role is unknown", {"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ("content is a number", {"input": [{"role": "user", "content": 5}]}, "input[0].content"),
    ("content part is a string", {"input": [{"role": "user", "content": ["x"]}]}, "input[0].content[0]"),
    (
        "image_url is a number",
        {"input": [{"role": "user", "content": [IMAGE]}]},
        "input[0].content[0].image_url",
    ),
    (
        "input_text text is a list",
        {"input": [{"role": "user", "content": [{"type": "input_text", "text": ["a"]}]}]},
        "input[0].content[0].text",
    ),
    (
        "input_file cannot be translated",
        {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
        "input[0].content[0].type",
    ),
    (
        "function_call name missing",
        {"input": [{"type": "function_call", "call_id": "c", "arguments": "{}"}]},
        "input[0].name",
    ),
    (
        "function_call_output output is a number",
        {"input": [{"type": "function_call_output", "call_id": "c", "output": 3}]},
        "input[0].output",
    ),
    ("tools is a string", {"input": "x", "tools": "search"}, "tools"),
    ("tool is a string", {"input": "x", "tools": ["f"]}, "tools[0]"),
    ("tool name missing", {"input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
    (
        "tool parameters is a list",
        {"input": "x", "tools": [{"type": "function", "name": "f", "parameters": []}]},
        "tools[0].parameters",
    ),
    ("tool_choice is a number", {"input": "x", "tool_choice": 3}, "tool_choice"),
    ("max_output_tokens is a string", {"input": "x", "max_output_tokens": "50"}, "max_output_tokens"),
    ("max_output_tokens is negative", {"input": "x", "max_output_tokens": -5}, "max_output_tokens"),
    ("max_output_tokens is a bool", {"input": "x", "max_output_tokens": True}, "max_output_tokens"),
    ("temperature is a string", {"input": "x", "temperature": "hot"}, "temperature"),
    ("reasoning is a string", {"input": "x", "reasoning": "high"}, "reasoning"),
    ("reasoning.effort is a number", {"input": "x", "reasoning": {"effort": 2}}, "reasoning.effort"),
    ("text is a string", {"input": "x", "text": "json"}, "text"),
    ("text.format is a string", {"input": "x", "text": {"format": "json"}}, "text.format"),
    ("text.format.type unknown", {"input": "x", "text": {"format": {"type": "xml"}}}, "text.format.type"),
    (
        "json_schema without schema",
        {"input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}},
        "text.format.schema",
    ),
    ("instructions is a list", {"input": "x", "instructions": ["a"]}, "instructions"),
]


@pytest.mark.parametrize(("name", "body", "param"), RESPONSES_CASES, ids=[c[0] for c in RESPONSES_CASES])
def test_responses_wrong_types_are_400_naming_the_field(
    cproxy: Proxy, name: str, body: dict[str, Any], param: str
) -> None:
    error = _refused(cproxy, "/v1/responses", {"model": "chk-claude", **body}, param, "aresponses")
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize("model", ["chk-claude", "chk-gemini", "chk-nova", "chk-compat"])
def test_responses_bad_image_on_every_translated_provider(cproxy: Proxy, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        cproxy.client().responses.create(
            model=model,
            input=[{"role": "user", "content": [IMAGE]}],  # type: ignore[list-item]
        )
    assert caught.value.body["param"] == "input[0].content[0].image_url"  # type: ignore[index]
    good = cproxy.client().responses.create(model=model, input="still served", max_output_tokens=20)
    assert good.status == "completed"


def test_responses_native_numbers_checked_too(cproxy: Proxy) -> None:
    _refused(
        cproxy,
        "/v1/responses",
        {"model": "gpt-4o-mini", "input": "x", "max_output_tokens": "lots"},
        "max_output_tokens",
        "aresponses",
    )


CHAT_CASES: list[tuple[str, Any]] = [
    ("max_tokens", "many"),
    ("max_tokens", 0),
    ("max_tokens", 1.5),
    ("max_completion_tokens", "5"),
    ("temperature", "warm"),
    ("temperature", 7),
    ("n", "two"),
    ("n", 0),
]


@pytest.mark.parametrize(("field", "value"), CHAT_CASES)
@pytest.mark.parametrize("model", ["gpt-4o-mini", "chk-claude"])
def test_chat_sampling_fields_checked_at_parse(cproxy: Proxy, model: str, field: str, value: Any) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], field: value}
    error = _refused(cproxy, "/v1/chat/completions", body, field, "acompletion")
    assert error["type"] == "invalid_request_error" and field in error["message"]


def test_chat_client_gets_bad_request(cproxy: Proxy) -> None:
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        cproxy.client().chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens="12",  # type: ignore[arg-type]
        )
    ok = cproxy.client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=12, temperature=0.5, n=1
    )
    assert ok.choices


@pytest.mark.parametrize(
    ("field", "value"), [("max_tokens", "100"), ("max_tokens", -1), ("temperature", 1.5), ("top_k", "3")]
)
def test_messages_sampling_fields_checked_at_parse(cproxy: Proxy, field: str, value: Any) -> None:
    client = anthropic.Anthropic(base_url=cproxy.url, api_key=MASTER_KEY, max_retries=0, timeout=30)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="chk-claude",
            max_tokens=10,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={field: value},
        )
    assert caught.value.status_code == 400
    assert field in caught.value.message
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    request_id = caught.value.response.headers["x-request-id"]
    cproxy.wait_written()
    row = cproxy.row(request_id)
    assert row["status"] == "failure" and row["call_type"] == "amessages"


WRONG: list[Any] = [5, -1, 1.5, "x", True, [], {}, [1], [{"type": 5}], {"type": "function"}]
FIELDS = [
    "input",
    "instructions",
    "max_output_tokens",
    "temperature",
    "top_p",
    "top_logprobs",
    "tools",
    "tool_choice",
    "text",
    "reasoning",
    "parallel_tool_calls",
    "user",
]
ITEM_FIELDS = ["role", "content", "type"]
PART_FIELDS = ["type", "text", "image_url", "file_id", "detail"]


@pytest.mark.parametrize("model", ["chk-claude", "chk-nova"])
def test_responses_fuzz_never_a_500(cproxy: Proxy, model: str) -> None:
    """Every documented field (top level, input item, content part) with every wrong type: a 200 or a
    400 naming a field, never a 500."""
    bodies: list[dict[str, Any]] = []
    for field in FIELDS:
        bodies += [{"input": "hi", field: value} for value in WRONG]
    for field in ITEM_FIELDS:
        bodies += [{"input": [{"role": "user", "content": "hi", field: value}]} for value in WRONG]
    for field in PART_FIELDS:
        part = {"type": "input_text", "text": "hi"}
        bodies += [{"input": [{"role": "user", "content": [{**part, field: v}]}]} for v in WRONG]
    for field in ("call_id", "name", "arguments"):
        call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
        bodies += [{"input": [{**call, field: v}]} for v in WRONG]
    bodies += [{"input": [{"type": "function_call_output", "call_id": "c", "output": v}]} for v in WRONG]
    for field in ("name", "description", "parameters", "strict"):
        tool = {"type": "function", "name": "f", "parameters": {"type": "object"}}
        bodies += [{"input": "hi", "tools": [{**tool, field: v}]} for v in WRONG]
    for field in ("type", "name", "schema"):
        fmt = {"type": "json_schema", "name": "n", "schema": {"type": "object"}}
        bodies += [{"input": "hi", "text": {"format": {**fmt, field: v}}} for v in WRONG]
    bodies += [{"input": "hi", "reasoning": {"effort": v}} for v in WRONG]
    bodies += [{"input": "hi", "tool_choice": {"type": "function", "name": v}} for v in WRONG]
    for body in bodies:
        status, answer, _ = cproxy.request("POST", "/v1/responses", {"model": model, **body})
        assert status in (200, 400), (body, answer)
        if status == 400:
            assert answer["error"]["type"] == "invalid_request_error" and answer["error"]["param"], body
