"""Benchmark: authenticated, tenant-scoped `GET /api/v1/auth/me` vs bare `GET /health`.

    .venv/bin/python bench/auth_me.py [--concurrency 16] [--duration 15]

Starts `mercato serve` (1 worker, embedded PostgreSQL in bench/.data, demo data) on
127.0.0.1:8765, logs the demo customer in, then loads both endpoints in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import run

ROOT = Path(__file__).resolve().parent.parent
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"


def start_server() -> subprocess.Popen:
    env = {**os.environ, "MERCATO_DATA_DIR": str(ROOT / "bench" / ".data"), "MERCATO_PORT": str(PORT),
           "MERCATO_RATE_LIMIT_ENABLED": "false", "MERCATO_LOG_LEVEL": "WARNING", "MERCATO_WORKERS": "1"}
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "mercato"), "serve", "--demo"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(1200):  # the first start loads the demo shops (catalogs and orders)
        try:
            if httpx.get(f"{BASE}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not start")


async def main(concurrency: int, duration: float) -> None:
    async with httpx.AsyncClient() as client:
        login = await client.post(f"{BASE}/api/v1/auth/login", headers={"X-Mercato-Tenant": "acme"},
                                  json={"email": "customer@acme.example.com", "password": "mercato-demo-2026"})
    login.raise_for_status()
    token = login.json()["access_token"]
    health = await run("GET /health", f"{BASE}/health", concurrency=concurrency, duration=duration)
    me = await run("GET /api/v1/auth/me (JWT)", f"{BASE}/api/v1/auth/me",
                   headers={"Authorization": f"Bearer {token}"}, concurrency=concurrency, duration=duration)
    print(f"concurrency={concurrency} duration={duration}s, client and server share this machine's cores")
    print(health.line())
    print(me.line())
    print(f"cost ratio (p50 me / p50 health): {me.pct(50) / health.pct(50):.2f}x; "
          f"throughput ratio: {health.rps / me.rps:.2f}x")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--duration", type=float, default=15)
    args = ap.parse_args()
    server = start_server()
    try:
        asyncio.run(main(args.concurrency, args.duration))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
