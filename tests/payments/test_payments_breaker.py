"""The circuit breaker's state machine, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from mercato.platform.breaker import BreakerState, CircuitBreaker, CircuitOpen, GatewayFailure


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(threshold: int = 3, reset: float = 30.0) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker("g", failure_threshold=threshold, reset_timeout=reset, clock=clock), clock


def test_opens_after_n_consecutive_failures_only() -> None:
    b, _ = make(threshold=3)
    b.record_failure()
    b.record_failure()
    b.record_success()  # a success resets the count
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.CLOSED
    b.record_failure()
    assert b.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as err:
        b.before_call()
    assert 0 < err.value.retry_after <= 30


def test_half_open_after_cool_down_admits_one_trial() -> None:
    b, clock = make(threshold=1, reset=10)
    b.record_failure()
    clock.now += 9.9
    with pytest.raises(CircuitOpen):
        b.before_call()
    clock.now += 0.2
    assert b.state is BreakerState.HALF_OPEN
    b.before_call()  # the trial
    with pytest.raises(CircuitOpen):
        b.before_call()  # everyone else still fails fast
    b.record_success()
    assert b.state is BreakerState.CLOSED
    b.before_call()


def test_failed_trial_reopens_for_a_full_cool_down() -> None:
    b, clock = make(threshold=5, reset=10)
    for _ in range(5):
        b.record_failure()
    clock.now += 10
    b.before_call()
    b.record_failure()  # one failure in half-open is enough
    assert b.state is BreakerState.OPEN
    clock.now += 9
    with pytest.raises(CircuitOpen):
        b.before_call()
    clock.now += 1
    assert b.state is BreakerState.HALF_OPEN


async def test_call_counts_timeouts_and_gateway_failures_not_business_errors() -> None:
    b, _ = make(threshold=2)

    async def slow() -> None:
        await asyncio.sleep(1)

    async def failing() -> None:
        raise GatewayFailure("503")

    async def declined() -> None:
        raise ValueError("card declined is a healthy answer")

    async def ok() -> str:
        return "ok"

    with pytest.raises(TimeoutError):
        await b.call(slow, time_limit=0.01)
    with pytest.raises(ValueError):
        await b.call(declined, time_limit=1)  # resets the count
    with pytest.raises(TimeoutError):
        await b.call(slow, time_limit=0.01)
    assert b.state is BreakerState.CLOSED
    with pytest.raises(GatewayFailure):
        await b.call(failing, time_limit=1)
    assert b.state is BreakerState.OPEN
    called = False

    async def spy() -> str:
        nonlocal called
        called = True
        return "x"

    with pytest.raises(CircuitOpen):
        await b.call(spy, time_limit=1)
    assert not called  # fail fast: the gateway is not touched
    b.reset()
    assert await b.call(ok, time_limit=1) == "ok"


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=0)
