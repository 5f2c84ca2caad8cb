"""Every route of the real app declares its permission, and the OpenAPI document says what it does.

Strict on purpose: a new route that forgets ``require(...)``/``Public``/``Open``, a summary, a tag or
its error responses fails here, with the list of offenders.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts

from mercato.platform.auth import Authenticated, Open, Public, declared_permission, is_open_route, require
from mercato.platform.openapi import BEARER_SCHEME

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _framework_paths(app: FastAPI) -> set[str]:
    return {p for p in (app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if p}


def _api_routes(app: FastAPI) -> list[Any]:
    return [ctx for ctx in iter_route_contexts(app.routes) if isinstance(ctx.original_route, APIRoute)]


def test_every_route_declares_a_permission_or_public(app: FastAPI) -> None:
    framework = _framework_paths(app)
    offenders = []
    seen = 0
    for ctx in iter_route_contexts(app.routes):
        if not isinstance(ctx.original_route, APIRoute | APIWebSocketRoute):
            if ctx.path not in framework:
                offenders.append(f"{ctx.path}: not an API route, cannot declare a permission")
            continue
        seen += 1
        if declared_permission(ctx) is None:
            offenders.append(f"{sorted(ctx.methods or [])} {ctx.path} ({ctx.original_route.name})")
    assert seen > 5
    assert not offenders, "routes without a declared permission (use require(...), Public, Authenticated or Open):\n" \
        + "\n".join(offenders)


def test_declared_permission_sees_every_way_of_declaring() -> None:
    router = APIRouter()

    @router.get("/a", dependencies=[require("orders:read")])
    async def a() -> None: ...

    @router.get("/b")
    async def b(_: Public) -> None: ...

    @router.get("/c", dependencies=[Open])
    async def c() -> None: ...

    async def nested(_: Authenticated) -> int:
        return 1

    @router.get("/d")
    async def d(_: int = Depends(nested)) -> None: ...

    @router.get("/e")
    async def e(_: Public, __: Any = require("catalog:write")) -> None: ...

    @router.get("/f")
    async def f() -> None: ...

    guarded = APIRouter(dependencies=[require("audit:read")])

    @guarded.get("/g")
    async def g() -> None: ...

    included = APIRouter()

    @included.get("/h")
    async def h() -> None: ...

    app = FastAPI()
    app.include_router(router)
    app.include_router(guarded)
    app.include_router(included, prefix="/x", dependencies=[require("users:write")])
    found = {ctx.path: (declared_permission(ctx), is_open_route(ctx)) for ctx in _api_routes(app)}
    assert found == {"/a": ("orders:read", False), "/b": ("public", False), "/c": ("public", True),
                     "/d": ("authenticated", False), "/e": ("catalog:write", False), "/f": (None, False),
                     "/g": ("audit:read", False), "/x/h": ("users:write", False)}


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
            if method in METHODS]


def test_openapi_is_31_with_problem_and_bearer_scheme(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "code"} <= set(problem["required"])
    assert spec["components"]["securitySchemes"][BEARER_SCHEME] == {
        **spec["components"]["securitySchemes"][BEARER_SCHEME], "type": "http", "scheme": "bearer"}
    # Every $ref resolves.
    text = json.dumps(spec)
    for ref in {r.split('"')[0] for r in text.split('"$ref": "')[1:]}:
        node: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
    assert "HTTPValidationError" not in text  # our 422 is a Problem


def test_every_operation_has_summary_tag_security_and_errors(app: FastAPI, spec: dict[str, Any]) -> None:
    routes = {}
    for ctx in _api_routes(app):
        for m in ctx.methods or ():
            routes[(ctx.path_format, m.lower())] = ctx
    offenders: list[str] = []
    for path, method, op in _operations(spec):
        where = f"{method.upper()} {path}"
        ctx = routes.get((path, method))
        if ctx is None:
            offenders.append(f"{where}: in the spec but not a route")
            continue
        permission = declared_permission(ctx)
        is_open = is_open_route(ctx)
        if not op.get("summary"):
            offenders.append(f"{where}: no summary")
        if not op.get("tags"):
            offenders.append(f"{where}: no tag")
        authored = {str(k) for k in (ctx.original_route.responses or {})}
        error_codes = {c for c in authored if c.startswith("4")}
        if not is_open and not error_codes:
            offenders.append(f"{where}: documents no 4xx response (responses=problem_schema_responses(...))")
        if permission not in (None, "public") and "401" not in authored:
            offenders.append(f"{where}: needs a credential but does not document 401")
        if permission not in (None, "public", "authenticated") and "403" not in authored:
            offenders.append(f"{where}: needs {permission} but does not document 403")
        security = op.get("security")
        if is_open:
            if security:
                offenders.append(f"{where}: infrastructure route should carry no security requirement")
        elif permission == "public":
            if security != [{}, {BEARER_SCHEME: []}]:
                offenders.append(f"{where}: public route should mark credentials optional")
        elif security != [{BEARER_SCHEME: []}]:
            offenders.append(f"{where}: protected route lacks the bearer security requirement")
        for status, resp in op.get("responses", {}).items():
            if status.startswith(("4", "5")) and status != "503":
                content = resp.get("content", {})
                if "application/problem+json" not in content:
                    offenders.append(f"{where}: {status} is not documented as application/problem+json")
    assert not offenders, "OpenAPI problems:\n" + "\n".join(sorted(offenders))


def test_rate_limited_and_body_routes_document_429_and_413(spec: dict[str, Any]) -> None:
    for path, _method, op in _operations(spec):
        if path.startswith("/api/"):
            assert "429" in op["responses"] and "Retry-After" in op["responses"]["429"]["headers"]
        if "requestBody" in op:
            assert "413" in op["responses"]
