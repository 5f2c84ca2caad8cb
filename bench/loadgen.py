"""A small, bounded HTTP load generator for loopback benchmarks (no external targets).

Runs a fixed number of concurrent clients for a fixed duration against one URL and
reports requests/s and latency percentiles. It refuses non-loopback hosts.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        k = min(len(data) - 1, max(0, round(p / 100 * (len(data) - 1))))
        return data[k]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (f"{self.name:<28} {self.rps:8.0f} req/s  p50 {self.pct(50):6.1f} ms  p95 {self.pct(95):6.1f} ms  "
                f"p99 {self.pct(99):6.1f} ms  mean {statistics.fmean(self.latencies_ms) if self.latencies_ms else 0:6.1f} ms  "
                f"n={self.requests} errors={self.errors}")


async def run(name: str, url: str, *, headers: dict[str, str] | None = None, concurrency: int = 16,
              duration: float = 10.0, warmup: float = 2.0, max_requests: int = 1_000_000,
              expect_status: int = 200, method: str = "GET", json_body: object | None = None) -> Result:
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to load a non-loopback host: {host}")
    latencies: list[float] = []
    errors = 0
    count = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        async def one() -> float:
            t0 = time.perf_counter()
            r = await client.request(method, url, json=json_body)
            dt = (time.perf_counter() - t0) * 1000
            if r.status_code != expect_status:
                raise RuntimeError(f"{r.status_code}: {r.text[:200]}")
            return dt

        end_warm = time.perf_counter() + warmup
        while time.perf_counter() < end_warm:
            await asyncio.gather(*(one() for _ in range(concurrency)))

        stop = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors, count
            while time.perf_counter() < stop and count < max_requests:
                count += 1
                try:
                    latencies.append(await one())
                except Exception:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return Result(name, len(latencies), errors, elapsed, latencies)
