"""Identity use cases, split by concern. Services flush, never commit."""

from mercato.identity.service.accounts import create_operator, create_user, invite_user
from mercato.identity.service.api_keys import IssuedKey, issue_api_key

__all__ = ["IssuedKey", "create_operator", "create_user", "invite_user", "issue_api_key"]
