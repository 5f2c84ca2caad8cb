"""The permission dependencies of the returns routes."""

from __future__ import annotations

from typing import Annotated

from mercato.platform.auth import require
from mercato.platform.security import Permission, Principal

#: A signed-in customer, on their own orders' returns.
OwnReturns = Annotated[Principal, require(Permission.ORDERS_OWN)]
ReturnsRead = Annotated[Principal, require(Permission.RETURNS_READ)]
ReturnsWrite = Annotated[Principal, require(Permission.RETURNS_WRITE)]
