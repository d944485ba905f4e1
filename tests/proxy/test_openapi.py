"""``/openapi.json`` describes every route of the app (path and method) with schemas."""

from __future__ import annotations

from starlette.routing import Route

from ledgerlm.proxy.app import routes
from ledgerlm.proxy.openapi import openapi_document


def test_every_route_is_described() -> None:
    doc = openapi_document()
    missing = []
    for route in routes():
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method == "HEAD":
                continue
            if method.lower() not in doc["paths"].get(route.path_format, {}):
                missing.append(f"{method} {route.path_format}")
    assert not missing, missing
    assert "/metrics" in doc["paths"]


def test_request_bodies_have_schemas() -> None:
    doc = openapi_document()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "post":
                content = op["requestBody"]["content"]
                schema = content.get("application/json", content.get("multipart/form-data"))["schema"]
                assert schema.get("type") == "object" or "properties" in schema, path
            assert "200" in op["responses"], (path, method)
