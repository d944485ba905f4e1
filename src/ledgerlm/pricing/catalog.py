"""The price catalog: genai-prices' bundled data (offline), and model resolution against it.

``resolve_model(provider, model)`` finds the catalog entry for a ledgerlm provider name and a model
id, trying in order: the id as given (genai-prices itself matches many date suffixes, ``ft:`` ids and
Bedrock region prefixes), the id without ledgerlm's provider prefix, without a Bedrock region prefix
(``us.``, ``eu.``, ``apac.``, ``global.``, ...), with Vertex's ``@date`` turned into ``-date``, without a
date suffix / ``-latest``, a fine-tuned id's base model, and OpenRouter's ``vendor/model`` under the
vendor's own provider; then the provider matched from the model name alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from genai_prices import __version__ as genai_prices_version
from genai_prices import data_snapshot
from genai_prices.types import ModelInfo
from genai_prices.types import Provider as CatalogProvider

from ledgerlm.provider_specs import PROVIDER_SPECS

__all__ = [
    "CatalogMatch",
    "catalog_provider_id",
    "data_version",
    "is_known_provider",
    "model_candidates",
    "resolve_model",
]

# ledgerlm / LiteLLM provider prefixes -> genai-prices provider ids: the provider table's (names and
# aliases, ``ledgerlm.provider_specs``), then names outside it that LiteLLM model strings use.
_PROVIDER_IDS: dict[str, str] = {
    key: spec.price_provider
    for spec in PROVIDER_SPECS
    if spec.price_provider is not None
    for key in (spec.name, *spec.aliases)
} | {
    "text-completion-openai": "openai",
    "azure_ai": "azure",
    "google": "google",
    "bedrock_converse": "aws",
    "aws": "aws",
    "cohere": "cohere",
    "perplexity": "perplexity",
    "cerebras": "cerebras",
    "moonshot": "moonshotai",
    "novita": "novita",
}

_REGION_PREFIX = re.compile(r"^(us|eu|apac|ap|global|us-gov|jp|au|ca|in)\.")
_DATE_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-20\d{6}|-(0[1-9]|1[0-2])\d{2}|-latest|:latest)$")
_BEDROCK_VERSION = re.compile(r"-v\d+(:\d+)?$")


@dataclass(frozen=True, slots=True)
class CatalogMatch:
    """A resolved catalog entry: the genai-prices provider and model, and the id that matched."""

    provider: CatalogProvider
    model: ModelInfo
    matched_ref: str

    @property
    def model_ref(self) -> str:
        """``"<catalog provider>/<catalog model id>"`` (provenance)."""
        return f"{self.provider.id}/{self.model.id}"


def data_version() -> str:
    """The catalog data version, e.g. ``"genai-prices 0.2.3"`` (``+ update <time>`` when refreshed)."""
    snapshot = data_snapshot.get_snapshot()
    if snapshot.from_auto_update:
        return f"genai-prices {genai_prices_version} (update {snapshot.timestamp.isoformat()})"
    return f"genai-prices {genai_prices_version}"


def is_known_provider(provider: str) -> bool:
    """True for a ledgerlm provider name (or genai-prices provider id) the catalog knows."""
    name = provider.lower()
    return name in _PROVIDER_IDS or any(p.id == name for p in data_snapshot.get_snapshot().providers)


def catalog_provider_id(provider: str) -> str | None:
    """The genai-prices provider id for a ledgerlm provider name, or ``None`` when it has none."""
    return _PROVIDER_IDS.get(provider.lower())


def model_candidates(provider: str, model: str) -> Iterator[str]:
    """Ids to try for ``model``, most specific first (duplicates removed)."""
    seen: set[str] = set()
    for ref in _raw_candidates(provider.lower(), model.strip()):
        if ref and ref not in seen:
            seen.add(ref)
            yield ref


def _raw_candidates(provider: str, model: str) -> Iterator[str]:
    yield model
    head, sep, tail = model.partition("/")
    if sep and (head.lower() == provider or head.lower() in _PROVIDER_IDS) and provider != "openrouter":
        model = tail
        yield model
    base = _REGION_PREFIX.sub("", model)
    yield base
    if "@" in base:
        base = base.replace("@", "-")
        yield base
    if base.startswith("ft:"):
        yield base
        base = base[3:].split(":", 1)[0]
        yield base
    undated = _DATE_SUFFIX.sub("", _BEDROCK_VERSION.sub("", base))
    yield undated
    yield _DATE_SUFFIX.sub("", undated)


def resolve_model(provider: str, model: str) -> CatalogMatch | None:
    """The catalog entry for ``provider``/``model``, or ``None`` when the catalog has no price."""
    snapshot = data_snapshot.get_snapshot()
    everyone = snapshot.providers
    pid = catalog_provider_id(provider) or provider.lower()
    home = next((p for p in everyone if p.id == pid), None)
    candidates = list(model_candidates(provider, model))
    if home is not None:
        for ref in candidates:
            found = home.find_model(ref, all_providers=everyone)
            if found is not None:
                return CatalogMatch(home, found, ref)
    vendor_match = _vendor_model(everyone, model)
    if vendor_match is not None:
        return vendor_match
    for ref in candidates:
        try:
            found_provider, found_model = snapshot.find_provider_model(ref, None, None, None)
        except LookupError:
            continue
        return CatalogMatch(found_provider, found_model, ref)
    return None


def _vendor_model(everyone: list[CatalogProvider], model: str) -> CatalogMatch | None:
    """OpenRouter-style ``vendor/model``: the model under the vendor's own catalog provider."""
    vendor, sep, rest = model.partition("/")
    if not sep:
        return None
    pid = _PROVIDER_IDS.get(vendor.lower(), vendor.lower())
    owner = next((p for p in everyone if p.id == pid), None)
    if owner is None:
        return None
    for ref in model_candidates(vendor, rest):
        found = owner.find_model(ref, all_providers=everyone)
        if found is not None:
            return CatalogMatch(owner, found, ref)
    return None
