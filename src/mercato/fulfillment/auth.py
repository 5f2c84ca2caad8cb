"""The permission dependencies of the fulfillment module."""

from typing import Annotated

from mercato.platform.auth import require
from mercato.platform.security import Permission, Principal

FulfillmentRead = Annotated[Principal, require(Permission.FULFILLMENT_READ)]
FulfillmentWrite = Annotated[Principal, require(Permission.FULFILLMENT_WRITE)]
ShipmentsTrack = Annotated[Principal, require(Permission.SHIPMENTS_TRACK)]
OwnOrders = Annotated[Principal, require(Permission.ORDERS_OWN)]
