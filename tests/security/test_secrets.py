"""No secret is ever written anywhere (DESIGN rule 6), proven with canaries.

Canary values are planted as: a provider API key in the config, a provider API key in the environment
(``os.environ/...``), an AWS secret access key (a Bedrock deployment, SigV4-signed), the master key, a
virtual key (used as ``Authorization: Bearer``, and as ``x-api-key``), an unknown key in an
``Authorization`` header, and text inside a prompt with ``turn_off_message_logging`` on (content logging
off). Traffic covers plain, streamed, embeddings and Bedrock successes; upstream 500; a stream that breaks
mid-way; an unknown model; a refused key; and the database being unreachable for a while (rows wait in the
spool). Then every place a secret could leak is searched for each canary:

* every row of every table of the database (and virtual keys are stored only as their SHA-256 hash);
* every file the spool wrote (read while the database was unreachable, and after);
* the proxy process's own stdout/stderr (``--log-level debug``);
* every payload handed to a ``CustomLogger`` callback (``canary_logger.py``; proxy hooks see the request
  itself by design, so the prompt canary is only searched in logging payloads there);
* every payload of the ``file`` exporter.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
import yaml
from tests.e2e.conftest import SIM_KEY, Proxy
from tests.helpers.net import openai_client
from tests.helpers.pg import dump_tables, sync_engine
from tests.helpers.proxy_process import ProxyProcess
from tests.helpers.tcp_forwarder import TcpForwarder, route_url_through

from ledgerlm.simulator import Simulator

HERE = Path(__file__).parent


def _canary(label: str) -> str:
    return f"canary{label}{secrets.token_hex(12)}"


CANARIES = {
    "config provider key": "sk-" + _canary("cfg"),
    "env provider key": "sk-" + _canary("env"),
    "aws secret": _canary("aws") + "/Zx+",
    "master key": "sk-" + _canary("master"),
    "authorization header": "sk-" + _canary("authz"),
}
PROMPT = _canary("prompt")
SECRET_NAMES = list(CANARIES)


def _models(sim_url: str) -> list[dict[str, Any]]:
    base = f"{sim_url}/v1"
    aws = {
        "aws_access_key_id": "AKIACANARYKEYID00000",
        "aws_secret_access_key": CANARIES["aws secret"],
        "aws_region_name": "us-east-1",
    }
    price = {"input_cost_per_token": "0.000001", "output_cost_per_token": "0.000002"}
    openai_model = "openai/sim-priced"
    return [
        {
            "model_name": "cfg",
            "litellm_params": {
                "model": openai_model,
                "api_base": base,
                "api_key": CANARIES["config provider key"],
                **price,
            },
        },
        {
            "model_name": "env",
            "litellm_params": {
                "model": openai_model,
                "api_base": base,
                "api_key": "os.environ/LEDGERLM_CANARY_PROVIDER_KEY",
                **price,
            },
        },
        {
            "model_name": "broken",
            "litellm_params": {
                "model": "openai/sim-broken",
                "api_base": base,
                "api_key": CANARIES["config provider key"],
            },
        },
        {
            "model_name": "breaking",
            "litellm_params": {
                "model": "openai/sim-breaking",
                "api_base": base,
                "api_key": CANARIES["config provider key"],
            },
        },
        {
            "model_name": "embed",
            "litellm_params": {
                "model": "openai/text-embedding-3-small",
                "api_base": base,
                "api_key": "os.environ/LEDGERLM_CANARY_PROVIDER_KEY",
            },
        },
        {
            "model_name": "nova",
            "litellm_params": {"model": "bedrock/us.amazon.nova-micro-v1:0", "api_base": sim_url, **aws},
        },
    ]


@pytest.fixture(scope="module")
def run(
    pg_database: str, simulator: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The proxy subprocess with every canary planted, after the traffic; what it left behind."""
    tmp = tmp_path_factory.mktemp("secrets")
    shutil.copy(HERE / "canary_logger.py", tmp / "canary_logger.py")
    forwarder = TcpForwarder("127.0.0.1", 5432)
    config = {
        "model_list": _models(simulator.url),
        "general_settings": {
            "master_key": CANARIES["master key"],
            "database_url": route_url_through(pg_database, forwarder),
            "spool_dir": str(tmp / "spool"),
            "store_prompts_in_spend_logs": False,
        },
        "litellm_settings": {
            "num_retries": 0,
            "request_timeout": 10,
            "turn_off_message_logging": True,
            "callbacks": ["canary_logger.CanaryLogger", "file"],
        },
        "callback_settings": {"file": {"directory": str(tmp / "exported"), "flush_interval_s": 0.05}},
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {
        "LEDGERLM_CANARY_PROVIDER_KEY": CANARIES["env provider key"],
        "LEDGERLM_CANARY_OUT": str(tmp / "callbacks.txt"),
    }
    proc = ProxyProcess(tmp / "config.yaml", tmp / "proxy.log", env=env, log_level="debug")
    observer = Proxy(proc.url, pg_database)
    try:
        result = _traffic(proc, observer, forwarder, tmp)
    finally:
        proc.terminate()  # graceful: exporters and callbacks flush
        forwarder.close()
    observer.close()
    result.update(tmp=tmp, database=pg_database, log=proc.log_text())
    yield result


def _traffic(proc: ProxyProcess, observer: Proxy, forwarder: TcpForwarder, tmp: Path) -> dict[str, Any]:
    master = CANARIES["master key"]
    vkey = _new_key(observer, master)
    spooled = ""
    with openai_client(proc.url, vkey) as client:
        ids = _calls(client)
        forwarder.cut()  # rows now wait in the spool
        ids += _calls(client)
        spooled = _read_tree(tmp / "spool")
        forwarder.restore()
    status, _, _ = observer.request("GET", "/v1/models", key=CANARIES["authorization header"])
    assert status == 401
    status, _, _ = observer.request("GET", "/v1/models", key=None, headers={"x-api-key": vkey})
    assert status == 200
    ids += _anthropic_calls(proc.url, vkey)
    _wait_rows(observer, ids)
    return {"vkey": vkey, "ids": ids, "spool_while_down": spooled}


def _new_key(observer: Proxy, master: str) -> str:
    return str(observer.ok("POST", "/key/generate", {"key_alias": "canary"}, key=master)["key"])


def _calls(client: openai.OpenAI) -> list[str]:
    """Success (plain, streamed, env key, embeddings, Bedrock) and failure paths; the request ids."""
    messages: Any = [{"role": "user", "content": f"please keep this private: {PROMPT}"}]
    ids = []
    for model in ("cfg", "env", "nova"):
        raw = client.chat.completions.with_raw_response.create(model=model, messages=messages)
        raw.parse()
        ids.append(raw.headers["x-request-id"])
    streamed = client.chat.completions.with_raw_response.create(model="cfg", messages=messages, stream=True)
    list(streamed.parse())
    ids.append(streamed.headers["x-request-id"])
    raw_embed = client.embeddings.with_raw_response.create(model="embed", input=PROMPT)
    raw_embed.parse()
    ids.append(raw_embed.headers["x-request-id"])
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model="broken", messages=messages)
    ids.append(failed.value.response.headers["x-request-id"])
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="breaking", messages=messages, stream=True))
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=messages)
    return ids


