"""Errors of the real-time module (HTTP side; socket errors are close codes, see domain.CloseCode)."""

from __future__ import annotations

from mercato.platform.errors import ServiceUnavailable


class RealtimeUnavailable(ServiceUnavailable):
    code, title = "realtime_unavailable", "Real-time fan-out is unavailable; retry later"
