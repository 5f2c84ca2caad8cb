"""The ``mercato`` command line: serve, worker, migrate, demo, tenant, operator, openapi, config."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from mercato.settings import Settings, get_settings

app = typer.Typer(help="Mercato: multi-tenant headless commerce.", no_args_is_help=True, add_completion=False)
tenant_app = typer.Typer(help="Manage shops (tenants).", no_args_is_help=True)
operator_app = typer.Typer(help="Manage platform operators.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(operator_app, name="operator")
console = Console()
T = TypeVar("T")


def _run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro_fn())  # type: ignore[arg-type]


async def _prepare(settings: Settings, *, migrate: bool = True):  # type: ignore[no-untyped-def]
    """Resolve the database (starting the embedded server if needed) and migrate it."""
    from mercato.platform.embedded import resolve_database
    from mercato.platform.schema import upgrade

    urls = await resolve_database(settings)
    if migrate:
        await upgrade(urls.owner)
    return urls


async def _with_db(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    from mercato.platform.db import Database

    urls = await _prepare(settings)
    db = Database(urls.runtime, pool_size=2, max_overflow=0)
    try:
        return await fn(db)
    finally:
        await db.dispose()


def _export_urls(urls: Any) -> None:
    """Child processes (uvicorn workers) connect to the server this process resolved."""
    os.environ["MERCATO_DATABASE_URL"] = urls.runtime
    os.environ["MERCATO_DATABASE_OWNER_URL"] = urls.owner
    os.environ["MERCATO_DATABASE_WORKER_URL"] = urls.worker
    get_settings.cache_clear()


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (MERCATO_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (MERCATO_PORT)")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (MERCATO_WORKERS)")] = None,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False,
    demo: Annotated[bool, typer.Option(help="Load demo data once (3 shops with users)")] = False,
) -> None:
    """Run the API (and, by default, the in-process worker: outbox relay and jobs)."""
    import uvicorn

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    # Until uvicorn runs, SIGTERM interrupts preparation (migrations, demo data) like Ctrl-C; either
    # way the finally block stops the embedded PostgreSQL cleanly (a fast, checkpointed shutdown).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        urls = _run(lambda: _prepare(settings))
        credentials = _run(lambda: _demo(settings)) if demo else None
        _export_urls(urls)
        console.print(f"[bold green]Mercato[/] on http://{host}:{port}")
        console.print(f"  API docs:   http://{host}:{port}/docs")
        console.print(f"  OpenAPI:    http://{host}:{port}/openapi.json")
        console.print(f"  Health:     http://{host}:{port}/health   Metrics: http://{host}:{port}/metrics",
                      soft_wrap=True)
        where = "embedded PostgreSQL in " + str(settings.data_dir) if settings.database_url is None else "external"
        console.print(f"  Database:   {where}")
        if credentials:
            _print_demo(credentials, host, port)
        # uvicorn handles SIGTERM itself (in-flight requests finish) and re-raises it afterwards:
        # make that re-raise a no-op so we get here and stop the database.
        signal.signal(signal.SIGTERM, lambda *_: None)
        _uvicorn(uvicorn, host, port, workers, reload, settings)
    except KeyboardInterrupt:
        pass
    finally:
        if settings.database_url is None:
            from mercato.platform.embedded import stop_embedded

            stop_embedded(settings.data_dir)
            console.print("Embedded PostgreSQL stopped. Bye.")


def _uvicorn(uvicorn: Any, host: str, port: int, workers: int, reload: bool, settings: Settings) -> None:
    uvicorn.run(
        "mercato.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        log_config=None,
        access_log=False,
        proxy_headers=settings.trust_proxy_headers,
        timeout_graceful_shutdown=20,
    )


@app.command()
def worker() -> None:
    """Run background work only: the outbox relay and jobs (scale these separately in production)."""
    import mercato.app  # importing the app registers every module's event subscribers
    from mercato.platform.worker import run_worker

    mercato.app.register_periodic_jobs()  # the relay's companions: expiry, retries, webhook sends, …

    settings = get_settings()
    urls = _run(lambda: _prepare(settings))
    _export_urls(urls)
    console.print("[bold]Mercato worker[/] running (Ctrl-C to stop)")
    try:
        asyncio.run(run_worker(get_settings()))
    except KeyboardInterrupt:
        pass


@app.command()
def migrate() -> None:
    """Apply database migrations (as the owner role)."""
    from mercato.platform.schema import head_revision

    _run(lambda: _prepare(get_settings()))
    console.print(f"Database at migration head {head_revision()}")


@app.command()
def demo(orders: Annotated[int, typer.Option(help="Orders per demo shop")] = 120) -> None:
    """Load demo data: 3 shops, each with an owner, a merchant, a customer, 50+ products and
    100+ orders across all states (idempotent)."""
    credentials = _run(lambda: _demo(get_settings(), orders_per_shop=orders))
    s = get_settings()
    _print_demo(credentials, s.host, s.port)


DEMO_PASSWORD = "mercato-demo-2026"
DEMO_SHOPS = [("Acme Outfitters", "acme"), ("Bolt Bikes", "bolt"), ("Cedar Books", "cedar")]


async def _demo(settings: Settings, *, orders_per_shop: int = 120) -> list[dict[str, str]]:
    """Shops and users, then (through the real HTTP API, in process) each shop's catalog and orders."""
    from mercato.demo import load_demo, load_demo_commerce

    rows = await _with_db(settings, lambda db: load_demo(db, DEMO_SHOPS, DEMO_PASSWORD))
    urls = await _prepare(settings, migrate=False)
    with console.status("Loading demo catalogs and orders (first run only)…"):
        await load_demo_commerce(settings, urls, [slug for _, slug in DEMO_SHOPS], orders_per_shop=orders_per_shop)
    return rows