def _anthropic_calls(url: str, vkey: str) -> list[str]:
    """``/v1/messages`` with the official anthropic client (the key travels as ``x-api-key``): a plain
    and a streamed success, and an upstream failure."""
    messages: Any = [{"role": "user", "content": f"private too: {PROMPT}"}]
    client = anthropic.Anthropic(base_url=url, api_key=vkey, max_retries=0, timeout=30)
    ids = []
    try:
        raw = client.messages.with_raw_response.create(model="cfg", max_tokens=20, messages=messages)
        raw.parse()
        ids.append(raw.headers["x-request-id"])
        with client.messages.stream(model="cfg", max_tokens=20, messages=messages) as stream:
            stream.get_final_message()
        with pytest.raises(anthropic.APIStatusError):
            client.messages.create(model="broken", max_tokens=20, messages=messages)
    finally:
        client.close()
    return ids


def _wait_rows(observer: Proxy, ids: list[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not set(ids) <= {r["request_id"] for r in observer.rows()}:
        assert time.monotonic() < deadline, "spend rows did not reach the database"
        time.sleep(0.1)


def _read_tree(folder: Path) -> str:
    """Every file under ``folder``, decoded leniently, concatenated (with names)."""
    parts = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            parts.append(f"== {path}\n" + path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def _assert_absent(
    where: str, text: str, names: list[str], vkey: str | None = None, prompt: bool = False
) -> None:
    assert text, f"{where}: nothing to search (the check would be vacuous)"
    found = [name for name in names if CANARIES[name] in text]
    if vkey is not None and vkey in text:
        found.append("virtual key")
    if prompt and PROMPT in text:
        found.append("prompt text")
    assert not found, f"{where} contains: {', '.join(found)}"


def test_the_traffic_really_ran(run: dict[str, Any]) -> None:
    assert len(run["ids"]) == 13
    assert all(rid in run["spool_while_down"] for rid in run["ids"][6:12]), "rows did not wait in the spool"


def test_no_secret_in_the_database(run: dict[str, Any]) -> None:
    dump = dump_tables(run["database"])
    assert dump["spend_logs"] and dump["verification_tokens"]
    _assert_absent(
        "database",
        "\n".join(f"[{t}]\n{rows}" for t, rows in dump.items()),
        SECRET_NAMES,
        run["vkey"],
        prompt=True,
    )


def test_virtual_keys_are_stored_only_as_hashes(run: dict[str, Any]) -> None:
    import sqlalchemy as sa

    engine = sync_engine(run["database"])
    with engine.connect() as conn:
        tokens = [r[0] for r in conn.execute(sa.text("SELECT token FROM verification_tokens"))]
        spend_keys = {r[0] for r in conn.execute(sa.text("SELECT api_key FROM spend_logs"))}
    engine.dispose()
    digest = hashlib.sha256(run["vkey"].encode()).hexdigest()
    assert digest in tokens
    assert all(len(t) == 64 and int(t, 16) >= 0 for t in tokens)
    assert spend_keys == {digest}


def test_no_secret_in_the_spool(run: dict[str, Any]) -> None:
    _assert_absent("spool (database down)", run["spool_while_down"], SECRET_NAMES, run["vkey"], prompt=True)
    after = _read_tree(run["tmp"] / "spool")
    if after.strip():
        _assert_absent("spool (after)", after, SECRET_NAMES, run["vkey"], prompt=True)


def test_no_secret_in_the_process_log(run: dict[str, Any]) -> None:
    _assert_absent("proxy log", run["log"] + "\n(log)", SECRET_NAMES, run["vkey"], prompt=True)


def test_no_secret_in_callback_payloads(run: dict[str, Any]) -> None:
    logged = (run["tmp"] / "callbacks.txt").read_text(encoding="utf-8")
    assert "log_success_event" in logged and "log_failure_event" in logged
    _assert_absent("callback logging payloads", logged, SECRET_NAMES, run["vkey"], prompt=True)
    hooks = (run["tmp"] / "callbacks.txt.hooks").read_text(encoding="utf-8")
    assert "async_pre_call_hook" in hooks
    _assert_absent("proxy hook payloads", hooks, SECRET_NAMES, run["vkey"])


def test_no_secret_in_exported_payloads(run: dict[str, Any]) -> None:
    exported = _read_tree(run["tmp"] / "exported")
    for request_id in run["ids"][:3]:
        assert request_id in exported, "the file exporter did not receive the calls"
    _assert_absent("file exporter", exported, SECRET_NAMES, run["vkey"], prompt=True)


def test_sim_key_constant_is_not_a_canary() -> None:
    """The shared e2e upstream key is not one of ours (the search above would be meaningless)."""
    assert SIM_KEY not in CANARIES.values()


def test_the_search_finds_a_planted_canary(run: dict[str, Any]) -> None:
    """The config file holds three canaries on purpose: the search must report them (not vacuous)."""
    config = (run["tmp"] / "config.yaml").read_text(encoding="utf-8")
    with pytest.raises(AssertionError, match="config provider key, aws secret, master key"):
        _assert_absent("config file", config, SECRET_NAMES)
