from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "checkout"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cart"))

from mercato.fulfillment import config
from mercato.platform import breaker


@pytest.fixture
def fulfillment_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Set fulfillment settings for one test (``fulfillment_env(fulfillment_label_max_attempts=3)``)."""

    def configure(**values: object) -> config.FulfillmentSettings:
        for k, v in values.items():
            monkeypatch.setenv(f"MERCATO_{k.upper()}", str(v))
        config.get_fulfillment_settings.cache_clear()
        return config.get_fulfillment_settings()

    yield configure
    monkeypatch.undo()
    config.get_fulfillment_settings.cache_clear()
    breaker.reset_all()
