"""``POST /v1/images/generations`` (and ``/images/generations``): OpenAI's image generation.

Format: OpenAI API reference ("Images"): ``prompt``, ``n``, ``size``, ``quality`` ... -> ``{"created",
"data": [...]}`` (gpt-image-1 adds token ``usage``). Served by OpenAI-compatible deployments (OpenAI,
Azure, and any server with that route); other providers answer 400 naming the alternative.

Priced per image by model, size and quality (``ledgerlm.pricing.unit_prices.image_rate``), or by the
tokens when the answer reports them and the catalog prices them (gpt-image-1); call type
``aimage_generation``, breakdown category ``image``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm import engine
from ledgerlm.pricing.unit_prices import UnitPrice, image_rate
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints._glue import (
    Endpoint,
    Plan,
    flagged,
    json_body,
    openai_compatible,
    run,
    unsupported,
)

__all__ = ["ENDPOINT", "image_generations", "routes"]


def _plan(call: ProxyCall, admitted: dict[str, Any]) -> Plan:
    deployment = call.deployment
    assert deployment is not None
    if not openai_compatible(deployment):
        raise unsupported(
            deployment, "image generation", "an openai/ or azure/ image model (dall-e-3, gpt-image-1)"
        )
    rate, described = image_rate(deployment.model, admitted.get("size"), admitted.get("quality"))
    price = UnitPrice(
        engine.compiled_price(deployment),
        {} if rate is None else {"image": rate},
        model=described if rate is not None else deployment.model,
        token_first=True,
        missing=None if rate is not None else described,
    )
    return Plan(flagged(deployment, "images/generations", price), admitted)


ENDPOINT = Endpoint("aimage_generation", "prompt", json_body, _plan)


async def image_generations(request: Request) -> Response:
    """``POST /v1/images/generations``."""
    return await run(request, ENDPOINT)


def routes() -> list[Route]:
    """``/v1/images/generations`` and ``/images/generations``."""
    return [
        Route(p, image_generations, methods=["POST"])
        for p in ("/v1/images/generations", "/images/generations")
    ]
