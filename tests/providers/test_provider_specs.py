"""One provider table (``ledgerlm.provider_specs``): the registry, usage mapping, price catalog and
OpenTelemetry names read it, so every name and alias means the same provider everywhere (``vertexai``
once meant Vertex AI to the registry and an OpenAI-format provider without a price to the others)."""

from __future__ import annotations

import pytest

from ledgerlm.integrations.otel_attributes import provider_name
from ledgerlm.pricing.catalog import catalog_provider_id
from ledgerlm.provider_specs import (
    PROVIDER_SPECS,
    WIRE_CODE,
    ProviderSpec,
    Ref,
    WireCode,
    canonical_provider,
    code_of,
    load,
    spec_of,
)
from ledgerlm.providers import get_provider, known_providers, split_model
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.stream import StreamDecoder
from ledgerlm.usage.dispatch import provider_family, stream_accumulator, usage_from_body, usage_from_stream
from ledgerlm.usage.openai import TOOL_CALLS_KEY

CODE_FIELDS = ("usage_mapper", "stream_usage", "stream_decoder")

NAMES = [(spec, key) for spec in PROVIDER_SPECS for key in (spec.name, *spec.aliases)]


def test_the_registry_is_the_table() -> None:
    assert known_providers() == sorted(spec.name for spec in PROVIDER_SPECS)


@pytest.mark.parametrize(("spec", "key"), NAMES, ids=[key for _, key in NAMES])
def test_every_name_and_alias_agrees_everywhere(spec: ProviderSpec, key: str) -> None:
    assert canonical_provider(key.upper()) == spec.name
    assert split_model(f"{key}/some-model") == (spec.name, "some-model")
    assert get_provider(key).name == get_provider(spec.name).name
    assert provider_family(key) == spec.wire_format
    assert catalog_provider_id(key) == spec.price_provider
    assert provider_name({"provider": key}) == (spec.otel_name or spec.name)


def test_vertexai_alias_is_vertex_everywhere() -> None:
    assert split_model("vertexai/gemini-2.5-flash") == ("vertex_ai", "gemini-2.5-flash")
    assert provider_family("vertexai") == "gemini"
    assert catalog_provider_id("vertexai") == "google"
    assert provider_name({"provider": "vertexai"}) == "gcp.vertex_ai"


REFS = sorted({(spec.name, field, getattr(spec, field)) for spec in PROVIDER_SPECS for field in CODE_FIELDS})


@pytest.mark.parametrize(("name", "field", "ref"), REFS, ids=[f"{n}.{f}" for n, f, _ in REFS])
def test_every_code_reference_loads_from_its_readers_layer(name: str, field: str, ref: Ref) -> None:
    """Usage references point into ``ledgerlm.usage`` (read by ``ledgerlm.usage.dispatch``), decoder
    references into ``ledgerlm.providers``: no reader loads code from a layer above its own."""
    package = "ledgerlm.providers." if field == "stream_decoder" else "ledgerlm.usage."
    assert ref[0].startswith(package)
    loaded = load(ref)
    if field == "stream_decoder":
        assert isinstance(loaded, type) and issubclass(loaded, StreamDecoder)
    else:
        assert callable(loaded)


def test_the_readers_use_the_table() -> None:
    """The usage mapper, the stream usage and the stream decoder of each format are the table's: a
    spec's ``code`` overrides them everywhere they are read."""
    anthropic_body = {"usage": {"input_tokens": 3, "output_tokens": 5}}
    assert usage_from_body("anthropic", anthropic_body).output_tokens == 5
    assert get_provider("anthropic").usage_from_body(anthropic_body).input_tokens == 3
    assert type(stream_accumulator("vertexai")).__name__ == "GeminiStreamUsage"
    decoder = get_provider("bedrock").stream_decoder(Deployment("bedrock", "m"), caller_wants_usage=True)
    assert type(decoder) is load(spec_of("bedrock").stream_decoder)  # type: ignore[union-attr]
    assert code_of("no-such-provider") == WIRE_CODE["openai"]
    override = WireCode(WIRE_CODE["gemini"].usage_mapper, WIRE_CODE["gemini"].stream_usage, ("x", "y"))
    spec = ProviderSpec("custom", "openai", ("m", "f", None), code=override)
    assert spec.usage_mapper == ("ledgerlm.usage.gemini", "usage_from_gemini_body")
    assert spec.stream_decoder == ("x", "y")


BODIES = {
    "openai-chat": (
        "openai",
        {"usage": {"prompt_tokens": 9, "completion_tokens": 4}, "service_tier": "flex"},
    ),
    "openai-responses-tools": (
        "openai",
        {
            "object": "response",
            "usage": {"input_tokens": 20, "output_tokens": 7},
            "output": [{"type": "web_search_call"}, {"type": "file_search_call"}, {"type": "message"}],
        },
    ),
    "openai-image": ("openai", {"created": 1, "data": [{"url": "u"}, {"url": "v"}]}),
    "anthropic": (
        "anthropic",
        {"usage": {"input_tokens": 3, "cache_read_input_tokens": 5, "output_tokens": 2}},
    ),
    "gemini": ("vertex_ai", {"usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 6}}),
    "bedrock-invoke-metrics": (
        "bedrock",
        {"amazon-bedrock-invocationMetrics": {"inputTokenCount": 8, "outputTokenCount": 3}},
    ),
}


@pytest.mark.parametrize("case", sorted(BODIES))
def test_the_engine_and_the_cost_path_map_a_body_alike(case: str) -> None:
    """One mapper per format: ``Provider.usage_from_body`` (the engine) and ``usage.usage_from_body``
    (``completion_cost`` on a recorded body) give the same usage, raw usage included."""
    provider, body = BODIES[case]
    engine_side = get_provider(provider).usage_from_body(body)
    cost_side = usage_from_body(provider, body)
    assert engine_side == cost_side and engine_side.raw == cost_side.raw
    assert engine_side.total_tokens > 0 or engine_side.raw


def test_responses_tool_calls_reach_the_cost_path() -> None:
    usage = usage_from_body("openai", BODIES["openai-responses-tools"][1])
    assert usage.web_search_requests == 1
    assert usage.raw[TOOL_CALLS_KEY] == {"web_search_call": 1, "file_search_call": 1}


def test_a_recorded_responses_stream_maps_like_its_body() -> None:
    """The terminal event's ``response`` is read as a body is: streamed or not, the same tool calls."""
    response = BODIES["openai-responses-tools"][1]
    events = [{"type": "response.created"}, {"type": "response.completed", "response": response}]
    streamed, plain = usage_from_stream("openai", events), usage_from_body("openai", response)
    assert streamed == plain and streamed.raw == plain.raw and TOOL_CALLS_KEY in streamed.raw
