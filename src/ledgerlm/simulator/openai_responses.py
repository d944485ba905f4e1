"""OpenAI Responses API for the simulator: ``POST /v1/responses`` (plain and streamed), the Azure v1
path ``POST /openai/v1/responses``, and the stored responses (``GET`` / ``DELETE /v1/responses/{id}``,
``GET /v1/responses/{id}/input_items``).

Shapes follow OpenAI's API reference ("Responses", "Streaming events"): a ``response`` object whose
``usage`` has ``input_tokens`` (INCLUDING ``input_tokens_details.cached_tokens``) and
``output_tokens`` (INCLUDING ``output_tokens_details.reasoning_tokens``); a stream of ``event: <type>``
SSE events ending with ``response.completed``. Knobs ``web_search_calls`` / ``file_search_calls`` add
those tool-call output items (billed per call, not in ``usage``). Responses are stored unless
``store`` is false.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson
from aiohttp import web

from ledgerlm.simulator.knobs import Knobs, count_prompt_tokens, count_text_tokens
from ledgerlm.simulator.openai import _write_stream
from ledgerlm.simulator.state import SimState, error_response, split_words

__all__ = ["response_body", "response_events", "routes"]


def _messages(body: dict[str, Any]) -> list[Any]:
    given = body.get("input")
    items = [{"role": "user", "content": given}] if isinstance(given, str) else list(given or [])
    if body.get("instructions"):
        items.insert(0, {"role": "system", "content": str(body["instructions"])})
    return [i for i in items if isinstance(i, dict) and "content" in i]


def _reply(knobs: Knobs, body: dict[str, Any]) -> str:
    if knobs.content is not None:
        return knobs.content
    return "Hello from the ledgerlm simulator (Responses API)."


def _usage(knobs: Knobs, body: dict[str, Any], text: str) -> dict[str, Any]:
    prompt = knobs.prompt_tokens
    if prompt is None:
        prompt = count_prompt_tokens(_messages(body))
    output = knobs.completion_tokens
    if output is None:
        output = count_text_tokens(text) + knobs.reasoning_tokens
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": knobs.cached_tokens},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": knobs.reasoning_tokens},
        "total_tokens": prompt + output,
    }


def _tool_items(knobs: Knobs, prefix: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for n in range(knobs.web_search_calls):
        action = {"type": "search", "query": f"query {n}"}
        items.append(
            {"id": f"ws_{prefix}{n}", "type": "web_search_call", "status": "completed", "action": action}
        )
    for n in range(knobs.file_search_calls):
        items.append(
            {
                "id": f"fs_{prefix}{n}",
                "type": "file_search_call",
                "status": "completed",
                "queries": [],
                "results": None,
            }
        )
    return items


def response_body(knobs: Knobs, body: dict[str, Any], *, status: str = "completed") -> dict[str, Any]:
    """A ``response`` object for ``body`` (with ``usage`` unless ``status`` is ``in_progress``)."""
    digest = hashlib.sha256(orjson.dumps([body.get("input"), time.time_ns()])).hexdigest()[:24]
    text = _reply(knobs, body)
    message = {
        "id": f"msg_sim{digest}",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    done = status != "in_progress"
    return {
        "id": f"resp_sim{digest}",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "model": body.get("model", "sim-model"),
        "output": [*_tool_items(knobs, digest[:8]), message] if done else [],
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _usage(knobs, body, text) if done else None,
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def response_events(knobs: Knobs, body: dict[str, Any]) -> tuple[list[bytes], dict[str, Any]]:
    """The SSE events of a streamed response and the final ``response`` (to store)."""
    final = response_body(knobs, body)
    start = {**final, "status": "in_progress", "output": [], "usage": None}
    message = final["output"][-1]
    text = message["content"][0]["text"]
    index = len(final["output"]) - 1
    ids = {"item_id": message["id"], "output_index": index, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": start},
        {"type": "response.in_progress", "response": start},
    ]
    for n, item in enumerate(final["output"][:-1]):
        events.append({"type": "response.output_item.added", "output_index": n, "item": item})
        events.append({"type": "response.output_item.done", "output_index": n, "item": item})
    events.append(
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**message, "content": [], "status": "in_progress"},
        }
    )
    part = {"type": "output_text", "text": "", "annotations": []}
    events.append({"type": "response.content_part.added", **ids, "part": part})
    events += [
        {"type": "response.output_text.delta", **ids, "delta": w, "logprobs": []} for w in split_words(text)
    ]
    events.append({"type": "response.output_text.done", **ids, "text": text, "logprobs": []})
    events.append({"type": "response.content_part.done", **ids, "part": {**part, "text": text}})
    events.append({"type": "response.output_item.done", "output_index": index, "item": message})
    events.append({"type": "response.completed", "response": final})
    framed = [
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps({**e, "sequence_number": n}) + b"\n\n"
        for n, e in enumerate(events)
    ]
    return framed, final


def _bad_text(items: Any) -> str | None:
    """The path of the first content part whose ``text`` is not a string (``input[i].content[j].text``)."""
    for i, item in enumerate(items if isinstance(items, list) else ()):
        content = item.get("content") if isinstance(item, dict) else None
        for j, part in enumerate(content if isinstance(content, list) else ()):
            if isinstance(part, dict) and "text" in part and not isinstance(part["text"], str):
                return f"input[{i}].content[{j}].text"
    return None


class _Responses:
    """The Responses API of one simulator: create, and the stored responses (get, delete, input items)."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.stored: dict[str, tuple[dict[str, Any], list[Any]]] = {}

    async def create(self, request: web.Request) -> web.StreamResponse:
        prepared = await self.state.prepare(request)
        if isinstance(prepared, web.StreamResponse):
            return prepared
        knobs, body = prepared
        if not body.get("input"):
            return error_response(400, "Missing required parameter: 'input'.")
        items = (
            [{"type": "message", "role": "user", "content": body["input"]}]
            if isinstance(body["input"], str)
            else body["input"]
        )
        bad = _bad_text(items)
        if bad is not None:  # OpenAI: 400 "Invalid type for 'input[0].content[0].text'"
            return error_response(400, f"Invalid type for '{bad}': expected a string.")
        if body.get("stream"):
            events, final = response_events(knobs, body)
            if body.get("store", True):
                self.stored[final["id"]] = (final, items)
            return await _write_stream(request, self.state, knobs, events)
        final = response_body(knobs, body)
        if body.get("store", True):
            self.stored[final["id"]] = (final, items)
        return web.Response(body=orjson.dumps(final), content_type="application/json")

    def _found(self, request: web.Request) -> tuple[dict[str, Any], list[Any]] | web.Response:
        entry = self.stored.get(request.match_info["response_id"])
        if entry is None:
            return error_response(404, f"No response found with id '{request.match_info['response_id']}'.")
        return entry

    async def get(self, request: web.Request) -> web.Response:
        entry = self._found(request)
        if isinstance(entry, web.Response):
            return entry
        return web.Response(body=orjson.dumps(entry[0]), content_type="application/json")

    async def delete(self, request: web.Request) -> web.Response:
        entry = self._found(request)
        if isinstance(entry, web.Response):
            return entry
        response_id = request.match_info["response_id"]
        self.stored.pop(response_id, None)
        out = {"id": response_id, "object": "response.deleted", "deleted": True}
        return web.Response(body=orjson.dumps(out), content_type="application/json")

    async def input_items(self, request: web.Request) -> web.Response:
        entry = self._found(request)
        if isinstance(entry, web.Response):
            return entry
        data = [{"id": f"msg_in{n}", "type": "message", **i} for n, i in enumerate(entry[1])]
        out = {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": False,
        }
        return web.Response(body=orjson.dumps(out), content_type="application/json")


def routes(state: SimState) -> list[web.RouteDef]:
    """The Responses API routes bound to ``state`` (stored responses kept per ``routes`` call)."""
    api = _Responses(state)
    out: list[web.RouteDef] = []
    for prefix in ("/v1", "/openai/v1"):
        out += [
            web.post(f"{prefix}/responses", api.create),
            web.get(f"{prefix}/responses/{{response_id}}", api.get),
            web.delete(f"{prefix}/responses/{{response_id}}", api.delete),
            web.get(f"{prefix}/responses/{{response_id}}/input_items", api.input_items),
        ]
    return out
