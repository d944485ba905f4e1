"""Multipart endpoints beside transcriptions (OpenAI API reference "Images" and "Audio"), also without
``/v1``, as lifecycle ``Endpoint`` values (routing with retries and fallbacks, admission, hooks, one
spend row) reading the multipart form (``read_uploads``), for OpenAI-compatible deployments:

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
from starlette.routing import Route

from ledgerlm import engine
from ledgerlm.errors import BadRequestError, RequestTooLargeError
from ledgerlm.pricing.unit_prices import UnitPrice, image_rate, unit_rates
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.openai.endpoints import BINARY_RESPONSE, UPLOAD_KEY
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints.upstreams import flagged, openai_compatible, unsupported
from ledgerlm.proxy.http import error_response
from ledgerlm.proxy.lifecycle import Endpoint, Reply, Upstream, inference_route

__all__ = ["IMAGE_EDITS", "IMAGE_VARIATIONS", "TRANSLATIONS", "read_uploads", "routes"]

_FILE_PARTS = {"image", "image[]", "mask", "file"}


async def read_uploads(call: ProxyCall) -> dict[str, Any]:
    """The form fields as a body (each file part -> its filename); the files kept in
    ``call.attachments["uploads"]`` as ``(part name, filename, bytes, content type)``. 413 over the
    body limit, 400 when not multipart."""
    request = call.request
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
                kind = value.content_type or "application/octet-stream"
                uploads.append((name, filename, await value.read(), kind))
                body.setdefault(name.rstrip("[]"), filename)
            elif isinstance(value, str) and name.endswith("[]"):  # a list field (tags[])
                body.setdefault(name[:-2], []).append(value)
            elif isinstance(value, str):
                body[name] = value
    finally:
        await form.close()
    call.attachments["uploads"] = uploads
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


def _image_upstream(endpoint_name: str, what: str) -> Any:
    def prepare(call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
        deployment = _check_openai(call.deployment, what, "an openai/ or azure/ image model")
        settings = {UPLOAD_KEY: call.attachments.get("uploads", [])}
        copy = flagged(deployment, endpoint_name, _image_price(deployment, admitted), **settings)
        return Upstream(copy, _fields(admitted), native=True)

    return prepare


def _json(call: ProxyCall, upstream: Upstream, result: Any) -> Reply:
    raw = result.raw if result.raw is not None else orjson.dumps(result.body)
    return Reply(raw, media_type="application/json")


def _translation_upstream(call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
    deployment = _check_openai(call.deployment, "audio translation", "an openai/ or azure/ whisper model")
    asked = admitted.get("response_format") or "json"
    fields = _fields(admitted)
    uploads = call.attachments.get("uploads", [])
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
    return Upstream(flagged(deployment, "audio/translations", price, **extra), fields, native=True)


def _translation(call: ProxyCall, upstream: Upstream, result: Any) -> Reply:
    asked = call.body.get("response_format") or "json"
    if asked == "json":
        return Reply(orjson.dumps({"text": result.body.get("text", "")}), media_type="application/json")
    if asked == "text":
        return Reply(str(result.body.get("text", "")).encode(), media_type="text/plain")
    media = "application/json" if asked == "verbose_json" else "text/plain"
    return Reply(result.raw or b"", media_type=media)


def _endpoint(call_type: Any, need: str, prepare: Any, encode: Any, name: str) -> Endpoint:
    return Endpoint(
        call_type=call_type,
        need=need,
        call=engine.chat,
        encode=encode,
        error=error_response,
        prepare=prepare,
        read=read_uploads,
        name=name,
    )


IMAGE_EDITS = _endpoint(
    "aimage_edit", "image", _image_upstream("images/edits", "image edits"), _json, "image_edits"
)
IMAGE_VARIATIONS = _endpoint(
    "aimage_variation",
    "image",
    _image_upstream("images/variations", "image variations"),
    _json,
    "image_variations",
)
TRANSLATIONS = _endpoint("atranslation", "file", _translation_upstream, _translation, "translations")

image_edits = inference_route(IMAGE_EDITS)
image_variations = inference_route(IMAGE_VARIATIONS)
translations = inference_route(TRANSLATIONS)


def routes() -> list[Route]:
    """The routes, with and without ``/v1``."""
    out: list[Route] = []
    for prefix in ("/v1", ""):
        out.append(Route(f"{prefix}/images/edits", image_edits, methods=["POST"]))
        out.append(Route(f"{prefix}/images/variations", image_variations, methods=["POST"]))
        out.append(Route(f"{prefix}/audio/translations", translations, methods=["POST"]))
    return out
