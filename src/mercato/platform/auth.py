"""Route permission declarations: every route says which permission it needs, or that it is public.

The principal is resolved once per request by the resolver the app factory
installs (``app.state.resolve_principal``, implemented by the identity module),
so this file knows no module. A test walks every route and fails if one declares
neither :func:`require` nor :data:`Public`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.platform.db import SessionDep
from mercato.platform.errors import Forbidden, Unauthorized
from mercato.platform.security import ANONYMOUS, Permission, Principal

PrincipalResolver = Callable[[Request, AsyncSession], Awaitable[Principal]]


class PermissionDenied(Forbidden):
    code, title = "permission_denied", "Missing permission"


async def get_principal(request: Request, session: SessionDep) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    resolver: PrincipalResolver = request.app.state.resolve_principal
    principal = await resolver(request, session)
    request.state.principal = principal
    # e.g. per-principal and per-tenant rate limits, log context (installed by platform modules)
    for hook in getattr(request.app.state, "principal_hooks", ()):
        await hook(request, principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(permission: Permission | str) -> Any:
    """Dependency: the caller must be authenticated and hold ``permission``."""

    async def dependency(principal: PrincipalDep) -> Principal:
        if not principal.is_authenticated:
            raise Unauthorized()
        if not principal.can(permission):
            raise PermissionDenied(f"requires permission {permission!s}", permission=str(permission))
        return principal

    dependency.__mercato_permission__ = str(permission)  # type: ignore[attr-defined]
    dependency.__name__ = f"require_{str(permission).replace(':', '_')}"
    return Depends(dependency)


async def _public(principal: PrincipalDep) -> Principal:
    return principal


_public.__mercato_permission__ = "public"  # type: ignore[attr-defined]


async def _authenticated(principal: PrincipalDep) -> Principal:
    if not principal.is_authenticated:
        raise Unauthorized()
    return principal


_authenticated.__mercato_permission__ = "authenticated"  # type: ignore[attr-defined]

async def _open() -> None:
    return None


_open.__mercato_permission__ = "public"  # type: ignore[attr-defined]
_open.__mercato_open__ = True  # type: ignore[attr-defined]

#: Infrastructure route (health, metrics): public, and touches no tenant or database session.
Open = Depends(_open)
#: Route is open to anyone (the principal is still resolved, e.g. for the tenant).
Public = Annotated[Principal, Depends(_public)]
#: Any authenticated caller; the service itself restricts to the caller's own resources.
Authenticated = Annotated[Principal, Depends(_authenticated)]


def _permission_markers(route: Any) -> list[tuple[str, Any]]:
    """Every permission marker in a route's dependency tree (route, router and include-level ones).

    ``route`` is an APIRoute or a ``fastapi.routing.RouteContext`` (whose ``dependant`` also carries
    dependencies given to ``include_router``)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return []
    found: list[tuple[str, Any]] = []
    queue = list(dependant.dependencies)
    seen: set[int] = set()
    while queue:
        dep = queue.pop(0)
        if id(dep) in seen:
            continue
        seen.add(id(dep))
        call = dep.call
        marker = getattr(call, "__mercato_permission__", None) or getattr(
            getattr(call, "func", None), "__mercato_permission__", None)  # functools.partial
        if marker:
            found.append((str(marker), call))
        queue.extend(dep.dependencies)
    return found


def declared_permission(route: Any) -> str | None:
    """The permission a route declares (walks its dependency tree), or None.

    When several are declared, the strictest wins: a named permission over ``authenticated`` over
    ``public``."""
    markers = [m for m, _ in _permission_markers(route)]
    for m in markers:
        if m not in ("public", "authenticated"):
            return m
    if "authenticated" in markers:
        return "authenticated"
    return "public" if "public" in markers else None


def is_open_route(route: Any) -> bool:
    """An infrastructure route (``dependencies=[Open]``): public and resolves no principal."""
    markers = _permission_markers(route)
    return bool(markers) and all(getattr(c, "__mercato_open__", False) for _, c in markers)


__all__ = ["ANONYMOUS", "Authenticated", "Open", "PermissionDenied", "PrincipalDep", "Public", "declared_permission",
           "get_principal", "is_open_route", "require"]
