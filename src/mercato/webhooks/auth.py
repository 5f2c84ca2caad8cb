"""Permission dependencies of the webhooks API (admin and owner only)."""

from typing import Annotated

from mercato.platform.auth import require
from mercato.platform.security import Permission, Principal

WebhooksManage = Annotated[Principal, require(Permission.WEBHOOKS)]
