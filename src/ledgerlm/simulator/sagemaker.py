"""SageMaker TGI endpoints for the simulator: ``POST /endpoints/{endpoint}/invocations`` with
``{"inputs", "parameters"}`` -> ``[{"generated_text", "details": {"generated_tokens", "prefill"}}]``
(``details`` only when ``parameters.details`` is true, as the TGI container does). Requests must carry a
SigV4 ``Authorization`` header (service ``sagemaker``). Knobs as for chat (``content``,
``prompt_tokens``, ``completion_tokens``, errors)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ledgerlm.simulator.knobs import count_text_tokens, merge_knobs
from ledgerlm.simulator.state import SimState, _header_knobs

__all__ = ["routes"]


def _error(status: int, message: str) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps({"message": message}), content_type="application/json"
    )


def routes(state: SimState) -> list[web.RouteDef]:
    """The invocations route bound to ``state``."""

    async def invocations(request: web.Request) -> web.Response:
        try:
            body: Any = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _error(400, "body is not JSON")
        state.log(request, body)
        if "/sagemaker/aws4_request" not in request.headers.get("Authorization", ""):
            return _error(403, "missing SigV4 signature for service sagemaker")
        endpoint = request.match_info["endpoint"]
        knobs = merge_knobs(state.models.get(endpoint), _header_knobs(request.headers))
        if state.should_fail(knobs):
            return _error(knobs.error_status or 500, "simulated error")
        text = knobs.content if knobs.content is not None else "Hello from the simulated SageMaker endpoint."
        prompt = str(body.get("inputs") or "")
        answer: dict[str, Any] = {"generated_text": text}
        if (body.get("parameters") or {}).get("details"):
            n_in = knobs.prompt_tokens if knobs.prompt_tokens is not None else count_text_tokens(prompt)
            n_out = (
                knobs.completion_tokens if knobs.completion_tokens is not None else count_text_tokens(text)
            )
            prefill = [{"id": i, "text": "t", "logprob": None} for i in range(n_in)]
            answer["details"] = {"finish_reason": "eos_token", "generated_tokens": n_out, "prefill": prefill}
        return web.Response(body=orjson.dumps([answer]), content_type="application/json")

    return [web.post("/endpoints/{endpoint}/invocations", invocations)]
