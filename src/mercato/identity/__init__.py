"""Identity and access: users, sessions, MFA, API keys, addresses. Public face."""

from mercato.identity import directory as _directory
from mercato.identity.auth import PrincipalResolver, TenantRef
from mercato.identity.directory import get_contact, staff_contacts
from mercato.identity.service import IssuedKey, create_operator, create_user, invite_user, issue_api_key

# Notifications looks users up through identity's directory (it may not import identity).
_directory.install()

__all__ = ["IssuedKey", "PrincipalResolver", "TenantRef", "create_operator", "create_user", "get_contact",
           "invite_user", "issue_api_key", "staff_contacts"]
