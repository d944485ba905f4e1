"""Anthropic, Gemini/Vertex and Bedrock usage mappings on usage objects in their documented shapes."""

from __future__ import annotations

from ledgerlm.usage import (
    usage_from_anthropic,
    usage_from_bedrock,
    usage_from_bedrock_metrics,
    usage_from_body,
    usage_from_gemini,
)


def test_anthropic_input_excludes_cache() -> None:
    # input = 3 uncached + 1111 read + 418 written = 1532
    u = usage_from_anthropic(
        {
            "input_tokens": 3,
            "cache_creation_input_tokens": 418,
            "cache_read_input_tokens": 1111,
            "cache_creation": {"ephemeral_5m_input_tokens": 418, "ephemeral_1h_input_tokens": 0},
            "output_tokens": 33,
            "service_tier": "standard",
        }
    )
    assert (u.input_tokens, u.cache_read_tokens, u.cache_write_tokens, u.cache_write_1h_tokens) == (
        1532,
        1111,
        418,
        0,
    )
    assert (u.output_tokens, u.service_tier, u.uncached_input_tokens) == (33, "standard", 3)


def test_anthropic_one_hour_split_and_parts_not_adding_up() -> None:
    # parts 100 (5m) + 300 (1h) = 400 but the total says 500: write total 500, 1h part 300
    u = usage_from_anthropic(
        {
            "input_tokens": 10,
            "cache_creation_input_tokens": 500,
            "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 300},
            "output_tokens": 1,
        }
    )
    assert (u.input_tokens, u.cache_write_tokens, u.cache_write_1h_tokens) == (510, 500, 300)
    # parts 200 + 300 = 500 exceed a total of 400: the parts win (500), input 10 + 500
    v = usage_from_anthropic(
        {
            "input_tokens": 10,
            "cache_creation_input_tokens": 400,
            "cache_creation": {"ephemeral_5m_input_tokens": 200, "ephemeral_1h_input_tokens": 300},
        }
    )
    assert (v.input_tokens, v.cache_write_tokens, v.cache_write_1h_tokens) == (510, 500, 300)


def test_anthropic_web_search_and_nulls() -> None:
    u = usage_from_anthropic(
        {
            "input_tokens": 5,
            "cache_read_input_tokens": None,
            "output_tokens": 7,
            "server_tool_use": {"web_search_requests": 3},
        }
    )
    assert (u.input_tokens, u.web_search_requests, u.raw["cache_read_input_tokens"]) == (5, 3, None)


def test_gemini_thoughts_tool_prompt_cache_and_modalities() -> None:
    # input = prompt 3797 (includes 3055 cached) + tool prompt 20; output = 656 + 1549 thoughts
    u = usage_from_gemini(
        {
            "promptTokenCount": 3797,
            "toolUsePromptTokenCount": 20,
            "candidatesTokenCount": 656,
            "thoughtsTokenCount": 1549,
            "cachedContentTokenCount": 3055,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": 3697},
                {"modality": "AUDIO", "tokenCount": 100},
            ],
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 600}],
            "totalTokenCount": 6022,
        }
    )
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.reasoning_tokens) == (
        3817,
        3055,
        2205,
        1549,
    )
    assert (u.input_audio_tokens, u.output_image_tokens) == (100, 600)


def test_gemini_traffic_type_and_service_tier() -> None:
    assert usage_from_gemini({"promptTokenCount": 1, "trafficType": "ON_DEMAND_FLEX"}).service_tier == "flex"
    assert usage_from_gemini({"promptTokenCount": 1, "serviceTier": "PRIORITY"}).service_tier == "priority"
    assert usage_from_gemini({"promptTokenCount": 1}).service_tier is None


def test_bedrock_converse_input_excludes_cache() -> None:
    # totalTokens 1329 = 2 + 1322 read + 5 output: inputTokens excludes the cache
    u = usage_from_bedrock(
        {
            "inputTokens": 2,
            "outputTokens": 5,
            "totalTokens": 1329,
            "cacheReadInputTokens": 1322,
            "cacheReadInputTokenCount": 1322,
            "cacheWriteInputTokens": 0,
        }
    )
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens) == (1324, 1322, 5)


def test_bedrock_cache_already_inside_input_is_not_added_twice() -> None:
    # totalTokens 1329 = 1324 + 5: here inputTokens already includes the 1322 read tokens
    u = usage_from_bedrock(
        {"inputTokens": 1324, "outputTokens": 5, "totalTokens": 1329, "cacheReadInputTokens": 1322}
    )
    assert (u.input_tokens, u.cache_read_tokens) == (1324, 1322)


def test_bedrock_cache_details_one_hour() -> None:
    u = usage_from_bedrock(
        {
            "inputTokens": 10,
            "outputTokens": 1,
            "cacheWriteInputTokens": 300,
            "cacheDetails": [{"ttl": "1h", "inputTokens": 200}, {"ttl": "5m", "inputTokens": 100}],
        }
    )
    assert (u.input_tokens, u.cache_write_tokens, u.cache_write_1h_tokens) == (310, 300, 200)


def test_bedrock_invoke_anthropic_body_and_metrics() -> None:
    u = usage_from_body(
        "bedrock",
        {
            "type": "message",
            "usage": {"input_tokens": 3, "cache_read_input_tokens": 9511, "output_tokens": 44},
        },
    )
    assert (u.input_tokens, u.cache_read_tokens) == (9514, 9511)
    m = usage_from_bedrock_metrics(
        {
            "inputTokenCount": 30,
            "outputTokenCount": 55,
            "cacheReadInputTokenCount": 5,
            "invocationLatency": 851,
        }
    )
    assert (m.input_tokens, m.cache_read_tokens, m.output_tokens) == (35, 5, 55)
