"""``POST /v1/messages`` (Anthropic Messages) on the proxy: the routes. The format is
``ledgerlm.proxy.endpoints.messages`` (``MESSAGES``); the call path is ``ledgerlm.proxy.lifecycle``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm.proxy.endpoints.messages import MESSAGES, anthropic_error_body, is_native
from ledgerlm.proxy.lifecycle import inference_route

__all__ = ["anthropic_error_body", "is_native", "messages", "messages_endpoint", "routes"]

messages = inference_route(MESSAGES)


def messages_endpoint() -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint for ``POST /v1/messages``."""
    return messages


def routes() -> list[Route]:
    """``/v1/messages`` (and ``/messages``) for the proxy app."""
    return [
        Route("/v1/messages", messages_endpoint(), methods=["POST"]),
        Route("/messages", messages_endpoint(), methods=["POST"]),
    ]
