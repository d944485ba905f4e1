"""OpenAI-family usage mapping: hand-written usage objects in the documented shapes."""

from __future__ import annotations

from decimal import Decimal

from ledgerlm.usage import usage_from_openai


def test_chat_cached_tokens_are_part_of_prompt() -> None:
    u = usage_from_openai(
        {
            "prompt_tokens": 3897,
            "completion_tokens": 75,
            "total_tokens": 3972,
            "prompt_tokens_details": {"cached_tokens": 3840, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }
    )
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens) == (3897, 3840, 75)
    assert u.uncached_input_tokens == 57  # 3897 - 3840
    assert u.raw["total_tokens"] == 3972


def test_reasoning_is_part_of_completion_for_openai() -> None:
    # OpenAI: total 90 = prompt 15 + completion 75; reasoning 64 is inside completion.
    u = usage_from_openai(
        {
            "prompt_tokens": 15,
            "completion_tokens": 75,
            "total_tokens": 90,
            "completion_tokens_details": {"reasoning_tokens": 64},
        }
    )
    assert (u.output_tokens, u.reasoning_tokens) == (75, 64)


def test_xai_completion_excludes_reasoning_and_ticks_are_cost() -> None:
    # xAI: total 303 = 12 + 1 + 290, so output = 1 + 290 = 291; 1466250 ticks * 1e-10 = $0.000146625.
    u = usage_from_openai(
        {
            "prompt_tokens": 12,
            "completion_tokens": 1,
            "total_tokens": 303,
            "prompt_tokens_details": {"text_tokens": 12, "cached_tokens": 11},
            "completion_tokens_details": {"reasoning_tokens": 290},
            "cost_in_usd_ticks": 1466250,
        },
        provider="xai",
    )
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.reasoning_tokens) == (12, 11, 291, 290)
    assert u.provider_cost == Decimal("0.000146625")


def test_deepseek_cache_hit_tokens() -> None:
    u = usage_from_openai(
        {
            "prompt_tokens": 100,
            "completion_tokens": 5,
            "total_tokens": 105,
            "prompt_cache_hit_tokens": 64,
            "prompt_cache_miss_tokens": 36,
        },
        provider="deepseek",
    )
    assert (u.input_tokens, u.cache_read_tokens) == (100, 64)


def test_responses_api_shape() -> None:
    u = usage_from_openai(
        {
            "input_tokens": 3763,
            "input_tokens_details": {"cached_tokens": 3584},
            "output_tokens": 1095,
            "output_tokens_details": {"reasoning_tokens": 1088},
            "total_tokens": 4858,
        }
    )
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.reasoning_tokens) == (
        3763,
        3584,
        1095,
        1088,
    )


def test_openrouter_cost_and_cache_write() -> None:
    u = usage_from_openai(
        {
            "input_tokens": 4020,
            "input_tokens_details": {"cache_write_tokens": 4012, "cached_tokens": 0},
            "output_tokens": 5,
            "total_tokens": 4025,
            "cost": 0.025265,
        },
        provider="openrouter",
    )
    assert (u.input_tokens, u.cache_write_tokens, u.cache_read_tokens) == (4020, 4012, 0)
    assert u.provider_cost == Decimal("0.025265")


def test_openrouter_byok_adds_upstream_cost() -> None:
    # BYOK: OpenRouter fee 0 + upstream 0.0003253 billed to the user's own key.
    u = usage_from_openai(
        {
            "prompt_tokens": 326,
            "completion_tokens": 91,
            "cost": 0,
            "is_byok": True,
            "cost_details": {"upstream_inference_cost": 0.0003253},
        },
        provider="openrouter",
    )
    assert u.provider_cost == Decimal("0.0003253")


def test_audio_and_embeddings_and_nulls() -> None:
    u = usage_from_openai(
        {
            "prompt_tokens": 50,
            "completion_tokens": 40,
            "prompt_tokens_details": {"audio_tokens": 30, "cached_tokens": None},
            "completion_tokens_details": {"audio_tokens": 25, "reasoning_tokens": None},
        },
        service_tier="flex",
    )
    assert (u.input_audio_tokens, u.output_audio_tokens, u.cache_read_tokens) == (30, 25, 0)
    assert u.service_tier == "flex"
    emb = usage_from_openai({"prompt_tokens": 8, "total_tokens": 8})
    assert (emb.input_tokens, emb.output_tokens, emb.provider_cost) == (8, 0, None)
