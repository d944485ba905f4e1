"""The simulator's request log is bounded: the newest requests are kept, the oldest dropped."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from ledgerlm.simulator.state import REQUEST_LOG_LIMIT, SimState


def test_request_log_keeps_the_newest_requests_and_stays_bounded() -> None:
    state = SimState()
    request = make_mocked_request("POST", "/v1/chat/completions", headers={"authorization": "Bearer k"})
    for index in range(REQUEST_LOG_LIMIT + 1):
        state.log(request, {"n": index})
    assert len(state.requests) <= REQUEST_LOG_LIMIT
    assert state.requests[-1].json == {"n": REQUEST_LOG_LIMIT}
    assert state.requests[0].json["n"] > 0  # the oldest were dropped
    assert state.requests[-1].headers["authorization"] == "***"
