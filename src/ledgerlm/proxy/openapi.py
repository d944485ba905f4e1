"""``/openapi.json``: an OpenAPI 3.1 document describing every proxy route with its request and
response schemas (OpenAI shapes for the LLM routes, LiteLLM fields for management and spend).

Built once (cached) from the management pydantic models and the hand-written schemas of
``ledgerlm.proxy.openapi_schemas``.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel

from ledgerlm.proxy import management_models as mm
from ledgerlm.proxy.openapi_schemas import (  # noqa: F401  (re-exported: endpoints/schemas.py)
    ANTHROPIC_MESSAGE,
    ANTHROPIC_MESSAGES_REQUEST,
    CHAT_REQUEST,
    CHAT_RESPONSE,
    EMBEDDING_REQUEST,
    EMBEDDING_RESPONSE,
    ERROR,
    LIST,
    MESSAGE,
    METADATA,
    MODELS_RESPONSE,
    OBJECT,
    OBJECT_OR_LIST,
    RESPONSE_HEADERS,
    SPEND_LOGS,
    SPEND_ROW,
    TAGS,
    USAGE,
    _errors,
    _op,
    _schema,
)
from ledgerlm.proxy.ui.openapi import dashboard_paths

__all__ = ["openapi_document"]


def _llm_paths() -> dict[str, Any]:
    chat = _op(
        "Chat completion (plain or SSE stream)",
        CHAT_RESPONSE,
        body=CHAT_REQUEST,
        errors=(400, 401, 403, 404, 413, 429, 500, 502, 503, 504),
        sse=True,
    )
    embed = _op(
        "Embeddings",
        EMBEDDING_RESPONSE,
        body=EMBEDDING_REQUEST,
        errors=(400, 401, 403, 404, 413, 429, 500, 502, 503, 504),
    )
    models = _op("Models the caller's key may use", MODELS_RESPONSE, errors=(401,))
    return {
        "/v1/chat/completions": {"post": chat},
        "/chat/completions": {"post": chat},
        "/v1/embeddings": {"post": embed},
        "/embeddings": {"post": embed},
        "/v1/models": {"get": models},
        "/models": {"get": models},
        "/health": {
            "get": {
                "summary": "Call every deployment once (LiteLLM's model health check; admins)",
                "responses": {
                    "200": {"description": "healthy_endpoints, unhealthy_endpoints, healthy_count, ..."},
                    "401": {"description": "no key"},
                    "403": {"description": "not an admin"},
                },
            }
        },
        "/health/liveliness": {
            "get": {"summary": "Process alive", "responses": {"200": {"description": "OK"}}}
        },
        "/health/readiness": {
            "get": {
                "summary": "Database reachable and spool healthy",
                "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}},
            }
        },
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OK"}}}},
    }


def _management_paths() -> dict[str, Any]:
    post: dict[str, tuple[str, type[BaseModel]]] = {
        "/key/generate": ("Create a virtual key (shown once)", mm.KeyGenerate),
        "/key/update": ("Update a key", mm.KeyUpdate),
        "/key/delete": ("Delete keys", mm.KeyDelete),
        "/team/new": ("Create a team", mm.TeamNew),
        "/team/update": ("Update a team", mm.TeamUpdate),
        "/team/delete": ("Delete teams", mm.TeamDelete),
        "/user/new": ("Create a user (and a key)", mm.UserNew),
    }
    out: dict[str, Any] = {
        p: {"post": _op(s, OBJECT, body=_schema(m), errors=(400, 401, 403, 404))}
        for p, (s, m) in post.items()
    }
    get = {
        "/key/info": ("A key's fields", ["key"]),
        "/key/list": ("Keys", ["page", "size", "team_id", "user_id", "key_alias", "return_full_object"]),
        "/team/info": ("A team and its keys", ["team_id"]),
        "/user/info": ("A user, its keys and teams", ["user_id"]),
    }
    for path, (summary, params) in get.items():
        out[path] = {"get": _op(summary, OBJECT, params=params, errors=(400, 401, 403, 404))}
    return out


def _spend_paths() -> dict[str, Any]:
    """The spend routes: log rows, then reports and activity."""
    return {**_spend_log_paths(), **_spend_report_paths()}


def _spend_log_paths() -> dict[str, Any]:
    filters = [
        "request_id",
        "api_key",
        "user_id",
        "team_id",
        "end_user",
        "tags",
        "model",
        "status",
        "start_date",
        "end_date",
        "page",
        "page_size",
    ]
    litellm = [
        "request_id",
        "api_key",
        "user_id",
        "team_id",
        "end_user",
        "start_date",
        "end_date",
        "summarize",
    ]
    errors = (400, 401, 403)
    return {
        "/spend/logs": {
            "get": _op(
                "Spend log rows, LiteLLM's list (or daily summaries)", LIST, params=litellm, errors=errors
            )
        },
        "/spend/logs/v2": {
            "get": _op("Spend log rows, paginated", SPEND_LOGS, params=filters, errors=errors)
        },
    }


def _spend_report_paths() -> dict[str, Any]:
    report = ["group_by", "start_date", "end_date", "api_key", "internal_user_id", "team_id", "customer_id"]
    dates = ["start_date", "end_date"]
    errors = (400, 401, 403)
    return {
        "/spend/tags": {"get": _op("Spend and requests per tag", LIST, params=dates, errors=errors)},
        "/global/spend/tags": {"get": _op("Spend per tag, every key", LIST, params=dates, errors=errors)},
        "/global/spend/report": {
            "get": _op("Spend per day and group (LiteLLM's shape)", LIST, params=report, errors=errors)
        },
        "/global/spend/report/v2": {
            "get": _op(
                "Spend totals per group (also tag:<dimension>, allocated)",
                OBJECT,
                params=["group_by", *dates],
                errors=errors,
            )
        },
        "/global/spend/reset": {"post": _op("Reset key and team spend", OBJECT, body=OBJECT, errors=errors)},
        "/user/daily/activity": {
            "get": _op("A user's daily spend", OBJECT, params=["user_id", *dates], errors=errors)
        },
        "/team/daily/activity": {
            "get": _op("Teams' daily spend", OBJECT, params=["team_ids", *dates], errors=errors)
        },
        "/tag/daily/activity": {
            "get": _op("Tags' daily spend", OBJECT, params=["tags", *dates], errors=errors)
        },
    }


def _tag_paths() -> dict[str, Any]:
    """Tag management routes (``ledgerlm.proxy.tag_routes``, budgets)."""
    from ledgerlm.proxy.tag_routes import TagBody

    tag_body = _schema(TagBody)
    names = {"type": "object", "properties": {"names": {"type": "array", "items": {"type": "string"}}}}
    return {
        "/tag/new": {
            "post": _op("Register a tag (budget, limits)", OBJECT, body=tag_body, errors=(400, 401, 403))
        },
        "/tag/update": {"post": _op("Update a tag", OBJECT, body=tag_body, errors=(400, 401, 403, 404))},
        "/tag/info": {
            "get": _op("Registered tags", OBJECT, params=["name"], errors=(400, 401, 403, 404)),
            "post": _op("Registered tags", OBJECT, body=names, errors=(400, 401, 403, 404)),
        },
        "/tag/list": {
            "get": _op("Every registered tag", {"type": "array", "items": OBJECT}, errors=(401, 403))
        },
        "/tag/delete": {"post": _op("Delete tags", OBJECT, body=names, errors=(400, 401, 403, 404))},
        "/tags/drift": {
            "get": _op(
                "Tag drift report (docs/tags.md)",
                OBJECT,
                params=["start_date", "end_date", "dimension"],
                errors=(400, 401, 403),
            )
        },
    }


def _reconcile_paths() -> dict[str, Any]:
    """``GET /reconcile/runs`` and ``GET /reconcile/runs/{run_id}`` (``ledgerlm.proxy.reconcile_routes``):
    money and rates are JSON numbers with exact digits; ``capture_rate`` is null when nothing was billed."""
    number = {"type": "number"}
    summary_fields = {
        "id": {"type": "string"}, "provider": {"type": "string"},
        "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
        "ledger_usd": number, "provider_usd": number,
        "capture_rate": {"type": ["number", "null"]}, "tolerance": number,
        "status": {"type": "string", "enum": ["ok", "drift"]}, "created_at": {"type": "string"},
    }  # fmt: skip
    run = {"type": "object", "required": [*summary_fields, "rows"],
           "properties": {**summary_fields, "rows": {"type": "array", "items": OBJECT}}}  # fmt: skip
    listing = {"type": "object", "properties": {"data": {"type": "array", "items": OBJECT}}}
    one = _op("One reconciliation run with its explained rows", run, errors=(401, 403, 404))
    one["parameters"] = [{"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "/reconcile/runs": {
            "get": _op("Reconciliation runs, newest first", listing, params=["provider", "limit"])
        },
        "/reconcile/runs/{run_id}": {"get": one},
    }


def _alert_paths() -> dict[str, Any]:
    """Spend-alert admin routes (``ledgerlm.proxy.spend_alert_routes``, issue 23)."""
    listing = {"type": "object", "properties": {"data": {"type": "array", "items": OBJECT}}}
    clear = {
        "type": "object",
        "required": ["dimension", "value"],
        "properties": {
            "dimension": {"type": "string", "enum": ["key", "team", "end_user", "tag", "model"]},
            "value": {"type": "string"},
        },
    }
    cleared = {"type": "object", "properties": {"cleared": {"type": "boolean"}}}
    return {
        "/alerts/throttles": {"get": _op("Active spend-alert throttles", listing, errors=(401, 403))},
        "/alerts/throttle/clear": {"post": _op("Lift a spend-alert throttle", cleared, body=clear)},
        "/alerts/recent": {"get": _op("The last spend alerts fired", listing, errors=(401, 403))},
    }


def _other_paths() -> dict[str, Any]:
    """Anthropic ``/v1/messages`` (``ledgerlm.proxy.messages``) and ``/metrics``."""
    messages = _op(
        "Anthropic Messages API (plain or SSE stream)",
        ANTHROPIC_MESSAGE,
        body=ANTHROPIC_MESSAGES_REQUEST,
        errors=(400, 401, 403, 404, 413, 429, 500, 502, 503, 504),
        sse=True,
    )
    text = {"text/plain": {"schema": {"type": "string"}}}
    metrics = {
        "summary": "Prometheus metrics (with the prometheus callback)",
        "responses": {"200": {"description": "text format", "content": text}},
    }
    return {"/v1/messages": {"post": messages}, "/messages": {"post": messages}, "/metrics": {"get": metrics}}


def _ledger_paths() -> dict[str, Any]:
    """Closed periods (``ledgerlm.proxy.ledger_routes``, issue 19)."""
    body = {
        "type": "object",
        "required": ["period"],
        "properties": {
            "period": {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$", "description": "UTC month"},
            "note": {"type": "string"},
        },
    }
    listing = {"type": "object", "properties": {"data": {"type": "array", "items": OBJECT}}}
    return {
        "/period/close": {
            "post": _op("Close a month for good (no reopen)", OBJECT, body=body, errors=(400, 401, 403, 409))
        },
        "/period/list": {"get": _op("Closed months, newest first", listing, errors=(401, 403))},
    }


def _entity_paths() -> dict[str, Any]:
    """The ``ledgerlm.proxy.entities`` routes, described from their handlers' docstrings; each names the
    access it needs (``ledgerlm.proxy.roles``)."""
    from ledgerlm.proxy import entities, roles

    out: dict[str, Any] = {}
    for route in entities.routes():
        doc = (getattr(route.endpoint, "__doc__", None) or route.path).strip()
        summary = doc.splitlines()[0]
        for method in sorted((route.methods or set()) - {"HEAD"}):
            body = OBJECT if method in ("POST", "PATCH", "DELETE") else None
            op = _op(summary, OBJECT_OR_LIST, body=body, errors=(400, 401, 403, 404))
            op["description"] = f"{doc}\n\nAccess: {roles.access_of(route.path).value}."
            out.setdefault(route.path, {})[method.lower()] = op
    return out


def _routing_paths() -> dict[str, Any]:
    """``GET /model/info`` and ``/model_group/info`` (``ledgerlm.proxy.model_info_routes``)."""
    listing = {
        "type": "object",
        "properties": {"data": {"type": "array", "items": OBJECT}},
        "required": ["data"],
    }
    info = _op(
        "Deployments the key may use, with routing health",
        listing,
        params=["litellm_model_id"],
        errors=(401,),
    )
    groups = _op(
        "Model groups the key may use, with their deployments' health",
        listing,
        params=["model_group"],
        errors=(401,),
    )
    return {
        "/model/info": {"get": info},
        "/v1/model/info": {"get": info},
        "/model_group/info": {"get": groups},
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (cached)."""
    from ledgerlm.proxy.endpoints.schemas import endpoint_paths

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ledgerlm proxy",
            "version": "0.1.0",
            "description": "OpenAI-compatible LLM gateway with virtual keys, tags and spend logs.",
        },
        "paths": {
            **_llm_paths(),
            **_management_paths(),
            **_spend_paths(),
            **_tag_paths(),
            **_reconcile_paths(),
            **_alert_paths(),
            **_other_paths(),
            **_ledger_paths(),
            **endpoint_paths(),
            **_entity_paths(),
            **_routing_paths(),
            **dashboard_paths(),  # issue 21
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "ledgerlm_session"},
            },
            "schemas": {"Error": ERROR},
        },
    }
