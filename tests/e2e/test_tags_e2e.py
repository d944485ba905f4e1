"""Tag governance on the real proxy with the official openai client (SQLite and PostgreSQL).

Every tag source (header ``x-litellm-tags``, body ``tags``, ``metadata.tags``, the key, the team, the
deployment, a custom header from ``extra_spend_tag_headers``) under each policy action:

* ``reject``: the global ``general_settings.tag_policies`` (dimension ``env``);
* ``default``: a team's ``metadata.tag_policies`` (overrides the global one);
* ``quarantine``: a key's ``metadata.tag_policies`` (overrides the team's).

A value given through an alias (``prod``) is stored canonical (``env:production``); a refused value
answers 400 (naming the dimension and the allowed values; no upstream call, no charge, no tag rows),
is replaced by the default (recorded), or is quarantined (``env:invalid``, recorded). Then the
allocation report by dimension adds up to ``/global/spend/report`` to the cent with multi-valued and
untagged calls, and a tag budget on a dimension value (``env:production``) refuses the calls that
carry it, however the value got there.
"""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal
from typing import Any

import openai
import pytest
import sqlalchemy as sa
from tests.e2e.conftest import SIM_KEY, Proxy, model_list

from ledgerlm.simulator import Simulator
from ledgerlm.store import tables

ALLOWED = ["production", "staging"]
ENV_RULE: dict[str, Any] = {"required": True, "allowed": ALLOWED, "aliases": {"prod": "production"}}
SOURCES = ["header", "body", "metadata", "key", "team", "deployment", "custom_header"]
ACTIONS = ["reject", "default", "quarantine"]


def _models(sim_url: str) -> list[dict[str, Any]]:
    """The standard model groups plus ``priced`` deployments tagged ``env=prod`` and ``env:prdo``."""
    base = f"{sim_url}/v1"
    extra = []
    for name, tag in (("priced-env-ok", "env=prod"), ("priced-env-bad", "env:prdo")):
        params = {"model": "openai/sim-priced", "api_base": base, "api_key": SIM_KEY, "tags": [tag]}
        params |= {"input_cost_per_token": "0.000001", "output_cost_per_token": "0.000002"}
        extra.append({"model_name": name, "litellm_params": params})
    return [*model_list(sim_url), *extra]


