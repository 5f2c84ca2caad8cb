"""Permission dependencies of the inventory API."""

from typing import Annotated

from mercato.platform.auth import require
from mercato.platform.security import Permission, Principal

InventoryRead = Annotated[Principal, require(Permission.INVENTORY_READ)]
InventoryWrite = Annotated[Principal, require(Permission.INVENTORY_WRITE)]
