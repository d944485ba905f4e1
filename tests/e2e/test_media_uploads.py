"""Image edits, image variations and audio translations through the proxy with the official ``openai``
client against the simulator, priced as OpenAI bills them: gpt-image-1 edits by tokens (image input
tokens included), dall-e-2 edits and variations per image by size, whisper-1 translations per second
(the proxy asks for ``verbose_json`` for the duration and answers the format the caller asked). Each
call's spend row: call type, usage, cost breakdown, tags; the uploads never reach the row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from tests.e2e.conftest import MASTER_KEY, SIM_KEY, Proxy, model_list

from ledgerlm.engine.cost import compiled_price
from ledgerlm.pricing.unit_prices import IMAGE_PRICES, PER_UNIT_PRICES
from ledgerlm.providers.base import Deployment
from ledgerlm.simulator import Simulator
from ledgerlm.types import Usage

# the openai client marks images.create_variation and audio.translations "deprecated"; the API serves them
pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
TAGS = {"tags": ["app:uploads"]}


def _entries(sim_url: str) -> list[dict[str, Any]]:
    def entry(name: str, model: str) -> dict[str, Any]:
        return {
            "model_name": name,
            "litellm_params": {"model": model, "api_base": f"{sim_url}/v1", "api_key": SIM_KEY},
        }

    return [
        entry("img-edit", "openai/gpt-image-1"),
        entry("dalle2", "openai/dall-e-2"),
        entry("whisper-tr", "openai/whisper-1"),
        entry("claude-x", "anthropic/claude-sonnet-4-20250514"),
    ]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield f"sqlite:///{tmp_path_factory.mktemp('db')}/ledgerlm.db"


@pytest.fixture(scope="module")
def uproxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    simulator.models["whisper-1"] = {"audio_seconds": 7.5, "content": "Hello in English."}
    return proxy_factory(database_url, model_list=model_list(simulator.url) + _entries(simulator.url))


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    meta = row["metadata"]
    return json.loads(meta) if isinstance(meta, str) else dict(meta)


def _breakdown(row: dict[str, Any]) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in _meta(row)["cost"]["breakdown"].items()}


def _row(proxy: Proxy, headers: Any) -> dict[str, Any]:
    proxy.wait_written()
    return proxy.row(headers["x-request-id"])


def test_gpt_image_edit_priced_by_tokens(uproxy: Proxy, simulator: Simulator) -> None:
    raw = uproxy.client().images.with_raw_response.edit(
        model="img-edit",
        image=[("a.png", PNG, "image/png"), ("b.png", PNG, "image/png")],
        prompt="put a hat on it",
        extra_body=TAGS,
    )
    assert raw.parse().data
    sent = simulator.requests[-1]
    assert sent.path == "/v1/images/edits" and sent.json["model"] == "gpt-image-1"
    assert sent.json["files"] == ["image[]", "image[]"] and sent.json["prompt"] == "put a hat on it"
    row = _row(uproxy, raw.headers)
    assert row["call_type"] == "aimage_edit" and row["status"] == "success"
    usage = _meta(row)["usage"]
    assert usage["input_image_tokens"] == 2 * 323 and usage["output_image_tokens"] > 0
    expected = compiled_price(Deployment(provider="openai", model="gpt-image-1")).cost(
        Usage(
            input_tokens=usage["input_tokens"],
            output_tokens=usage["output_tokens"],
            input_image_tokens=usage["input_image_tokens"],
            output_image_tokens=usage["output_image_tokens"],
        )
    )
    assert expected.total is not None and row["spend"] == expected.total
    assert row["spend"] == Decimal(raw.headers["x-ledgerlm-response-cost"])
    assert "input_image" in _breakdown(row) and "app:uploads" in row["request_tags"]
    assert PNG.decode("latin-1") not in json.dumps(_meta(row))


def test_dalle2_edit_and_variation_priced_per_image_by_size(uproxy: Proxy) -> None:
    client = uproxy.client()
    raw = client.images.with_raw_response.edit(
        model="dalle2", image=("a.png", PNG, "image/png"), prompt="x", n=2, size="512x512"
    )
    assert len(raw.parse().data or []) == 2
    row = _row(uproxy, raw.headers)
    per_image = IMAGE_PRICES["dall-e-2"][("standard", "512x512")]
    assert row["call_type"] == "aimage_edit" and row["spend"] == 2 * per_image
    assert _breakdown(row) == {"image": 2 * per_image}
    raw = client.images.with_raw_response.create_variation(
        model="dalle2", image=("a.png", PNG, "image/png"), n=3, size="256x256", extra_body=TAGS
    )
    assert len(raw.parse().data or []) == 3
    row = _row(uproxy, raw.headers)
    per_image = IMAGE_PRICES["dall-e-2"][("standard", "256x256")]
    assert row["call_type"] == "aimage_variation" and row["spend"] == 3 * per_image
    assert _breakdown(row) == {"image": 3 * per_image} and "app:uploads" in row["request_tags"]
    assert _meta(row)["usage"]["raw"]["ledgerlm_units"] == {"image": 3}


def test_translation_priced_per_second_in_the_format_asked(uproxy: Proxy, simulator: Simulator) -> None:
    client = uproxy.client()
    raw = client.audio.translations.with_raw_response.create(
        model="whisper-tr", file=("clip.wav", b"RIFF" + b"\0" * 4000, "audio/wav"), extra_body=TAGS
    )
    assert json.loads(raw.http_response.content) == {"text": "Hello in English."}
    assert simulator.requests[-1].json["response_format"] == "verbose_json"
    row = _row(uproxy, raw.headers)
    per_second = PER_UNIT_PRICES["whisper-1"]["audio_second"]
    assert row["call_type"] == "atranslation" and row["spend"] == Decimal("7.5") * per_second
    assert _breakdown(row) == {"audio_second": Decimal("7.5") * per_second}
    assert "app:uploads" in row["request_tags"]
    text = client.audio.translations.create(
        model="whisper-tr", file=("clip.wav", b"RIFF" + b"\0" * 400, "audio/wav"), response_format="text"
    )
    assert str(text).strip() == "Hello in English."
    raw = client.audio.translations.with_raw_response.create(
        model="whisper-tr", file=("clip.wav", b"RIFF", "audio/wav"), response_format="srt"
    )
    row = _row(uproxy, raw.headers)
    assert row["spend"] is None and _meta(row)["cost"]["unpriced_reason"]  # srt has no duration


def test_bad_n_and_wrong_provider_are_400(uproxy: Proxy) -> None:
    with pytest.raises(openai.BadRequestError, match="'n'"):
        uproxy.client().images.create_variation(
            model="dalle2", image=("a.png", PNG, "image/png"), extra_body={"n": "many"}
        )
    with pytest.raises(openai.BadRequestError, match="anthropic"):
        uproxy.client().audio.translations.create(model="claude-x", file=("a.wav", b"RIFF", "audio/wav"))


def test_azure_client_paths_for_edits_and_translations(uproxy: Proxy) -> None:
    import openai

    azure = openai.AzureOpenAI(
        azure_endpoint=uproxy.url, api_key=MASTER_KEY, api_version="2024-10-21", max_retries=0, timeout=30
    )
    try:
        raw = azure.audio.translations.with_raw_response.create(
            model="whisper-tr", file=("clip.wav", b"RIFF" + b"\0" * 100, "audio/wav")
        )
        edited = azure.images.with_raw_response.edit(
            model="dalle2", image=("a.png", PNG, "image/png"), prompt="x", size="1024x1024"
        )
    finally:
        azure.close()
    assert json.loads(raw.http_response.content) == {"text": "Hello in English."}
    row = _row(uproxy, raw.headers)
    assert row["call_type"] == "atranslation" and row["model_group"] == "whisper-tr"
    assert row["spend"] == Decimal("7.5") * PER_UNIT_PRICES["whisper-1"]["audio_second"]
    row = _row(uproxy, edited.headers)
    assert (
        row["call_type"] == "aimage_edit"
        and row["spend"] == IMAGE_PRICES["dall-e-2"][("standard", "1024x1024")]
    )
