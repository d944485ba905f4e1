"""OpenAI's optional fields read ``None`` when a response leaves them out, as with the ``openai``
client: the idiom ``chunk.choices[0].delta.content or ""`` works on every chunk of a real stream
(the simulator's last chunk has ``delta: {}``). Real HTTP against the in-process simulator."""

from __future__ import annotations

import pytest

import ledgerlm
from ledgerlm.responses import OpenAIObject
from ledgerlm.simulator import Simulator


def test_stream_idiom_reads_none_on_the_final_chunk() -> None:
    with Simulator() as sim:
        stream = ledgerlm.completion(
            "openai/gpt-4o-mini",
            [{"role": "user", "content": "Hello"}],
            stream=True,
            api_base=f"{sim.url}/v1",
            api_key="sk-test",
        )
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the ledgerlm simulator. You said: Hello"
    last = chunks[-1].choices[0]
    assert last.delta == {} and last.delta.content is None and last.delta.tool_calls is None
    assert last.finish_reason == "stop"


def test_unknown_fields_still_raise() -> None:
    obj = OpenAIObject({"content": "x"})
    assert obj.content == "x" and OpenAIObject({}).refusal is None
    with pytest.raises(AttributeError, match="no_such_field"):
        _ = obj.no_such_field
