"""Circuit breaker for outside services (payment gateways, carriers): one per service, per process.

``closed`` (calls flow; consecutive failures are counted) → ``open`` after
``failure_threshold`` consecutive failures or timeouts (calls fail fast, without touching the
gateway) → ``half_open`` once ``reset_timeout`` has passed (one trial call goes through; the
others still fail fast) → ``closed`` if the trial succeeds, ``open`` again if it fails.

Only *service* failures count (timeouts, network errors, 5xx): a declined card or a refused
address is a normal answer from a healthy service and counts as a success. Name breakers by
kind (``carrier:manual``) where two kinds of service could share a name.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):
    """Raised instead of calling a gateway whose circuit is open."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"circuit {name!r} is open")
        self.name = name
        self.retry_after = retry_after


class GatewayFailure(Exception):
    """A gateway call failed in a way that says the gateway is unhealthy (counts against the breaker)."""


class CircuitBreaker:
    def __init__(self, name: str, *, failure_threshold: int = 5, reset_timeout: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._lock = threading.Lock()  # the uvicorn thread and the test loop may share a process
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._current_state()

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def _current_state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            self._state = BreakerState.HALF_OPEN
            self._trial_in_flight = False
        return self._state

    def before_call(self) -> None:
        """Admit a call or raise :class:`CircuitOpen`."""
        with self._lock:
            state = self._current_state()
            if state is BreakerState.CLOSED:
                return
            if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
                self._trial_in_flight = True
                return
            retry = max(0.0, self.reset_timeout - (self._clock() - self._opened_at))
            raise CircuitOpen(self.name, retry_after=retry or 1.0)

    def record_success(self) -> None:
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            state = self._current_state()
            self._failures += 1
            self._trial_in_flight = False
            if state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()

    def reset(self) -> None:
        self.record_success()

    async def call(self, fn: Callable[[], Awaitable[T]], *, time_limit: float) -> T:
        """Run ``fn()`` under the breaker with a timeout. ``TimeoutError`` and :class:`GatewayFailure`
        count as failures and propagate; any other exception is the gateway's normal answer."""
        self.before_call()
        try:
            result = await asyncio.wait_for(fn(), timeout=time_limit)
        except (TimeoutError, GatewayFailure):
            self.record_failure()
            raise
        except asyncio.CancelledError:
            with self._lock:
                self._trial_in_flight = False
            raise
        except BaseException:
            self.record_success()
            raise
        self.record_success()
        return result


_breakers: dict[str, CircuitBreaker] = {}
_registry_lock = threading.Lock()


def breaker_for(name: str, *, failure_threshold: int, reset_timeout: float) -> CircuitBreaker:
    """The process-wide breaker of gateway ``name`` (created on first use)."""
    with _registry_lock:
        breaker = _breakers.get(name)
        if breaker is None or (breaker.failure_threshold, breaker.reset_timeout) != (failure_threshold, reset_timeout):
            breaker = _breakers[name] = CircuitBreaker(name, failure_threshold=failure_threshold,
                                                       reset_timeout=reset_timeout)
        return breaker


def reset_all() -> None:
    """Close every breaker (tests; an operator command later)."""
    with _registry_lock:
        for b in _breakers.values():
            b.reset()
