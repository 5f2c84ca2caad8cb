"""The FastAPI app factory: routers, middleware, error handlers, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

import mercato.checkout as checkout
import mercato.fulfillment as fulfillment
import mercato.inventory as inventory
import mercato.notifications as notifications
import mercato.orders as orders
import mercato.realtime as realtime
import mercato.tenancy as tenancy_service
import mercato.webhooks as webhooks
from mercato.identity import PrincipalResolver
from mercato.platform import broker, http, idempotency, jobs, observability, ratelimit_http, worker
from mercato.platform.cache import Cache
from mercato.platform.db import Database
from mercato.platform.embedded import DatabaseUrls, resolve_database
from mercato.platform.errors import install_error_handlers
from mercato.platform.ratelimit import Limiter
from mercato.settings import Settings, get_settings

log = logging.getLogger("mercato")

API_PREFIX = "/api/v1"

OPENAPI_TAGS = [
    {"name": "system", "description": "Health, readiness, metrics."},
    {"name": "tenants", "description": "Platform operators manage shops (tenants)."},
    {"name": "auth", "description": "Sign-up, login, tokens, MFA, password reset."},
    {"name": "users", "description": "Profiles, staff management, addresses, API keys."},
    {"name": "audit", "description": "The tenant's audit log."},
    {"name": "catalog", "description": "Products, variants, categories, brands, collections, media."},
    {"name": "search", "description": "Product listing, full-text search, facets, autocomplete."},
    {"name": "inventory", "description": "Stock locations, levels, adjustments, ledger, reservations."},
    {"name": "jobs", "description": "Background jobs (e.g. CSV imports) and their progress."},
    {"name": "payments", "description": "Payments, refunds and the Stripe webhook."},
    {"name": "carts", "description": "Guest and customer carts with live prices and totals."},
    {"name": "promotions", "description": "Coupons and automatic promotions."},
    {"name": "taxes", "description": "Tax rates by region and tax class; tax settings."},
    {"name": "shipping", "description": "Shipping zones and methods with rates."},
    {"name": "checkout", "description": "Checkouts: addresses, shipping, coupons, payment, completion."},
    {"name": "orders", "description": "Orders: customers' own, guest lookup, staff management."},
    {"name": "fulfillment", "description": "Allocation, shipments (pick, pack, label, ship), carriers, tracking."},
    {"name": "returns", "description": "Returns and exchanges: requests, RMA, receipt with restock, refunds."},
    {"name": "notifications", "description": "Messages to customers and staff; template overrides."},
    {"name": "webhooks", "description": "Outbound webhook endpoints, deliveries, replay."},
    {"name": "realtime", "description": "WebSocket /ws (docs/realtime.md) and operator broadcasts."},
]


def register_periodic_jobs() -> None:
    """Every module's periodic job, for whichever process runs background work: the API with the
    in-process worker (``create_app``) or ``mercato worker`` (which builds no app). Idempotent."""
    worker.register_periodic("inventory.release_expired", inventory.RELEASE_EXPIRED_INTERVAL_SECONDS,
                             inventory.run_release_expired)
    worker.register_periodic("webhooks.send_due", webhooks.SEND_INTERVAL_SECONDS, webhooks.run_send_due)
    worker.register_periodic("notifications.retry_failed", notifications.RETRY_INTERVAL_SECONDS,
                             notifications.run_retry_failed)
    worker.register_periodic("checkout.abandon_idle", checkout.ABANDON_INTERVAL_SECONDS, checkout.run_abandon_idle)
    worker.register_periodic("fulfillment.retry_labels", fulfillment.retry_interval_seconds(),
                             fulfillment.run_retry_labels)


def create_app(settings: Settings | None = None, *, urls: DatabaseUrls | None = None,
               start_background: bool | None = None) -> FastAPI:
    """Build the app. ``urls`` skips database discovery (tests pass their own database)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db_urls = urls or await resolve_database(settings)
        app.state.urls = db_urls
        app.state.db = Database(db_urls.runtime, pool_size=settings.db_pool_size,
                                max_overflow=settings.db_max_overflow,
                                statement_timeout_ms=settings.db_statement_timeout_ms)
        app.state.cache = Cache(settings)
        app.state.db.after_commit.append(app.state.cache.apply_pending)
        background: list[Any] = []
        for hook in app.state.startup_hooks:
            background.append(await hook(app))
        try:
            yield
        finally:
            for hook in reversed(app.state.shutdown_hooks):
                await hook(app)
            await app.state.db.dispose()
            await app.state.cache.close()

    app = FastAPI(
        title="Mercato",
        version="0.1.0",
        summary="Multi-tenant headless commerce API",
        description=(
            "Every error is an RFC 9457 problem (`application/problem+json`) with a stable `code`. "
            "Authenticate with `Authorization: Bearer <JWT or API key>`. Select a shop by API key, "
            "JWT, `Host: {slug}.<base domain>` or `X-Mercato-Tenant: {slug}`."
        ),
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    app.state.resolve_principal = PrincipalResolver(tenancy_service.lookup_by_id, tenancy_service.lookup_by_slug)
    app.state.principal_hooks = []
    # Catalog reads ask inventory for stock through this hook (catalog does not import inventory).
    app.state.availability_provider = inventory.availability
    register_periodic_jobs()
    app.state.limiter = Limiter(settings)
    app.state.run_background = settings.run_worker_in_process if start_background is None else start_background
    install_error_handlers(app)
    # Middleware: the last installed runs first (outermost).
    idempotency.install(app)
    ratelimit_http.install(app)
    http.install(app)
    observability.install(app)
    orders.metrics.install(app)
    _include_routers(app)
    # Before the worker: on shutdown the relay stops first, then the bridge and the hub close.
    realtime.install(app)
    if broker.install_bridge(settings) is not None:
        app.state.shutdown_hooks.append(broker.close_bridge)
    worker.install(app)
    jobs.install(app)
    return app


def _include_routers(app: FastAPI) -> None:
    from mercato.audit import endpoints as audit_endpoints
    from mercato.cart import endpoints as cart_endpoints
    from mercato.catalog import endpoints as catalog_endpoints
    from mercato.checkout import endpoints as checkout_endpoints
    from mercato.fulfillment import endpoints as fulfillment_endpoints
    from mercato.identity import endpoints as identity_endpoints
    from mercato.inventory import endpoints as inventory_endpoints
    from mercato.notifications import endpoints as notifications_endpoints
    from mercato.orders import endpoints as orders_endpoints
    from mercato.payments import endpoints as payments_endpoints
    from mercato.platform import jobs_endpoints, system_endpoints
    from mercato.promotions import endpoints as promotions_endpoints
    from mercato.realtime import endpoints as realtime_endpoints
    from mercato.returns import endpoints as returns_endpoints
    from mercato.shipping import endpoints as shipping_endpoints
    from mercato.taxes import endpoints as taxes_endpoints
    from mercato.tenancy import endpoints as tenancy_endpoints
    from mercato.webhooks import endpoints as webhooks_endpoints

    app.include_router(system_endpoints.router)
    app.include_router(tenancy_endpoints.router, prefix=API_PREFIX)
    app.include_router(identity_endpoints.router, prefix=API_PREFIX)
    app.include_router(audit_endpoints.router, prefix=API_PREFIX)
    app.include_router(jobs_endpoints.router, prefix=API_PREFIX)
    app.include_router(catalog_endpoints.router, prefix=API_PREFIX)
    app.include_router(inventory_endpoints.router, prefix=API_PREFIX)
    app.include_router(payments_endpoints.router, prefix=API_PREFIX)
    app.include_router(promotions_endpoints.router, prefix=API_PREFIX)
    app.include_router(taxes_endpoints.router, prefix=API_PREFIX)
    app.include_router(shipping_endpoints.router, prefix=API_PREFIX)
    app.include_router(cart_endpoints.router, prefix=API_PREFIX)
    app.include_router(checkout_endpoints.router, prefix=API_PREFIX)
    app.include_router(orders_endpoints.router, prefix=API_PREFIX)
    app.include_router(fulfillment_endpoints.router, prefix=API_PREFIX)
    app.include_router(returns_endpoints.router, prefix=API_PREFIX)
    app.include_router(notifications_endpoints.router, prefix=API_PREFIX)
    app.include_router(webhooks_endpoints.router, prefix=API_PREFIX)
    app.include_router(realtime_endpoints.router)  # /ws
    app.include_router(realtime_endpoints.api_router, prefix=API_PREFIX)
