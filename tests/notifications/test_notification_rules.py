"""Pure rules and rendering: masking, locale fallback, backoff, sandboxed overrides, money formatting."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.notifications import domain, rendering
from mercato.notifications.rendering import TemplateSource
from mercato.platform.errors import IllegalTransition


@pytest.mark.parametrize(("address", "masked"), [
    ("jane@example.com", "j***@example.com"), ("a@b.co", "a***@b.co"), ("nope", "***"), ("@x.org", "***"),
])
def test_mask_email(address: str, masked: str) -> None:
    assert domain.mask_email(address) == masked


@pytest.mark.parametrize(("number", "masked"), [
    ("+447700900789", "+44*******789"), ("+44 7700 900789", "+44*******789"), ("+44770090789", "+44******789"), ("0171234567", "01*****567"),
    ("123", "***"),
])
def test_mask_phone(number: str, masked: str) -> None:
    assert domain.mask_phone(number) == masked


@given(st.emails())
def test_a_masked_email_never_shows_the_local_part(address: str) -> None:
    local, _, domain_part = address.partition("@")
    masked = domain.mask_email(address)
    # only the first character of the local part survives (the rest is a fixed "***", so the
    # masked form says nothing of the local part's length or its other characters)
    assert masked == f"{local[0]}***@{domain_part}"


@given(st.text(alphabet="0123456789", min_size=6, max_size=15))
def test_a_masked_phone_keeps_only_head_and_tail(digits: str) -> None:
    masked = domain.mask_phone("+" + digits)
    assert masked.startswith("+" + digits[:2]) and masked.endswith(digits[-3:])
    assert masked.count("*") == len(digits) - 5


@pytest.mark.parametrize(("locale", "candidates"), [
    ("fr-CA", ["fr-CA", "fr", "en"]), ("de_at", ["de-AT", "de", "en"]), ("DE", ["de", "en"]), ("en", ["en"]),
    (None, ["en"]), ("", ["en"]), ("../../etc", ["en"]), ("zh-Hant", ["zh-Hant", "zh", "en"]),
])
def test_locale_fallback_is_exact_then_language_then_english(locale: str | None, candidates: list[str]) -> None:
    assert domain.locale_candidates(locale) == candidates


def test_retry_delays_grow_with_jitter_and_attempts_are_capped() -> None:
    for attempts, base in enumerate(domain.RETRY_SCHEDULE, start=1):
        for _ in range(20):
            assert base * 0.8 <= domain.retry_delay(attempts) <= base * 1.2
    assert domain.retry_delay(99) <= domain.RETRY_SCHEDULE[-1] * 1.2
    assert not domain.gives_up(domain.MAX_ATTEMPTS - 1) and domain.gives_up(domain.MAX_ATTEMPTS)


def test_status_machine() -> None:
    domain.check_transition("queued", "sent")
    domain.check_transition("queued", "queued")  # a retry is scheduled
    domain.check_transition("sent", "bounced")
    with pytest.raises(IllegalTransition) as exc:
        domain.check_transition("failed", "sent")
    assert exc.value.extra["allowed_transitions"] == []


def test_message_ids_are_deterministic_per_event_recipient_and_tenant() -> None:
    t1, t2, e = uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4())
    a = domain.message_id(t1, source=e, channel="email", template="welcome", recipient="Ann@Example.com ")
    assert a == domain.message_id(t1, source=e, channel="email", template="welcome", recipient="ann@example.com")
    assert a != domain.message_id(t2, source=e, channel="email", template="welcome", recipient="ann@example.com")
    assert a != domain.message_id(t1, source=e, channel="sms", template="welcome", recipient="ann@example.com")


def test_every_shipped_template_renders_text_and_html_in_english() -> None:
    ctx = {"token": "T", "order_number": "#1001", "currency": "EUR", "lines": [], "subtotal": 0, "total": 0,
           "variant_id": "v", "available": 1, "url": "https://x.test/hook", "endpoint_id": "e"}
    for key in domain.TEMPLATE_KEYS:
        r = rendering.render(key, ctx)
        assert (r.template, r.locale, r.source) == (key, "en", "default"), key
        assert r.subject and r.text.strip() and r.html and "<html" in r.html, key
        assert "\n" not in r.subject


def test_order_confirmation_formats_money_and_escapes_html_but_not_text() -> None:
    ctx = {"order_number": "#1001", "currency": "EUR", "first_name": "<b>Ann</b>", "subtotal": 127454,
           "shipping_total": 499, "discount_total": 1000, "tax_total": 0, "total": 126953,
           "lines": [{"name": "Mug <Deluxe>", "sku": "MUG-1", "quantity": 1, "unit_price": 123456, "total": 123456}]}
    r = rendering.render("order_confirmation", ctx)
    assert r.subject == "Order #1001 confirmed"
    assert "1,234.56 EUR" in r.text and "1,269.53 EUR" in r.text and "-10.00 EUR" in r.text
    assert "Mug <Deluxe>" in r.text and "Hello <b>Ann</b>" in r.text
    assert r.html is not None
    assert "Mug &lt;Deluxe&gt;" in r.html and "&lt;b&gt;Ann&lt;/b&gt;" in r.html and "<b>Ann" not in r.html
    assert "1,234.56 EUR" in r.html
    jpy = rendering.render("order_confirmation", {**ctx, "currency": "JPY"})
    assert "123,456 JPY" in jpy.text  # zero-decimal currency


def test_translations_exist_for_two_templates_and_fall_back_otherwise() -> None:
    de = rendering.render("order_confirmation", {"order_number": "#7", "currency": "EUR", "lines": [], "subtotal": 0,
                                                 "total": 0}, locale="de-AT")
    assert (de.locale, de.subject) == ("de", "Bestellung #7 bestätigt")
    assert "Gesamt" in de.text and de.html and '<html lang="de">' in de.html
    assert rendering.render("welcome", {}, locale="de").subject == "Willkommen"
    fr = rendering.render("order_shipped", {"order_number": "#7", "tracking_url": "https://t.test/1"}, locale="fr")
    assert fr.subject == "Votre commande #7 est en route" and "https://t.test/1" in fr.text
    assert rendering.render("order_delivered", {"order_number": "#7"}, locale="de").locale == "en"
    assert "de" in rendering.default_locales("order_confirmation")
    assert rendering.default_locales("welcome")[0] == "en"


def _override(locale: str = "en", **kw: str | None) -> TemplateSource:
    return TemplateSource(key=kw.pop("key", None) or "welcome", locale=locale, channel="email",  # type: ignore[arg-type]
                          subject=kw.get("subject", "Hi {{ first_name }}"), text=kw.get("text") or "Text {{ first_name }}",
                          html=kw.get("html", "<p>{{ first_name }}</p>"))


def test_an_override_wins_in_its_locale_and_the_customer_language_wins_over_it() -> None:
    ctx = {"first_name": "<i>Zoe</i>"}
    r = rendering.render("welcome", ctx, "en", overrides=[_override()])
    assert (r.source, r.subject, r.text) == ("override", "Hi <i>Zoe</i>", "Text <i>Zoe</i>")
    assert r.html == "<p>&lt;i&gt;Zoe&lt;/i&gt;</p>"  # autoescaped
    # A German customer gets the shipped German welcome rather than the English override…
    assert rendering.render("welcome", ctx, "de", overrides=[_override()]).subject == "Willkommen"
    # …and the German override when there is one.
    assert rendering.render("welcome", ctx, "de-CH", overrides=[_override(), _override("de", subject="Grüezi")]
                            ).subject == "Grüezi"


def test_overrides_are_sandboxed_and_a_broken_one_falls_back_to_the_default() -> None:
    evil = _override(text="{{ ''.__class__.__mro__[1].__subclasses__() }}")
    r = rendering.render("welcome", {}, "en", overrides=[evil])
    assert r.source == "default" and r.subject == "Welcome"
    undefined_ok = rendering.render("welcome", {}, "en", overrides=[_override(text="Hi {{ nobody.knows }}")])
    assert undefined_ok.source == "override" and undefined_ok.text == "Hi "


def test_validate_source_reports_syntax_errors() -> None:
    assert rendering.validate_source("Hello {{ name }}", field="text") is None
    problem = rendering.validate_source("Hello {% if %}", field="text")
    assert problem is not None and problem.startswith("text:")


def test_sms_uses_its_own_template_or_the_email_subject() -> None:
    sms = rendering.render("order_shipped", {"order_number": "#9", "tracking_url": "https://t.test/9"}, channel="sms")
    assert sms.text == "Your order #9 has shipped. Track it: https://t.test/9" and sms.html is None
    assert rendering.render("order_delivered", {"order_number": "#9"}, channel="push").text == \
        "Your order #9 was delivered"
