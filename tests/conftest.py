"""Test harness: real PostgreSQL, the real app, a fresh tenant per test.

* ``MERCATO_TEST_DATABASE_URL`` (a superuser URL, e.g. the machine's PostgreSQL 15)
  selects an external server; otherwise the embedded server runs in ``.mercato-test/``.
* Each xdist worker gets its own database (dropped and re-created, then migrated once).
* Tests isolate by creating their own tenants (RLS does the rest); nothing is mocked.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from mercato.app import create_app
from mercato.platform.db import Database
from mercato.platform.embedded import DatabaseUrls, provision, start_embedded
from mercato.platform.schema import upgrade_sync
from mercato.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent

# Property tests: no per-example deadline (a loaded 2-core machine is slow, not wrong). In CI the
# examples are derived from each test, not drawn at random, so a run is reproducible; locally
# they stay random and keep finding new cases.
hypothesis_settings.register_profile("local", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True,
                                     suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("ci" if os.environ.get("CI") == "true" else "local")

os.environ.setdefault("MERCATO_ENV", "test")
os.environ.setdefault("MERCATO_DATA_DIR", str(ROOT / ".mercato-test"))
os.environ.setdefault("MERCATO_RATE_LIMIT_ENABLED", "false")
os.environ.setdefault("MERCATO_LOG_JSON", "true")
# Cheap argon2 parameters keep the suite fast; production defaults are tested in test_security.
os.environ.setdefault("MERCATO_TEST_FAST_HASH", "1")


def _superuser_url() -> str:
    external = os.environ.get("MERCATO_TEST_DATABASE_URL")
    if external:
        return external
    return start_embedded(ROOT / ".mercato-test")


@pytest.fixture(scope="session")
def db_urls(worker_id: str) -> Iterator[DatabaseUrls]:
    # One database per test process: parallel runs (xdist workers, several checkouts) never collide.
    name = f"mercato_test_{worker_id}_{os.getpid()}".replace("-", "_")
    superuser = _superuser_url()
    urls = asyncio.run(provision(superuser, name, drop_existing=True))
    upgrade_sync(urls.owner)
    yield urls
    asyncio.run(_drop_database(superuser, name))


async def _drop_database(superuser: str, name: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    conn = await asyncpg.connect(make_url(superuser).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:  # works with and without xdist
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(scope="session")
def settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()


@pytest_asyncio.fixture(scope="session")
async def app(db_urls: DatabaseUrls, settings: Settings):  # type: ignore[no-untyped-def]
    from mercato.platform import security

    security.configure_password_hasher(time_cost=1, memory_cost=1024, parallelism=1)
    application = create_app(settings, urls=db_urls, start_background=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    # A generous timeout: a loaded 2-core machine is slow, not wrong (long flows: checkout, Stripe, e2e).
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=120) as c:
        yield c


@pytest.fixture(scope="session")
def db(app) -> Database:  # type: ignore[no-untyped-def]
    return app.state.db


@pytest_asyncio.fixture(scope="session")
async def worker_db(db_urls: DatabaseUrls) -> AsyncIterator[Database]:
    d = Database(db_urls.worker, pool_size=2, max_overflow=2)
    yield d
    await d.dispose()


@dataclass
class TenantInfo:
    id: uuid.UUID
    slug: str
    owner_id: uuid.UUID
    owner_email: str
    owner_password: str
    secret_key: str
    publishable_key: str

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret_key}"}

    @property
    def storefront_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.publishable_key}"}

    @property
    def host_headers(self) -> dict[str, str]:
        return {"X-Mercato-Tenant": self.slug}


@pytest_asyncio.fixture
async def make_tenant(db: Database):  # type: ignore[no-untyped-def]
    import mercato.tenancy as tenancy
    from mercato.tenancy.schemas import TenantCreate

    async def factory(name: str | None = None) -> TenantInfo:
        slug = f"t{uuid.uuid4().hex[:12]}"
        email = f"owner@{slug}.example.com"
        password = "correct horse battery staple"
        async with db.platform_transaction() as session:
            result = await tenancy.create_tenant(session, TenantCreate(
                name=name or f"Shop {slug}", slug=slug, owner_email=email, owner_password=password))
        return TenantInfo(id=result.tenant.id, slug=slug, owner_id=result.owner_id, owner_email=email,
                          owner_password=password, secret_key=result.secret_key,
                          publishable_key=result.publishable_key)

    return factory


@pytest_asyncio.fixture
async def tenant(make_tenant) -> TenantInfo:  # type: ignore[no-untyped-def]
    return await make_tenant()
