"""Identity HTTP API (``/api/v1``): auth flows, MFA, profile, staff, API keys, addresses."""

from fastapi import APIRouter

from mercato.identity.endpoints import addresses, api_keys, auth, users

router = APIRouter()
router.include_router(auth.router)
router.include_router(addresses.router)  # /users/me/... before /users/{user_id}
router.include_router(users.router)
router.include_router(api_keys.router)

__all__ = ["router"]
