"""Multipart endpoints beside transcriptions (OpenAI API reference "Images" and "Audio"), also without
``/v1``, on ``_glue.run`` (the lifecycle reads JSON bodies), for OpenAI-compatible deployments:

* ``POST /v1/images/edits`` (``image`` or ``image[]`` files, optional ``mask``, ``prompt``): priced
  as OpenAI bills image calls: by tokens when the answer reports them and the catalog prices them
  (gpt-image-1: text and image input tokens, image output tokens), else per image by model, size
  and quality (dall-e-2 edits bill as its generations); call type ``aimage_edit``;
* ``POST /v1/images/variations`` (``image``; dall-e-2): per image by size; ``aimage_variation``;
* ``POST /v1/audio/translations`` (``file``, whisper-1): per second of audio. OpenAI's ``json``
  translation answer carries no duration, so the proxy asks for ``verbose_json`` (which has
  ``duration``) and answers the caller in the format it asked (``json``: ``{"text"}``; ``text``: the
  text); ``srt`` / ``vtt`` are forwarded as they come and logged "unpriced" (no duration);
  ``atranslation``.

The uploaded files go upstream as parts of the same names and never enter a log or a callback.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm import engine
from ledgerlm.errors import BadRequestError, RequestTooLargeError
from ledgerlm.pricing.unit_prices import UnitPrice, image_rate, unit_rates
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.openai_endpoints import BINARY_RESPONSE, UPLOAD_KEY
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints._glue import Plan, RawEndpoint, flagged, openai_compatible, run, unsupported

__all__ = ["IMAGE_EDITS", "IMAGE_VARIATIONS", "TRANSLATIONS", "routes"]

_FILE_PARTS = {"image", "image[]", "mask", "file"}


async def _form(request: Request, call: ProxyCall) -> dict[str, Any]:
    """The form fields as a body (each file part -> its filename); the files kept on the request."""
    length = request.headers.get("content-length")
    limit = call.state.max_body_bytes
    if length is not None and length.isdigit() and int(length) > limit:
        raise RequestTooLargeError(f"request body over {limit} bytes", code="request_too_large")
    try:
        form = await request.form()
    except Exception as exc:  # not multipart, or a broken one
        raise BadRequestError(f"send multipart/form-data ({exc})", param="file") from None
    body: dict[str, Any] = {}
    uploads: list[tuple[str, str, bytes, str]] = []
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile) and name in _FILE_PARTS:
                filename = value.filename or name.rstrip("[]")
                uploads.append(
                    (name, filename, await value.read(), value.content_type or "application/octet-stream")
                )
                body.setdefault(name.rstrip("[]"), filename)
            elif isinstance(value, str) and name.endswith("[]"):  # a list field (tags[])
                body.setdefault(name[:-2], []).append(value)
            elif isinstance(value, str):
                body[name] = value
    finally:
        await form.close()
    request.state.ledgerlm_uploads = uploads
    _count(body)
    override = getattr(request.state, "model_override", None)
    if override:
        body["model"] = override
    return body


def _count(body: dict[str, Any]) -> None:
    """``n`` (a form string) as the integer OpenAI documents; 400 otherwise."""
    if "n" not in body:
        return
    text = str(body["n"]).strip()
    if not text.isdigit() or int(text) < 1:
        raise BadRequestError("'n' must be a positive integer (the number of images)", param="n")
    body["n"] = int(text)


def _fields(admitted: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in admitted.items() if k not in ("image", "mask", "file")}


def _check_openai(deployment: Deployment | None, what: str, alternative: str) -> Deployment:
    assert deployment is not None
    if not openai_compatible(deployment):
        raise unsupported(deployment, what, alternative)
    return deployment


def _image_price(deployment: Deployment, admitted: dict[str, Any]) -> UnitPrice:
    rate, described = image_rate(deployment.model, admitted.get("size"), admitted.get("quality"))
    return UnitPrice(
        engine.compiled_price(deployment),
        {} if rate is None else {"image": rate},
        model=described if rate is not None else deployment.model,
        token_first=True,
        missing=None if rate is not None else described,
    )


def _image_plan(endpoint_name: str, what: str) -> Any:
    def plan(call: ProxyCall, admitted: dict[str, Any]) -> Plan:
        deployment = _check_openai(call.deployment, what, "an openai/ or azure/ image model")
        uploads = call.request.state.ledgerlm_uploads
        settings = {UPLOAD_KEY: uploads}
        copy = flagged(deployment, endpoint_name, _image_price(deployment, admitted), **settings)
        return Plan(copy, _fields(admitted), encode=_json)

    return plan


async def _json(call: ProxyCall, result: Any) -> Response:
    headers = call.headers(result.record, result.cost.total)
    raw = result.raw if result.raw is not None else orjson.dumps(result.body)
    return Response(raw, media_type="application/json", headers=headers)


def _translation_plan(call: ProxyCall, admitted: dict[str, Any]) -> Plan:
    deployment = _check_openai(call.deployment, "audio translation", "an openai/ or azure/ whisper model")
    asked = admitted.get("response_format") or "json"
    fields = _fields(admitted)
    uploads = call.request.state.ledgerlm_uploads
    upload = [u for u in uploads if u[0] == "file"][:1]
    if not upload:
        raise BadRequestError("'file' is required (a multipart file part)", param="file")
    extra: dict[str, Any] = {UPLOAD_KEY: upload}
    if asked in ("json", "text"):
        fields["response_format"] = "verbose_json"  # the only translation answer with a duration
    elif asked != "verbose_json":
        extra[BINARY_RESPONSE] = {"object": "audio.translation", "text": ""}
    price = UnitPrice(
        engine.compiled_price(deployment),
        unit_rates(deployment.provider, deployment.model),
        model=deployment.model,
        token_first=True,
    )
    return Plan(flagged(deployment, "audio/translations", price, **extra), fields, encode=_translation)


async def _translation(call: ProxyCall, result: Any) -> Response:
    headers = call.headers(result.record, result.cost.total)
    asked = call.body.get("response_format") or "json"
    if asked == "json":
        return Response(
            orjson.dumps({"text": result.body.get("text", "")}),
            media_type="application/json",
            headers=headers,
        )
    if asked == "text":
        return Response(str(result.body.get("text", "")), media_type="text/plain", headers=headers)
    media = "application/json" if asked == "verbose_json" else "text/plain"
    return Response(result.raw or b"", media_type=media, headers=headers)


IMAGE_EDITS = RawEndpoint("aimage_edit", "image", _form, _image_plan("images/edits", "image edits"))
IMAGE_VARIATIONS = RawEndpoint(
    "aimage_variation", "image", _form, _image_plan("images/variations", "image variations")
)
TRANSLATIONS = RawEndpoint("atranslation", "file", _form, _translation_plan)


async def image_edits(request: Request) -> Response:
    """``POST /v1/images/edits``."""
    return await run(request, IMAGE_EDITS)


async def image_variations(request: Request) -> Response:
    """``POST /v1/images/variations``."""
    return await run(request, IMAGE_VARIATIONS)


async def translations(request: Request) -> Response:
    """``POST /v1/audio/translations``."""
    return await run(request, TRANSLATIONS)


def routes() -> list[Route]:
    """The routes, with and without ``/v1``."""
    out: list[Route] = []
    for prefix in ("/v1", ""):
        out.append(Route(f"{prefix}/images/edits", image_edits, methods=["POST"]))
        out.append(Route(f"{prefix}/images/variations", image_variations, methods=["POST"]))
        out.append(Route(f"{prefix}/audio/translations", translations, methods=["POST"]))
    return out