def _print_demo(rows: list[dict[str, str]], host: str, port: int) -> None:
    console.print(f"[bold]Demo logins[/] (password for all: {DEMO_PASSWORD}; select the shop with the header)")
    for r in rows:
        console.print(f"  {r['shop']:<17} {r['role']:<9} {r['email']:<28} X-Mercato-Tenant: {r['slug']}",
                      soft_wrap=True)
    body = f'{{"email": "customer@acme.example.com", "password": "{DEMO_PASSWORD}"}}'
    console.print(f"Log in: curl -X POST http://{host}:{port}/api/v1/auth/login -H 'X-Mercato-Tenant: acme' "
                  f"-H 'Content-Type: application/json' -d '{body}'", soft_wrap=True, markup=False)
    console.print("Owners must enrol TOTP MFA at first login (see docs/identity.md).")


@tenant_app.command("create")
def tenant_create(
    name: Annotated[str, typer.Option(help="Shop name")],
    slug: Annotated[str, typer.Option(help="Slug / subdomain")],
    owner_email: Annotated[str, typer.Option(help="First owner's email")],
    owner_password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                                help="First owner's password")],
) -> None:
    """Create a shop with its owner; prints the secret and publishable API keys once."""
    import mercato.tenancy as tenancy
    from mercato.tenancy.schemas import TenantCreate

    async def go(db: Any) -> Any:
        async with db.platform_transaction() as s:
            return await tenancy.create_tenant(s, TenantCreate(name=name, slug=slug, owner_email=owner_email,
                                                               owner_password=owner_password))

    try:
        result = _run(lambda: _with_db(get_settings(), go))
    except Exception as exc:
        console.print(f"[red]error:[/] {getattr(exc, 'detail', exc)}")
        raise typer.Exit(1) from exc
    console.print(f"Created shop [bold]{result.tenant.slug}[/] ({result.tenant.id})")
    console.print(f"  secret API key (shown once):      {result.secret_key}")
    console.print(f"  publishable API key (shown once): {result.publishable_key}")


@tenant_app.command("list")
def tenant_list() -> None:
    """List shops."""
    from mercato.tenancy import repository

    async def go(db: Any) -> list[Any]:
        async with db.platform_transaction() as s:
            return await repository.list_page(s, limit=1000, after=None, status=None)

    table = Table("id", "slug", "name", "status", "created")
    for t in _run(lambda: _with_db(get_settings(), go)):
        table.add_row(str(t.id), t.slug, t.name, t.status, t.created_at.isoformat(timespec="seconds"))
    console.print(table)


def _set_status(slug: str, target: str) -> None:
    import mercato.tenancy as tenancy

    async def go(db: Any) -> Any:
        async with db.platform_transaction() as s:
            ref = await tenancy.lookup_by_slug(s, slug)
            if ref is None:
                return None
            return await tenancy.set_status(s, ref.id, target)

    try:
        t = _run(lambda: _with_db(get_settings(), go))
    except Exception as exc:
        console.print(f"[red]error:[/] {getattr(exc, 'detail', exc)}")
        raise typer.Exit(1) from exc
    if t is None:
        console.print(f"[red]error:[/] no shop {slug!r}")
        raise typer.Exit(1)
    console.print(f"{t.slug}: {t.status}")


@tenant_app.command("suspend")
def tenant_suspend(slug: str) -> None:
    """Suspend a shop: its requests get 403 tenant_suspended."""
    _set_status(slug, "suspended")


@tenant_app.command("reactivate")
def tenant_reactivate(slug: str) -> None:
    """Reactivate a suspended shop."""
    _set_status(slug, "active")


@operator_app.command("create")
def operator_create(
    email: Annotated[str, typer.Option(help="Operator email")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create a platform operator (logs in through /api/v1/auth/login without a tenant)."""
    import mercato.identity as identity

    async def go(db: Any) -> uuid.UUID:
        async with db.platform_transaction() as s:
            return (await identity.create_operator(s, email=email, password=password)).id

    try:
        op_id = _run(lambda: _with_db(get_settings(), go))
    except Exception as exc:
        console.print(f"[red]error:[/] {getattr(exc, 'detail', exc)}")
        raise typer.Exit(1) from exc
    console.print(f"Created operator {email} ({op_id}). MFA becomes mandatory once enrolled.")


@app.command()
def openapi() -> None:
    """Print the OpenAPI document."""
    from mercato.app import create_app

    sys.stdout.write(json.dumps(create_app(start_background=False).openapi(), indent=2) + "\n")


@app.command()
def config() -> None:
    """Print the effective settings (secrets masked)."""
    s = get_settings()
    table = Table("setting", "value")
    for name, value in s.model_dump().items():
        shown = "********" if value is not None and ("secret" in name or ("url" in name and "otlp" not in name)) else value
        table.add_row(f"MERCATO_{name.upper()}", str(shown))
    console.print(table)


def main() -> None:
    app()
