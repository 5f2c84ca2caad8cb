from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "checkout"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cart"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "payments"))

from localstripe_fixtures import localstripe_url  # noqa: F401 (the shared localstripe server)
from returns_helpers import STRIPE_KEY


@pytest.fixture
def stripe_env(localstripe_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:  # noqa: F811
    """Stripe enabled against localstripe for one test."""
    from mercato.payments.config import get_payment_settings

    monkeypatch.setenv("MERCATO_STRIPE_SECRET_KEY", STRIPE_KEY)
    monkeypatch.setenv("MERCATO_STRIPE_API_BASE", localstripe_url)
    monkeypatch.setenv("MERCATO_PAYMENT_GATEWAY_TIMEOUT_SECONDS", "10")
    get_payment_settings.cache_clear()
    yield localstripe_url
    monkeypatch.undo()
    get_payment_settings.cache_clear()
