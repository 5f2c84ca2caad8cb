"""Pure rules: addresses and URLs (SSRF), signatures (checked against the standardwebhooks
library), the retry schedule, event matching."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from mercato.webhooks import domain

REFUSED = [
    "127.0.0.1", "127.1.2.3", "::1",                              # loopback
    "10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.1.10",   # private (RFC 1918)
    "169.254.169.254", "169.254.1.1", "fe80::1",                  # link-local, AWS/GCP/Azure metadata
    "fd00:ec2::254", "fc00::1", "fd12:3456::1",                   # unique local, AWS IPv6 metadata
    "100.100.100.200", "100.64.0.1",                              # Alibaba metadata, carrier-grade NAT
    "0.0.0.0", "::",                                              # unspecified
    "224.0.0.1", "239.255.255.250", "ff02::1",                    # multicast
    "240.0.0.1", "255.255.255.255",                               # reserved, broadcast
    "192.0.2.1", "198.51.100.7", "203.0.113.9", "2001:db8::1",    # documentation
    "198.18.0.1",                                                 # benchmarking
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "64:ff9b::a00:1", "64:ff9b::7f00:1",                          # NAT64 of private / loopback
    "2002:7f00:1::1", "2002:a00:1::1",                            # 6to4 of loopback / private
    "fec0::1",                                                    # site-local
]
ALLOWED = ["93.184.216.34", "1.1.1.1", "8.8.8.8", "151.101.1.69", "2606:4700:4700::1111",
           "2a00:1450:4001:82b::200e", "::ffff:93.184.216.34", "64:ff9b::5db8:d822"]


@pytest.mark.parametrize("ip", REFUSED)
def test_non_public_addresses_are_refused(ip: str) -> None:
    assert domain.address_problem(ipaddress.ip_address(ip)) is not None


@pytest.mark.parametrize("ip", ALLOWED)
def test_public_addresses_are_allowed(ip: str) -> None:
    assert domain.address_problem(ipaddress.ip_address(ip)) is None


def test_dev_mode_allows_loopback_and_nothing_else() -> None:
    for ip in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert domain.address_problem(ipaddress.ip_address(ip), allow_loopback=True) is None
    for ip in ("10.0.0.1", "169.254.169.254", "fd00:ec2::254", "192.168.0.1", "0.0.0.0"):
        assert domain.address_problem(ipaddress.ip_address(ip), allow_loopback=True) is not None
    assert "metadata" in domain.address_problem(ipaddress.ip_address("169.254.169.254"))  # type: ignore[operator]


@given(st.ip_addresses())
def test_address_checker_only_passes_global_unicast(ip) -> None:  # type: ignore[no-untyped-def]
    if domain.address_problem(ip) is None:
        assert ip.is_global and not ip.is_multicast and not ip.is_loopback and not ip.is_private


@pytest.mark.parametrize(("url", "production", "ok"), [
    ("https://hooks.example.com/x", True, True),
    ("https://hooks.example.com:8443/x?y=1", True, True),
    ("http://hooks.example.com/x", True, False),      # https required
    ("http://hooks.example.com/x", False, False),     # … also in dev, except loopback
    ("http://127.0.0.1:9000/x", False, True),
    ("http://localhost:9000/x", False, True),
    ("http://[::1]:9000/x", False, True),
    ("http://127.0.0.1:9000/x", True, False),
    ("https://localhost/x", True, False),
    ("https://127.0.0.1/x", True, False),
    ("https://10.1.2.3/x", False, False),
    ("https://169.254.169.254/latest/meta-data", False, False),
    ("https://[fd00:ec2::254]/", False, False),
    ("ftp://hooks.example.com/x", False, False),
    ("https:///x", False, False),
    ("https://user:pw@hooks.example.com/x", False, False),
    ("https://hooks.example.com/x#frag", False, False),
    ("https://hooks.example.com:99999/x", False, False),
    ("not a url", False, False),
])
def test_url_rules(url: str, production: bool, ok: bool) -> None:
    assert (domain.url_problem(url, production=production) is None) is ok, domain.url_problem(url, production=production)


def test_secrets_have_the_standard_format() -> None:
    s = domain.generate_secret()
    assert s.startswith("whsec_") and len(domain.secret_key(s)) == 24
    assert domain.generate_secret() != s


@given(st.text(max_size=200), st.integers(min_value=1_600_000_000, max_value=2_000_000_000))
def test_our_signature_is_the_standard_one(body: str, ts: int) -> None:
    secret = domain.generate_secret()
    ours = domain.sign(secret, "msg_1", ts, body)
    theirs = Webhook(secret).sign("msg_1", datetime.fromtimestamp(ts, UTC), body)
    assert ours == theirs


def test_both_secrets_sign_during_the_overlap_only() -> None:
    now = datetime.now(UTC)
    assert domain.active_secrets("a", "b", now + timedelta(hours=1), now) == ["a", "b"]
    assert domain.active_secrets("a", "b", now - timedelta(seconds=1), now) == ["a"]
    assert domain.active_secrets("a", None, None, now) == ["a"]


def test_retry_schedule_with_jitter() -> None:
    rng = random.Random(7)
    for attempt, base in enumerate(domain.RETRY_SCHEDULE_SECONDS, start=1):
        for _ in range(50):
            d = domain.retry_delay(attempt, rng=rng)
            assert d is not None and base * 0.9 <= d <= base * 1.1
    assert domain.retry_delay(len(domain.RETRY_SCHEDULE_SECONDS) + 1) is None
    assert domain.retry_delay(1, (1.0, 2.0), jitter=0) == 1.0
    delays = {domain.retry_delay(1, rng=rng) for _ in range(20)}
    assert len(delays) > 1  # jittered


def test_event_matching() -> None:
    assert domain.wants([], "order.paid")
    assert domain.wants(["order.paid"], "order.paid")
    assert not domain.wants(["order.paid"], "order.created")
    assert not domain.wants([], "notification.requested")


def test_disable_after_the_failing_period() -> None:
    now = datetime.now(UTC)
    assert not domain.should_disable(None, now)
    assert not domain.should_disable(now - timedelta(days=4, hours=23), now)
    assert domain.should_disable(now - domain.FAILING_PERIOD, now)
