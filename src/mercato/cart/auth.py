"""Who is shopping: the storefront actor shared by the cart and checkout endpoints.

Guests need only the shop (publishable key, shop subdomain or ``X-Mercato-Tenant``) and the cart's
``X-Cart-Token``; signed-in customers their JWT. An authenticated caller needs the endpoint's
permission (``cart`` or ``checkout``; storefront keys and customers have both).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Header, Request

from mercato.cart.domain import CART_TOKEN_HEADER
from mercato.cart.errors import TenantRequired
from mercato.cart.service import Actor, Providers
from mercato.platform.auth import PermissionDenied, Public
from mercato.platform.security import Permission


def storefront_actor(permission: Permission) -> Callable[..., Awaitable[Actor]]:
    """A dependency giving the :class:`Actor` (principal + guest cart token) of a storefront request."""

    async def actor(principal: Public,
                    x_cart_token: Annotated[str | None, Header(alias=CART_TOKEN_HEADER, max_length=200)] = None
                    ) -> Actor:
        if principal.tenant_id is None:
            raise TenantRequired()
        if principal.is_authenticated and not principal.can(permission):
            raise PermissionDenied(f"requires permission {permission!s}", permission=str(permission))
        return Actor(principal=principal, token=x_cart_token or None)

    return actor


def providers(request: Request) -> Providers:
    """The app's pluggable pricing sources (``availability_provider``, ``tax_provider``)."""
    state = request.app.state
    return Providers(availability=getattr(state, "availability_provider", None),
                     tax=getattr(state, "tax_provider", None))
