"""Permissions of the payments API: reading is part of order reading; changing money is ``payments:write``."""

from __future__ import annotations

from typing import Annotated

from mercato.platform.auth import require
from mercato.platform.security import Permission, Principal

PaymentsRead = Annotated[Principal, require(Permission.ORDERS_READ)]
PaymentsWrite = Annotated[Principal, require(Permission.PAYMENTS_WRITE)]
