"""One provider table (``ledgerlm.provider_specs``): the registry, usage mapping, price catalog and
OpenTelemetry names read it, so every name and alias means the same provider everywhere (``vertexai``
once meant Vertex AI to the registry and an OpenAI-format provider without a price to the others)."""

from __future__ import annotations

import pytest

from ledgerlm.integrations.otel_attributes import provider_name
from ledgerlm.pricing.catalog import catalog_provider_id
from ledgerlm.provider_specs import PROVIDER_SPECS, ProviderSpec, canonical_provider
from ledgerlm.providers import get_provider, known_providers, split_model
from ledgerlm.usage.dispatch import provider_family

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
