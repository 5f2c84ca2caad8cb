"""Real-time updates over WebSocket (``/ws``), fanned out in-process or through Redis. Public face.

``install(app)`` runs the process's hub with the app; the fan-out subscriber registers when
this package is imported.
"""

from __future__ import annotations

from typing import Any

from mercato.realtime import handlers as _handlers  # noqa: F401  (registers the fan-out subscriber)
from mercato.realtime.domain import CloseCode, Delivery
from mercato.realtime.hub import (
    DEFAULT_AUTH_TIMEOUT_SECONDS,
    DEFAULT_HEARTBEAT_SECONDS,
    DEFAULT_IDLE_TIMEOUT_SECONDS,
    Hub,
    dispatch,
)


def hub_from_settings(settings: Any, **overrides: Any) -> Hub:
    secret: Any = getattr(settings, "redis_url", None)
    redis_url: str | None = secret.get_secret_value() if hasattr(secret, "get_secret_value") else secret
    options: dict[str, Any] = {
        "heartbeat_seconds": getattr(settings, "realtime_heartbeat_seconds", DEFAULT_HEARTBEAT_SECONDS),
        "idle_timeout_seconds": getattr(settings, "realtime_idle_timeout_seconds", DEFAULT_IDLE_TIMEOUT_SECONDS),
        "auth_timeout_seconds": getattr(settings, "realtime_auth_timeout_seconds", DEFAULT_AUTH_TIMEOUT_SECONDS),
    }
    options.update(overrides)
    return Hub(redis_url, **options)


async def start_hub(app: Any, hub: Hub | None = None) -> Hub:
    """Start ``hub`` (default: from the app's settings) and make it the app's hub."""
    hub = hub or hub_from_settings(app.state.settings)
    await hub.start()
    app.state.realtime_hub = hub
    return hub


async def stop_hub(app: Any) -> None:
    hub: Hub | None = getattr(app.state, "realtime_hub", None)
    if hub is not None:
        app.state.realtime_hub = None
        await hub.close()


def install(app: Any) -> None:
    """Start the hub with the app and close its sockets (1001) on shutdown."""

    async def start(app: Any) -> Hub:
        return await start_hub(app)

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop_hub)
    app.state.realtime_installed = True


__all__ = ["CloseCode", "Delivery", "Hub", "dispatch", "hub_from_settings", "install", "start_hub", "stop_hub"]
