from mercato.platform.errors import AlreadyExists, Forbidden, NotFound


class TenantNotFound(NotFound):
    code, title = "tenant_not_found", "Tenant not found"


class TenantSuspended(Forbidden):
    code, title = "tenant_suspended", "This shop is suspended"


class TenantMismatch(Forbidden):
    code, title = "tenant_mismatch", "The request names two different tenants"


class SlugTaken(AlreadyExists):
    code, title = "slug_taken", "That slug is already in use"
