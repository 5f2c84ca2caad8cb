"""The CLI as an operator uses it, against the test database."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from mercato.cli import app as cli
from mercato.settings import get_settings


@pytest.fixture
def runner(db_urls, monkeypatch) -> CliRunner:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MERCATO_DATABASE_URL", db_urls.runtime)
    monkeypatch.setenv("MERCATO_DATABASE_OWNER_URL", db_urls.owner)
    monkeypatch.setenv("MERCATO_DATABASE_WORKER_URL", db_urls.worker)
    monkeypatch.setenv("MERCATO_SECRET_KEY", "cli-test-secret-value-1234567890")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_tenant_create_list_suspend_reactivate(runner: CliRunner) -> None:
    slug = f"cli{uuid.uuid4().hex[:8]}"
    r = runner.invoke(cli, ["tenant", "create", "--name", "CLI Shop", "--slug", slug,
                            "--owner-email", f"o@{slug}.example.com", "--owner-password", "a long cli password"])
    assert r.exit_code == 0, r.output
    assert "mksk_" in r.output and "mkpk_" in r.output
    listed = runner.invoke(cli, ["tenant", "list"])
    assert listed.exit_code == 0 and slug in listed.output
    dup = runner.invoke(cli, ["tenant", "create", "--name", "x", "--slug", slug, "--owner-email", "x@example.com",
                              "--owner-password", "a long cli password"])
    assert dup.exit_code == 1 and "already in use" in dup.output
    s = runner.invoke(cli, ["tenant", "suspend", slug])
    assert s.exit_code == 0 and f"{slug}: suspended" in s.output
    again = runner.invoke(cli, ["tenant", "suspend", slug])
    assert again.exit_code == 1 and "cannot go from" in again.output
    assert runner.invoke(cli, ["tenant", "reactivate", slug]).output.strip().endswith(f"{slug}: active")
    assert runner.invoke(cli, ["tenant", "suspend", "no-such-shop"]).exit_code == 1


def test_demo_is_idempotent(runner: CliRunner) -> None:
    first = runner.invoke(cli, ["demo", "--orders", "3"])
    assert first.exit_code == 0, first.output
    assert "customer@acme.example.com" in first.output and "owner@cedar.example.com" in first.output
    second = runner.invoke(cli, ["demo", "--orders", "3"])
    assert second.exit_code == 0 and second.output.count("acme.example.com") == first.output.count("acme.example.com")


def test_config_masks_secrets(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["config"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    assert "MERCATO_SECRET_KEY" in r.output
    assert "cli-test-secret-value" not in r.output
    assert "mercato_app" not in r.output  # database URLs are masked too


def test_openapi_prints_the_spec(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["openapi"])
    assert r.exit_code == 0
    spec = json.loads(r.output)
    assert spec["openapi"].startswith("3.1") and "/api/v1/tenants" in spec["paths"]


def test_migrate_reports_head(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["migrate"])
    assert r.exit_code == 0 and "head" in r.output


def test_operator_create_then_login(runner: CliRunner) -> None:
    email = f"op-{uuid.uuid4().hex[:8]}@platform.example.com"
    r = runner.invoke(cli, ["operator", "create", "--email", email, "--password", "a long operator password"])
    assert r.exit_code == 0, r.output
    assert "Created operator" in r.output
    dup = runner.invoke(cli, ["operator", "create", "--email", email, "--password", "a long operator password"])
    assert dup.exit_code == 1
    weak = runner.invoke(cli, ["operator", "create", "--email", "x" + email, "--password", "password"])
    assert weak.exit_code == 1


def test_worker_runs_every_periodic_job(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """``mercato worker`` builds no app, yet must run the same periodic jobs as the in-process
    worker (reservation expiry, webhook sends, notification retries, abandoned checkouts, label
    retries). The job registry starts empty here, as in a fresh worker process."""
    from mercato.platform import worker as worker_module

    started: list[list[str]] = []

    async def fake_run_worker(settings) -> None:  # type: ignore[no-untyped-def]
        started.append(sorted(job.name for job in worker_module.periodic_jobs()))

    monkeypatch.setattr(worker_module, "_periodic", {})
    monkeypatch.setattr(worker_module, "run_worker", fake_run_worker)
    r = runner.invoke(cli, ["worker"])
    assert r.exit_code == 0, r.output
    assert started == [["checkout.abandon_idle", "fulfillment.retry_labels", "inventory.release_expired",
                        "notifications.retry_failed", "webhooks.send_due"]]
