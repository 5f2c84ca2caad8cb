"""Every knob of Mercato, read from ``MERCATO_*`` environment variables (or ``.env``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERCATO_", env_file=".env", extra="ignore")

    # Runtime
    env: Literal["dev", "test", "production"] = "dev"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    base_domain: str = "localhost"
    data_dir: Path = Path(".mercato")
    run_worker_in_process: bool = True

    # Database: without a URL Mercato runs an embedded PostgreSQL in data_dir.
    database_url: SecretStr | None = None  # runtime role (owns nothing, NOBYPASSRLS)
    database_owner_url: SecretStr | None = None  # owner role, for migrations
    database_worker_url: SecretStr | None = None  # worker role, for the outbox relay
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_statement_timeout_ms: int = 15000

    # Optional infrastructure
    redis_url: SecretStr | None = None
    event_broker_url: SecretStr | None = None
    otlp_endpoint: str | None = None

    # Security
    secret_key: SecretStr = SecretStr("dev-insecure-change-me-0123456789abcdef")
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    mfa_challenge_ttl_seconds: int = 5 * 60
    email_token_ttl_seconds: int = 48 * 3600
    password_reset_ttl_seconds: int = 3600
    password_min_length: int = 10
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 20
    login_failure_window_seconds: int = 15 * 60
    cors_origins: list[str] = Field(default_factory=list)
    trust_proxy_headers: bool = False
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 26_214_400  # multipart bodies (image uploads, CSV imports)

    # Rate limits (limits library syntax); empty string disables a class.
    rate_limit_enabled: bool = True
    rate_limit_auth: str = "30/minute"
    rate_limit_writes: str = "300/minute"
    rate_limit_reads: str = "1200/minute"
    rate_limit_tenant: str = "6000/minute"

    # Idempotency
    idempotency_ttl_seconds: int = 24 * 3600

    # Notifications (the dev sink writes .eml files into data_dir/mail)
    mail_sink: Literal["file", "console", "smtp"] = "file"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_security: Literal["auto", "starttls", "tls", "none"] = "auto"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 10.0
    smtp_validate_certs: bool = True
    mail_from: str = "Mercato <no-reply@localhost>"

    # Media storage: an S3-compatible bucket when s3_bucket is set (else data_dir/media)
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None  # e.g. http://127.0.0.1:9000 (MinIO); unset: AWS
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_prefix: str = ""  # key prefix inside the bucket, e.g. "media/"
    s3_public_base_url: str | None = None  # set: GET /media/{id}/file redirects to <url>/<key>

    # Outbox relay
    relay_batch_size: int = 100
    relay_poll_interval_seconds: float = 0.5

    log_level: str = "INFO"
    log_json: bool = True

    @property
    def is_production(self) -> bool:
        return self.env == "production"


@lru_cache
def get_settings() -> Settings:
    return Settings()
