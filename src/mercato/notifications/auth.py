"""Permission dependencies of the notifications API."""

from typing import Annotated

from mercato.platform.auth import Authenticated, require
from mercato.platform.security import Permission, Principal

NotificationsRead = Annotated[Principal, require(Permission.NOTIFICATIONS_READ)]
NotificationsSend = Annotated[Principal, require(Permission.NOTIFICATIONS_SEND)]
AnyUser = Authenticated

__all__ = ["AnyUser", "NotificationsRead", "NotificationsSend"]
