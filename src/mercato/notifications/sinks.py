"""Where emails go: ``MERCATO_MAIL_SINK`` = ``file`` (dev default), ``console`` or ``smtp``.

``file`` writes one ``.eml`` file per message into ``<data dir>/mail/``, named
``<time>-<notification id>.eml`` (the id is derived from the triggering event, so a
redelivered event rewrites its own file) and logs one line with the recipient masked.
``smtp`` sends with aiosmtplib (settings: ``smtp_host``, ``smtp_port``, ``smtp_security``
``auto|starttls|tls|none``, ``smtp_username``, ``smtp_password``, ``smtp_timeout_seconds``,
``smtp_validate_certs``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from mercato.notifications.domain import mask_email

log = logging.getLogger("mercato.notifications")


class MailSinkUnavailable(RuntimeError):
    """The configured sink cannot send now (a temporary failure: the message is retried)."""


class DeliveryRefused(RuntimeError):
    """The server refused the message for good (5xx for the recipient or the content): a bounce."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def mail_dir(settings: Any) -> Path:
    return Path(settings.data_dir) / "mail"


def _write_file(directory: Path, name: str, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    # Write then rename: a reader never sees half a message.
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".eml")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    get = getattr(value, "get_secret_value", None)
    return str(get() if get else value) or None


def smtp_options(settings: Any) -> dict[str, Any]:
    """aiosmtplib keyword arguments from the settings (new settings read with defaults until added)."""
    security = str(getattr(settings, "smtp_security", "auto") or "auto").lower()
    if security not in ("auto", "starttls", "tls", "none"):
        raise MailSinkUnavailable(f"MERCATO_SMTP_SECURITY must be auto, starttls, tls or none, not {security!r}")
    return {
        "hostname": settings.smtp_host,
        "port": settings.smtp_port,
        "username": getattr(settings, "smtp_username", None) or None,
        "password": _secret(getattr(settings, "smtp_password", None)),
        "use_tls": security == "tls",
        # auto: STARTTLS when the server offers it (aiosmtplib's None)
        "start_tls": {"auto": None, "starttls": True, "tls": False, "none": False}[security],
        "timeout": float(getattr(settings, "smtp_timeout_seconds", 10.0)),
        "validate_certs": bool(getattr(settings, "smtp_validate_certs", True)),
    }


async def send_smtp(message: EmailMessage, settings: Any) -> str:
    """Send over SMTP; returns the server's reply. Raises :class:`DeliveryRefused` for a 5xx
    refusal of the recipient or the message, :class:`MailSinkUnavailable` for anything temporary."""
    import aiosmtplib

    options = smtp_options(settings)
    try:
        _, reply = await aiosmtplib.send(message, **options)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        if codes and all(500 <= c < 600 for c in codes):
            raise DeliveryRefused(f"recipient refused: {exc.recipients[0].code} {exc.recipients[0].message}",
                                  codes[0]) from exc
        raise MailSinkUnavailable(f"recipient deferred: {codes}") from exc
    except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as exc:
        if 500 <= exc.code < 600:
            raise DeliveryRefused(f"{exc.code} {exc.message}", exc.code) from exc
        raise MailSinkUnavailable(f"{exc.code} {exc.message}") from exc
    except aiosmtplib.SMTPResponseException as exc:  # sender refused, auth failed, 4xx: fix config / try again
        raise MailSinkUnavailable(f"SMTP {exc.code} {exc.message}") from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise MailSinkUnavailable(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(exc).__name__}: {exc}") from exc
    return str(reply)


async def deliver(message: EmailMessage, *, settings: Any, key: str, template: str,
                  at: datetime | None = None) -> Path | None:
    """Send ``message`` through the configured sink; returns the file written (file sink).

    ``key`` and ``at`` (the notification's id and time) name the file, so a redelivery rewrites it.
    """
    to = str(message["To"])
    sink = settings.mail_sink
    if sink == "file":
        stamp = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = _write_file(mail_dir(settings), f"{stamp}-{key}.eml", bytes(message))
        log.info("email %s to %s written to %s", template, mask_email(to), path)
        return path
    if sink == "console":
        log.info("email %s to %s\n%s", template, mask_email(to), message.as_string())
        return None
    if sink == "smtp":
        reply = await send_smtp(message, settings)
        log.info("email %s to %s sent via %s:%s (%s)", template, mask_email(to), settings.smtp_host,
                 settings.smtp_port, reply[:80])
        return None
    raise MailSinkUnavailable(f"unknown mail sink {sink!r}")
