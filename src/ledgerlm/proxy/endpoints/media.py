"""Per-unit endpoints as lifecycle ``Endpoint`` values (OpenAI-compatible deployments, Azure included):

* ``POST /v1/images/generations`` (OpenAI "Images"): priced per image by model, size and quality
  (``ledgerlm.pricing.unit_prices.image_rate``), or by tokens when the answer reports them and the
  catalog prices them (gpt-image-1); call type ``aimage_generation``, breakdown ``image``;
* ``POST /v1/moderations`` (OpenAI "Moderations"): free, one ``request`` at $0; ``amoderation``;
* ``POST /v1/rerank`` (and ``/v2/rerank``; Cohere "Rerank V2": ``query``, ``documents``, ``top_n``):
  ``cohere/`` deployments (``{root}/v2/rerank``) and OpenAI-compatible servers serving ``{base}/rerank``
  (Jina, Voyage, vLLM ...); per search unit (``search``); ``arerank``.

The answer is forwarded as the provider sent it. Another provider answers 400 naming the alternative.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from ledgerlm import engine
from ledgerlm.errors import BadRequestError
from ledgerlm.pricing.unit_prices import UnitPrice, image_rate, unit_rates
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints.upstreams import flagged, openai_compatible, unsupported
from ledgerlm.proxy.http import error_response
from ledgerlm.proxy.lifecycle import Endpoint, Upstream, inference_route

__all__ = ["IMAGES", "MODERATIONS", "RERANK", "routes"]


def _body(call: ProxyCall, upstream: Upstream, result: Any) -> dict[str, Any]:
    body: dict[str, Any] = result.body
    return body


def _image_upstream(call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
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
    return Upstream(flagged(deployment, "images/generations", price), admitted, native=True)


def _unit_upstream(endpoint_name: str, what: str, alternative: str) -> Any:
    def prepare(call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
        deployment = call.deployment
        assert deployment is not None
        if not openai_compatible(deployment):
            raise unsupported(deployment, what, alternative)
        price = UnitPrice(None, unit_rates(deployment.provider, deployment.model), model=deployment.model)
        return Upstream(flagged(deployment, endpoint_name, price), admitted, native=True)

    return prepare


def _rerank_checks(call: ProxyCall, body: dict[str, Any]) -> None:
    documents = body.get("documents")
    if not isinstance(body.get("query"), str) or not isinstance(documents, list) or not documents:
        raise BadRequestError(
            "'query' (a string) and 'documents' (a non-empty list) are required", param="documents"
        )


IMAGES = Endpoint(
    call_type="aimage_generation",
    need="prompt",
    call=engine.chat,
    encode=_body,
    error=error_response,
    prepare=_image_upstream,
    forward_raw=True,
    name="image_generations",
)
MODERATIONS = Endpoint(
    call_type="amoderation",
    need="input",
    call=engine.chat,
    encode=_body,
    error=error_response,
    prepare=_unit_upstream("moderations", "moderation", "an openai/ moderation model"),
    forward_raw=True,
    name="moderations",
)
RERANK = Endpoint(
    call_type="arerank",
    need="query",
    call=engine.chat,
    encode=_body,
    error=error_response,
    parse=_rerank_checks,
    prepare=_unit_upstream("rerank", "rerank", "a cohere/ rerank model"),
    forward_raw=True,
    name="rerank",
)

image_generations = inference_route(IMAGES)
moderations = inference_route(MODERATIONS)
rerank = inference_route(RERANK)


def routes() -> list[Route]:
    """Images, moderations and rerank, with and without ``/v1`` (rerank also at Cohere's ``/v2``)."""
    return [
        *(
            Route(p, image_generations, methods=["POST"])
            for p in ("/v1/images/generations", "/images/generations")
        ),
        *(Route(p, moderations, methods=["POST"]) for p in ("/v1/moderations", "/moderations")),
        *(Route(p, rerank, methods=["POST"]) for p in ("/v1/rerank", "/rerank", "/v2/rerank")),
    ]
