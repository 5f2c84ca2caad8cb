"""Logs, metrics and traces: one JSON access line per request, PII masked, Prometheus, OpenTelemetry.

``install(app)`` wires, in this order of effect:

* structlog configured for JSON lines (``MERCATO_LOG_JSON``, ``MERCATO_LOG_LEVEL``); stdlib logging
  (uvicorn, SQLAlchemy, our ``logging.getLogger`` users) is rendered by the same processors, so
  every line leaving the process has one shape and goes through :func:`mask_pii`;
* :class:`RequestContextMiddleware`, the outermost middleware: request id, W3C ``traceparent``,
  log context, the access line, Prometheus metrics, the OpenTelemetry server span (only when
  ``MERCATO_OTLP_ENDPOINT`` is set) and a last-resort 500 for anything that escaped;
* ``GET /metrics`` (Prometheus text format) on a per-app registry;
* the OpenAPI customisation of :mod:`mercato.platform.openapi`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mercato.platform import openapi
from mercato.platform.auth import Open
from mercato.platform.http import client_ip, render_unhandled
from mercato.settings import Settings

access_log = structlog.get_logger("mercato.access")

# --------------------------------------------------------------------------- PII masking

_SENSITIVE_KEY = re.compile(
    r"pass(word|wd|phrase)?$|^pwd$|secret|token|authori[sz]ation|cookie|api[_-]?key|credential|"
    r"^otp$|totp|recovery|mfa_code|cvc|cvv|card_?number|^pan$|private[_-]?key|signature",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{6,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_API_KEY = re.compile(r"\b(mksk|mkpk|mkrt)_[A-Za-z0-9_-]+")
_EMAIL = re.compile(r"\b([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d(?:[ .()-]{0,2}\d){6,14}(?!\d)")
_PHONE_NATIONAL = re.compile(r"(?<![\w-])\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?![\w-])")
_MASK = "***"


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_card(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    if 13 <= len(digits) <= 19 and _luhn(digits):
        return f"****{digits[-4:]}"
    return m.group(0)


def _mask_phone(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    return ("+" if m.group(0).startswith("+") else "") + "*" * (len(digits) - 2) + digits[-2:]


def mask_text(text: str) -> str:
    """Mask secrets and personal data inside free text (messages, tracebacks, values)."""
    if not text or len(text) < 6:
        return text
    text = _BEARER.sub(lambda m: f"{m.group(1)} {_MASK}", text)
    text = _JWT.sub(_MASK, text)
    text = _API_KEY.sub(lambda m: f"{m.group(1)}_{_MASK}", text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}{_MASK}@{m.group(2)}", text)
    text = _CARD.sub(_mask_card, text)
    text = _PHONE_INTL.sub(_mask_phone, text)
    return _PHONE_NATIONAL.sub(_mask_phone, text)


# Keys we write ourselves and whose values are identifiers, never personal data.
_SAFE_KEYS = frozenset({"event", "timestamp", "level", "logger", "request_id", "trace_id", "span_id", "tenant_id",
                        "user_id", "method", "route", "status", "duration_ms", "path", "client_ip"})


def _mask_value(value: Any, depth: int = 0) -> Any:
    if depth > 8:
        return _MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        s = str(abs(value))
        return f"****{s[-4:]}" if 13 <= len(s) <= 19 and _luhn(s) else value
    if isinstance(value, Mapping):
        return {k: (_MASK if isinstance(k, str) and _SENSITIVE_KEY.search(k) else _mask_value(v, depth + 1))
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(v, depth + 1) for v in value]
    if isinstance(value, bytes):
        return mask_text(value.decode("utf-8", "replace"))
    if isinstance(value, uuid.UUID):
        return str(value)
    return mask_text(str(value))


def mask_pii(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
    """structlog processor: the last line of defence before a log line leaves the process."""
    out: dict[str, Any] = {}
    for key, value in event_dict.items():
        if key in _SAFE_KEYS and not isinstance(value, str | bytes):
            out[key] = value
        elif key not in _SAFE_KEYS and _SENSITIVE_KEY.search(key):
            out[key] = _MASK
        else:
            out[key] = _mask_value(value)
    return out


# --------------------------------------------------------------------------- logging


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is *now* (so test capture and reassignment just work)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:  # StreamHandler.__init__ assigns it
        return None


def _json_dumps(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _drop_duplicate_message(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if event_dict.get("message") == event_dict.get("event"):
        event_dict.pop("message", None)
    return event_dict


def configure_logging(settings: Settings) -> None:
    """Idempotent: every app instance reconfigures the (process-global) logging the same way."""
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
    ]
    renderer: Any = (structlog.processors.JSONRenderer(serializer=_json_dumps) if settings.log_json
                     else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.processors.StackInfoRenderer(),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _drop_duplicate_message,
            mask_pii,
            renderer,
        ],
    )
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, _StdoutHandler):
            root.removeHandler(h)
    handler = _StdoutHandler()
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # uvicorn installs its own handlers; route them through ours. Its access log is replaced by ours.
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    logging.getLogger("uvicorn.access").disabled = True


# --------------------------------------------------------------------------- metrics


class _PoolCollector(Collector):
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterable[GaugeMetricFamily]:
        db = getattr(self.app.state, "db", None)
        if db is None:
            return []
        status = db.pool_status()
        families = []
        for key, doc in (("size", "Connections the pool keeps open"),
                         ("checked_out", "Connections currently in use"),
                         ("overflow", "Connections opened beyond the pool size")):
            g = GaugeMetricFamily(f"db_pool_{key}", doc)
            # SQLAlchemy counts overflow from -pool_size; below the pool size there is none.
            g.add_metric([], max(0, status.get(key, 0)))
            families.append(g)
        return families


class Metrics:
    """Per-app metrics registry: several apps in one process (tests) never collide."""

    BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

    def __init__(self, app: FastAPI) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("http_requests_total", "HTTP requests handled", ["method", "route", "status"],
                                registry=self.registry)
        self.duration = Histogram("http_request_duration_seconds", "Time to handle an HTTP request",
                                  ["method", "route"], buckets=self.BUCKETS, registry=self.registry)
        self.pool = _PoolCollector(app)
        self.registry.register(self.pool)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # `mercato serve --workers N`: every worker writes its samples to files; aggregate them.
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(self.pool)
            return generate_latest(registry)
        return generate_latest(self.registry)


metrics_router = APIRouter(tags=["system"])


@metrics_router.get("/metrics", summary="Prometheus metrics", dependencies=[Open],
                    response_class=Response,
                    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
async def metrics_endpoint(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


# --------------------------------------------------------------------------- request context

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
UNMATCHED_ROUTE = "<unmatched>"


def parse_traceparent(value: str | None) -> tuple[str, str, str] | None:
    """(trace_id, parent_span_id, flags) of a valid W3C traceparent, else None."""
    if not value:
        return None
    m = _TRACEPARENT.match(value.strip())
    if not m:
        return None
    version, trace_id, parent_id, flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest) or set(trace_id) == {"0"} or set(parent_id) == {"0"}:
        return None
    return trace_id, parent_id, flags


def route_template(scope: Scope) -> str:
    """The matched route's path template including router prefixes (``/api/v1/tenants/{tenant_id}``)."""
    fastapi_scope = scope.get("fastapi")
    if isinstance(fastapi_scope, dict):
        ctx = fastapi_scope.get("effective_route_context")
        fmt = getattr(ctx, "path_format", None)
        if fmt:
            return str(fmt)
    route = scope.get("route")
    fmt = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(fmt) if fmt else UNMATCHED_ROUTE