@pytest.fixture(scope="module")
def governed(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    return proxy_factory(
        database_url,
        model_list=_models(simulator.url),
        general_settings={"tag_policies": {"env": ENV_RULE}},
        litellm_settings={"extra_spend_tag_headers": ["env"]},
    )


def _caller(proxy: Proxy, action: str, source: str, value: str) -> tuple[str, dict[str, Any]]:
    """A key (in a fresh team) for ``action`` with ``env`` ``value`` coming from ``source``; returns the
    key and the request arguments carrying the tag."""
    team_policy = {"env": {**ENV_RULE, "action": "default", "default": "staging"}}
    key_policy = {"env": {**ENV_RULE, "action": "quarantine"}}
    team_metadata = {"tag_policies": team_policy} if action == "default" else {}
    team = proxy.new_team(tags=[f"env:{value}"] if source == "team" else [], metadata=team_metadata)
    key_fields: dict[str, Any] = {"team_id": team}
    if source == "key":
        key_fields["tags"] = [f"env={value}"]
    if action == "quarantine":
        key_fields["metadata"] = {"tag_policies": key_policy}
    request: dict[str, Any] = {"model": "priced", "extra_headers": {}, "extra_body": {}}
    if source == "header":
        request["extra_headers"] = {"x-litellm-tags": f"app:x, env:{value}"}
    elif source == "body":
        request["extra_body"] = {"tags": [f"env={value}"]}
    elif source == "metadata":
        request["extra_body"] = {"metadata": {"tags": [f"env:{value}"]}}
    elif source == "deployment":
        request["model"] = "priced-env-ok" if value == "prod" else "priced-env-bad"
    elif source == "custom_header":
        request["extra_headers"] = {"env": value}
    return proxy.new_key(**key_fields), request


def _call(proxy: Proxy, key: str, request: dict[str, Any], marker: str) -> tuple[int, str, str]:
    """(status, request id, error message) of one chat call through the openai client."""
    messages = [{"role": "user", "content": marker}]
    try:
        raw = proxy.client(key).chat.completions.with_raw_response.create(messages=messages, **request)
    except openai.BadRequestError as exc:
        return 400, exc.response.headers["x-request-id"], str(exc.message)
    return raw.http_response.status_code, raw.headers["x-request-id"], ""


def _tag_rows(proxy: Proxy, request_id: str) -> list[str]:
    t = tables.spend_log_tags
    with proxy._db.connect() as conn:
        return [r[0] for r in conn.execute(sa.select(t.c.tag).where(t.c.request_id == request_id))]


def _policy_record(row: dict[str, Any]) -> dict[str, Any]:
    return dict((row["metadata"].get("request_metadata") or {}).get("tag_policy") or {})


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("source", SOURCES)
def test_every_source_under_every_action(
    governed: Proxy, simulator: Simulator, action: str, source: str
) -> None:
    key, request = _caller(governed, action, source, "prod")
    sent = f"ok-{uuid.uuid4().hex}"
    status, rid, _ = _call(governed, key, request, sent)
    assert status == 200 and any(sent in str(r.json) for r in simulator.requests)
    governed.wait_written()
    row = governed.row(rid)
    assert [t for t in row["request_tags"] if t.startswith("env")] == ["env:production"]
    assert _policy_record(row) == {} and "env:production" in _tag_rows(governed, rid)

    key, request = _caller(governed, action, source, "prdo")
    marker = f"bad-{uuid.uuid4().hex}"
    status, rid, message = _call(governed, key, request, marker)
    governed.wait_written()
    row = governed.row(rid)
    env_tags = [t for t in row["request_tags"] if t.startswith("env")]
    if action == "reject":
        assert status == 400 and "'env'" in message and "'prdo'" in message
        assert "'production', 'staging'" in message
        assert row["status"] == "failure" and not row["spend"]
        assert row["request_tags"] == [] and _tag_rows(governed, rid) == []
        assert not any(marker in str(r.json) for r in simulator.requests)  # no provider call
    elif action == "default":
        assert status == 200 and env_tags == ["env:staging"]
        assert _policy_record(row) == {"defaulted": ["env"], "invalid": {"env": ["prdo"]}}
    else:
        assert status == 200 and env_tags == ["env:invalid"]
        assert _policy_record(row) == {"quarantined": {"env": "invalid"}, "invalid": {"env": ["prdo"]}}


@pytest.mark.parametrize("action", ACTIONS)
def test_missing_dimension_under_every_action(governed: Proxy, action: str) -> None:
    key, request = _caller(governed, action, "none", "-")
    status, rid, message = _call(governed, key, request, "missing")
    governed.wait_written()
    row = governed.row(rid)
    if action == "reject":
        assert status == 400 and "'env:'" in message and row["request_tags"] == []
    elif action == "default":
        assert status == 200 and row["request_tags"] == ["env:staging"]
        assert _policy_record(row) == {"defaulted": ["env"]}
    else:
        assert status == 200 and row["request_tags"] == ["env:untagged"]
        assert _policy_record(row) == {"quarantined": {"env": "untagged"}}


def test_a_client_cannot_forge_the_policy_record(governed: Proxy) -> None:
    forged = {"metadata": {"tags": ["env:staging"], "tag_policy": {"defaulted": ["env"]}}}
    status, rid, _ = _call(governed, governed.new_key(), {"model": "priced", "extra_body": forged}, "forge")
    governed.wait_written()
    assert status == 200 and _policy_record(governed.row(rid)) == {}


def test_a_bad_policy_on_a_key_or_team_is_400(governed: Proxy) -> None:
    bad = {"tag_policies": {"env": {"action": "explode"}}}
    status, body, _ = governed.request("POST", "/key/generate", {"metadata": bad})
    assert status == 400 and "tag_policies.env.action" in body["error"]["message"]
    status, body, _ = governed.request("POST", "/team/new", {"metadata": bad})
    assert status == 400 and "tag_policies.env.action" in body["error"]["message"]


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def test_allocation_adds_up_to_the_global_total(governed: Proxy) -> None:
    key = governed.new_key()
    client = governed.client(key)
    messages = [{"role": "user", "content": "allocate me " * 3}]
    for tags in (
        ["env:production", "env:staging", "cc:a"],
        ["env:prod", "cc:a", "cc:b", "cc:c"],
        ["env:staging"],
    ):
        client.chat.completions.create(model="priced", messages=messages, extra_body={"tags": tags})
    client.chat.completions.create(model="unpriced", messages=messages, extra_body={"tags": ["env:staging"]})
    governed.wait_written()
    by_model = governed.ok("GET", "/global/spend/report/v2?group_by=model")["data"]
    global_total = sum((_dec(r["spend"]) for r in by_model), Decimal(0))
    for dimension in ("env", "cc"):
        report = governed.ok("GET", f"/global/spend/report?group_by=tag:{dimension}")
        assert report["semantics"] == "allocated" and report["adds_up"] is True
        rows = report["data"]
        assert _dec(report["total"]["spend"]) == global_total > 0
        assert sum((_dec(r["spend"]) for r in rows), Decimal(0)) == global_total
        cents = sum((_dec(r["spend_cents"]) for r in rows), Decimal(0))
        assert cents == _dec(report["total"]["spend_cents"]) == global_total.quantize(Decimal("0.01"))
    cc_groups = {r["group"] for r in governed.ok("GET", "/global/spend/report?group_by=tag:cc")["data"]}
    assert {"a", "b", "c", "unallocated"} <= cc_groups
    raw = governed.ok("GET", "/global/spend/report/v2?group_by=tag")
    assert raw["semantics"] == "overlapping"
    assert sum((_dec(r["spend"]) for r in raw["data"]), Decimal(0)) > global_total  # double counted
    assert governed.request("GET", "/global/spend/report?group_by=tag:")[0] == 400


def test_a_tag_budget_on_a_dimension_value(governed: Proxy) -> None:
    governed.ok("POST", "/tag/new", {"name": "env:production", "max_budget": "0"})
    refused = 0
    for source in ("header", "body", "deployment"):  # "prod" and "env=prod" both reach env:production
        key, request = _caller(governed, "reject", source, "prod")
        with pytest.raises(openai.UnprocessableEntityError, match="env:production"):
            governed.client(key).chat.completions.create(
                messages=[{"role": "user", "content": "b"}], **request
            )
        refused += 1
    team_default = {"env": {**ENV_RULE, "action": "default", "default": "production"}}
    team = governed.new_team(metadata={"tag_policies": team_default})
    with pytest.raises(
        openai.UnprocessableEntityError, match="env:production"
    ):  # a default value is budgeted too
        governed.client(governed.new_key(team_id=team)).chat.completions.create(
            model="priced", messages=[{"role": "user", "content": "b"}]
        )
    ok = governed.client(governed.new_key()).chat.completions.create(
        model="priced", messages=[{"role": "user", "content": "b"}], extra_body={"tags": ["env:staging"]}
    )
    assert refused == 3 and ok.choices
    governed.ok("POST", "/tag/new", {"name": "cc:zero", "max_budget": "0"})  # an ungoverned dimension
    with pytest.raises(openai.UnprocessableEntityError, match="cc:zero"):  # "cc=zero" is stored as "cc:zero"
        governed.client(governed.new_key()).chat.completions.create(
            model="priced",
            messages=[{"role": "user", "content": "b"}],
            extra_headers={"x-litellm-tags": "env:staging,cc=zero"},
        )
    governed.ok("POST", "/tag/delete", {"names": ["env:production"]})


def test_the_policy_applies_on_every_endpoint(governed: Proxy) -> None:
    import anthropic

    key = governed.new_key()
    client = governed.client(key)
    with pytest.raises(openai.BadRequestError, match="'env:'"):
        client.embeddings.create(model="embed", input="no env tag")
    with pytest.raises(openai.BadRequestError, match="'env:'"):
        list(
            client.chat.completions.create(
                model="priced", messages=[{"role": "user", "content": "s"}], stream=True
            )
        )
    embedded = client.embeddings.with_raw_response.create(
        model="embed", input="tagged", extra_headers={"x-litellm-tags": "env=prod"}
    )
    messages = anthropic.Anthropic(base_url=governed.url, api_key=key, max_retries=0, timeout=30)
    try:
        with pytest.raises(anthropic.BadRequestError, match="'env:'"):
            messages.messages.create(
                model="priced", max_tokens=10, messages=[{"role": "user", "content": "m"}]
            )
    finally:
        messages.close()
    governed.wait_written()
    assert governed.row(embedded.headers["x-request-id"])["request_tags"] == ["env:production"]


def test_a_virtual_key_allocates_only_its_own_calls(governed: Proxy) -> None:
    key = governed.new_key()
    client = governed.client(key)
    for tags in (["env:staging", "env:production"], ["env:staging"]):
        client.chat.completions.create(
            model="priced", messages=[{"role": "user", "content": "own"}], extra_body={"tags": tags}
        )
    governed.wait_written()
    own = sum(
        (r["spend"] for r in governed.rows(api_key=hashlib.sha256(key.encode()).hexdigest())), Decimal(0)
    )
    report = governed.ok("GET", "/global/spend/report?group_by=tag:env", key=key)
    assert _dec(report["total"]["spend"]) == own > 0 and report["adds_up"] is True
    assert sum((_dec(r["spend"]) for r in report["data"]), Decimal(0)) == own
    assert {r["group"] for r in report["data"]} == {"staging", "production"}
