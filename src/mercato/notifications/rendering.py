"""Rendering: Jinja2 in a sandbox, HTML autoescaped, with per-tenant overrides and locale fallback.

Shipped defaults live in ``templates/<channel>/<key>[.<locale>].{txt,html}`` (no locale part =
English). An email's ``.txt`` starts with ``Subject: …``, a blank line, then the text body;
the ``.html`` (optional) is the HTML body. SMS/push templates are a single ``.txt`` body; a
key without one uses the email's subject line as its text.

Every template — ours and the merchants' overrides — renders in a
:class:`~jinja2.sandbox.SandboxedEnvironment` (merchants write overrides: no attribute access
to internals, no unsafe callables). HTML is autoescaped; text and subjects are not.

Lookup order for ``(key, locale)``: for each locale of ``exact → language → en``, the
tenant's override first, then the shipped default; a key found nowhere renders ``generic``,
which lists the context so nothing is lost. An override that fails to render is logged and
skipped (the next candidate renders), so a merchant's typo never stops a message.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChainableUndefined,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    Undefined,
)
from jinja2.sandbox import SandboxedEnvironment

from mercato.notifications import domain
from mercato.notifications.domain import mask_email  # noqa: F401  (re-exported for older callers)
from mercato.platform.money import format_money

log = logging.getLogger("mercato.notifications")

TEMPLATE_ROOT = Path(__file__).parent / "templates"
TEMPLATE_DIR = TEMPLATE_ROOT / "email"  # kept for callers of the first version
FALLBACK = domain.FALLBACK_TEMPLATE


def _money(amount: Any, currency: Any = None) -> str:
    """``{{ 123456|money("EUR") }}`` → ``1,234.56 EUR``; anything unexpected is shown as it is."""
    try:
        return format_money(int(amount), str(currency))
    except Exception:  # noqa: BLE001 - a template must render whatever a merchant passes
        return f"{amount} {currency or ''}".strip()


def _date(value: Any, fmt: str = "%Y-%m-%d") -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime(fmt) if isinstance(value, datetime) else str(value or "")


def _blank_none(value: Any) -> Any:
    return "" if value is None else value  # a missing first name prints as nothing, not "None"


def _env(*, autoescape: bool, undefined: type[Undefined] = ChainableUndefined) -> SandboxedEnvironment:
    env = SandboxedEnvironment(loader=FileSystemLoader(TEMPLATE_ROOT), autoescape=autoescape,
                               keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                               undefined=undefined, finalize=_blank_none)
    env.filters["money"] = _money
    env.filters["date"] = _date
    return env


_text_env = _env(autoescape=False)
_html_env = _env(autoescape=True)
_strict_text_env = _env(autoescape=False, undefined=StrictUndefined)  # only to validate syntax


@dataclass(frozen=True)
class TemplateSource:
    """A tenant's override (a row of ``notification_templates``)."""

    key: str
    locale: str
    channel: str
    subject: str | None
    text: str
    html: str | None = None


@dataclass(frozen=True)
class Rendered:
    template: str  # the key actually used (``generic`` for an unknown one)
    locale: str  # the locale actually used
    channel: str
    subject: str
    text: str
    html: str | None
    source: str  # "override" or "default"

    @property
    def body(self) -> str:  # the first version's name for the text body
        return self.text


# The first version's name.
RenderedEmail = Rendered


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Template:
    return (_html_env if html else _text_env).from_string(source)


def validate_source(source: str | None, *, field: str) -> str | None:
    """A Jinja2 syntax error as a message (``None`` when the source compiles)."""
    if source is None:
        return None
    try:
        _strict_text_env.parse(source)
    except TemplateError as exc:
        return f"{field}: {exc}"
    return None


def _default_name(channel: str, key: str, locale: str, ext: str) -> str:
    return f"{channel}/{key}.{ext}" if locale == domain.DEFAULT_LOCALE else f"{channel}/{key}.{locale}.{ext}"


def has_default(key: str, channel: str = "email") -> bool:
    return domain.valid_key(key) and ((TEMPLATE_ROOT / _default_name(channel, key, "en", "txt")).is_file()
                                      or (channel != "email" and has_default(key, "email")))