class _Tracing:
    """OpenTelemetry, only when an OTLP endpoint is configured (zero cost otherwise).

    The provider is private to the app (not the global one), so FastAPI's own native telemetry
    stays off and does not produce a second span per request.
    """

    def __init__(self, settings: Settings) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        endpoint = str(settings.otlp_endpoint).rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        self.provider = TracerProvider(resource=Resource.create({"service.name": "mercato",
                                                                 "deployment.environment": settings.env}))
        # Export runs in a background thread with a short timeout: a dead collector never blocks a request.
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=2)))
        self.tracer = self.provider.get_tracer("mercato")

    def start(self, method: str, path: str, parent: tuple[str, str, str] | None) -> Any:
        from opentelemetry import trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

        ctx = None
        if parent is not None:
            trace_id, span_id, flags = parent
            remote = SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True,
                                 trace_flags=TraceFlags(int(flags, 16)))
            ctx = trace.set_span_in_context(NonRecordingSpan(remote))
        return self.tracer.start_span(f"{method} {path}", context=ctx, kind=SpanKind.SERVER,
                                      attributes={"http.request.method": method, "url.path": path})

    def shutdown(self) -> None:
        self.provider.shutdown()


class RequestContextMiddleware:
    """Outermost middleware: identity of the request, its access line, metrics and span."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.settings: Settings = fastapi_app.state.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = _headers(scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        parent = parse_traceparent(headers.get("traceparent"))
        tracing: _Tracing | None = getattr(self.fastapi_app.state, "tracing", None)
        span = None
        if tracing is not None:
            span = tracing.start(scope["method"], scope["path"], parent)
            sc = span.get_span_context()
            trace_id, span_id = format(sc.trace_id, "032x"), format(sc.span_id, "016x")
            flags = format(int(sc.trace_flags), "02x")
        else:
            trace_id = parent[0] if parent else secrets.token_hex(16)
            span_id = secrets.token_hex(8)
            flags = parent[2] if parent else "00"
        traceparent = f"00-{trace_id}-{span_id}-{flags}"
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["trace_id"] = trace_id
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id, trace_id=trace_id,
                                                        tenant_id=None, user_id=None)
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                h = MutableHeaders(scope=message)
                h["X-Request-ID"] = request_id
                h["traceparent"] = traceparent
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if response_started:
                logging.getLogger("mercato.errors").error("error after the response started", exc_info=exc)
            else:
                await render_unhandled(self.fastapi_app, scope, receive, send_wrapper, exc)
        finally:
            duration = time.perf_counter() - started
            route = route_template(scope)
            principal = state.get("principal")
            tenant_id = getattr(principal, "tenant_id", None)
            user_id = getattr(principal, "user_id", None) or getattr(principal, "operator_id", None)
            access_log.info(
                "request", method=scope["method"], route=route, path=scope["path"], status=status,
                duration_ms=round(duration * 1000, 2), tenant_id=str(tenant_id) if tenant_id else None,
                user_id=str(user_id) if user_id else None, client_ip=client_ip(scope, self.settings),
            )
            metrics: Metrics | None = getattr(self.fastapi_app.state, "metrics", None)
            if metrics is not None:
                metrics.observe(scope["method"], route, status, duration)
            if span is not None:
                _end_span(span, route, status, scope["method"])
            structlog.contextvars.reset_contextvars(**tokens)


def _end_span(span: Any, route: str, status: int, method: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    try:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()
    except Exception:
        logging.getLogger("mercato.tracing").warning("could not end span", exc_info=True)


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", ()):
        out.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
    return out


async def _bind_principal(request: Request, principal: Any) -> None:
    """Principal hook: every log line of the rest of the request names the tenant and user."""
    tenant_id = getattr(principal, "tenant_id", None)
    user_id = getattr(principal, "user_id", None) or getattr(principal, "operator_id", None)
    structlog.contextvars.bind_contextvars(tenant_id=str(tenant_id) if tenant_id else None,
                                           user_id=str(user_id) if user_id else None)


# --------------------------------------------------------------------------- install


def install(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    configure_logging(settings)
    app.state.metrics = Metrics(app)
    app.state.tracing = _Tracing(settings) if settings.otlp_endpoint else None
    if app.state.tracing is not None:
        async def _stop_tracing(a: FastAPI) -> None:
            await asyncio.to_thread(a.state.tracing.shutdown)

        app.state.shutdown_hooks.append(_stop_tracing)
    app.state.principal_hooks.append(_bind_principal)
    app.include_router(metrics_router)
    app.add_middleware(RequestContextMiddleware, fastapi_app=app)
    openapi.customize_openapi(app)
