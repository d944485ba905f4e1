"""Per-unit prices (images, audio seconds, characters, searches, free calls) and per-call tool fees:
rates from genai-prices where it has them, else the documented tables; unknown units or sizes are
"unpriced" with a reason, never $0; a tool fee is never charged twice."""

from __future__ import annotations

from decimal import Decimal

from ledgerlm.pricing import compile_price
from ledgerlm.pricing.tool_fees import TOOL_CALLS_KEY, TOOL_FEES, ToolFeePrice, add_tool_fees
from ledgerlm.pricing.unit_prices import UNITS_KEY, UnitPrice, image_rate, unit_rates
from ledgerlm.providers.openai.responses import TOOL_CALLS_KEY as PROVIDER_TOOL_KEY
from ledgerlm.types import Cost, Usage
from ledgerlm.usage.media import UNITS_KEY as USAGE_UNITS_KEY
from ledgerlm.usage.media import media_usage


def test_keys_agree_across_layers() -> None:
    assert TOOL_CALLS_KEY == PROVIDER_TOOL_KEY and UNITS_KEY == USAGE_UNITS_KEY


def test_image_rates_by_size_and_quality() -> None:
    assert image_rate("dall-e-3", "1792x1024", "hd")[0] == Decimal("0.12")
    assert image_rate("dall-e-3", None, None)[0] == Decimal("0.04")
    assert image_rate("azure/dall-e-2", "512x512", None)[0] == Decimal("0.018")
    assert image_rate("gpt-image-1", "1024x1536", "low")[0] == Decimal("0.016")
    rate, reason = image_rate("dall-e-3", "256x256", "standard")
    assert rate is None and "256x256" in reason


def test_catalog_rates_first_then_table() -> None:
    whisper = unit_rates("openai", "whisper-1")
    assert whisper["audio_second"] == Decimal("0.36") / 3600  # genai-prices audio_hours
    assert unit_rates("openai", "tts-1")["character"] == Decimal("15") / 10**6
    assert unit_rates("cohere", "rerank-v3.5") == {"search": Decimal("0.002")}
    assert unit_rates("openai", "omni-moderation-latest") == {"request": Decimal(0)}


def test_unit_price_states() -> None:
    price = UnitPrice(None, {"image": Decimal("0.04")}, model="dall-e-3")
    cost = price.cost(Usage(raw={UNITS_KEY: {"image": 3}}))
    assert cost.total == Decimal("0.12") and cost.breakdown == {"image": Decimal("0.12")}
    assert price.cost(Usage()).total is None, "no units reported: unpriced, never $0"
    assert price.cost(Usage(raw={UNITS_KEY: {"audio_second": 3}})).total is None
    transcript = media_usage({"text": "hi"})
    assert transcript is not None and UNITS_KEY not in transcript.raw


def test_media_usage_shapes() -> None:
    images = media_usage({"created": 1, "data": [{}, {}]})
    assert images is not None and images.raw[UNITS_KEY] == {"image": 2}
    seconds = media_usage({"text": "x", "usage": {"type": "duration", "seconds": 7.5}})
    assert seconds is not None and seconds.raw[UNITS_KEY] == {"audio_second": "7.5"}
    tokens = media_usage({"text": "x", "usage": {"type": "tokens", "input_tokens": 10, "output_tokens": 3}})
    assert tokens is not None and (tokens.input_tokens, tokens.output_tokens) == (10, 3)
    rerank = media_usage({"results": [], "meta": {"billed_units": {"search_units": 2}}})
    assert rerank is not None and rerank.raw[UNITS_KEY] == {"search": 2}
    assert media_usage({"choices": []}) is None and media_usage({"object": "list", "data": []}) is None


def test_tool_fees_added_once() -> None:
    usage = Usage(
        input_tokens=10,
        web_search_requests=2,
        raw={TOOL_CALLS_KEY: {"web_search_call": 2, "file_search_call": 1}},
    )
    base = Cost(total=Decimal("1"), breakdown={"input": Decimal("1")})
    cost = add_tool_fees(base, usage)
    web, files = TOOL_FEES["web_search_call"][1] * 2, TOOL_FEES["file_search_call"][1]
    assert cost.total == 1 + web + files and cost.breakdown["web_search"] == web
    catalog = ToolFeePrice(compile_price("openai", "gpt-4o")).cost(usage)
    assert catalog.total is not None and catalog.breakdown["web_search"] == Decimal("0.02"), (
        "catalog rate, once"
    )
    assert add_tool_fees(Cost.unpriced("x"), usage).total is None