def default_locales(key: str, channel: str = "email") -> list[str]:
    """The locales a shipped template exists in (``en`` first)."""
    if not domain.valid_key(key):
        return []
    found = ["en"] if (TEMPLATE_ROOT / _default_name(channel, key, "en", "txt")).is_file() else []
    for path in sorted((TEMPLATE_ROOT / channel).glob(f"{key}.*.txt")):
        found.append(path.name[len(key) + 1:-len(".txt")])
    return found


def _split_subject(text: str, name: str) -> tuple[str, str]:
    head, _, body = text.partition("\n")
    if not head.startswith("Subject:"):
        raise ValueError(f"email template {name} must start with 'Subject:'")
    return head[len("Subject:"):].strip(), body.lstrip("\n")


def _one_line(subject: str) -> str:
    return " ".join(subject.split())[:500]  # no header injection, bounded length


def _render_default(key: str, locale: str, channel: str, ctx: dict[str, Any]) -> Rendered | None:
    ctx = {**ctx, "lang": locale}
    txt_name = _default_name(channel, key, locale, "txt")
    try:
        tpl = _text_env.get_template(txt_name)
    except TemplateNotFound:
        if channel == "email":
            return None
        email = _render_default(key, locale, "email", ctx)  # SMS/push without a template: the subject line
        if email is None:
            return None
        return Rendered(template=key, locale=locale, channel=channel, subject=email.subject, text=email.subject,
                        html=None, source="default")
    if channel != "email":
        text = tpl.render(ctx).strip()
        return Rendered(template=key, locale=locale, channel=channel, subject=_one_line(text), text=text, html=None,
                        source="default")
    subject, text = _split_subject(tpl.render(ctx), txt_name)
    html = None
    try:
        html = _html_env.get_template(_default_name(channel, key, locale, "html")).render(ctx)
    except TemplateNotFound:
        pass
    return Rendered(template=key, locale=locale, channel=channel, subject=_one_line(subject), text=text, html=html,
                    source="default")


def _render_override(src: TemplateSource, ctx: dict[str, Any]) -> Rendered:
    text = _compiled(src.text, False).render(ctx)
    subject = _compiled(src.subject, False).render(ctx) if src.subject else ""
    html = _compiled(src.html, True).render(ctx) if src.html else None
    if not subject:
        subject = text.strip().splitlines()[0] if text.strip() else src.key
    return Rendered(template=src.key, locale=src.locale, channel=src.channel, subject=_one_line(subject),
                    text=text if src.channel == "email" else text.strip(), html=html, source="override")


def render(template: str, context: dict[str, Any], locale: str | None = "en", *, channel: str = "email",
           overrides: Iterable[TemplateSource] = ()) -> Rendered:
    """Render ``template`` for ``locale`` (see the module doc for the lookup order)."""
    ctx = {**context, "template": template, "context": context}
    by_locale = {o.locale: o for o in overrides if o.key == template and o.channel == channel}
    if domain.valid_key(template):
        for loc in domain.locale_candidates(locale):
            override = by_locale.get(loc)
            if override is not None:
                try:
                    return _render_override(override, ctx)
                except Exception as exc:  # noqa: BLE001 - a merchant's template error must not lose the message
                    log.warning("template override %s/%s/%s failed to render: %s", template, loc, channel, exc)
            rendered = _render_default(template, loc, channel, ctx)
            if rendered is not None:
                return rendered
    rendered = _render_default(FALLBACK, domain.DEFAULT_LOCALE, "email", ctx)
    assert rendered is not None  # generic.txt ships with the code
    if channel != "email":
        return Rendered(template=FALLBACK, locale="en", channel=channel, subject=rendered.subject,
                        text=rendered.subject, html=None, source="default")
    return rendered


def build_message(rendered: Rendered, *, sender: str, to: str, message_id: uuid.UUID | None = None,
                  headers: dict[str, str] | None = None) -> EmailMessage:
    """An RFC 5322 message (text, plus an HTML alternative when there is one).

    ``message_id`` (the notification id) makes redeliveries recognisable by the receiver."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = f"<{message_id}@mercato>" if message_id else make_msgid(domain="mercato")
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(rendered.text)
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html")
    return msg
