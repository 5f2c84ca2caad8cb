"""Webhook use cases. Services flush, never commit."""

from mercato.webhooks.service.deliveries import (
    Prepared,
    attempt_now,
    disable_failing,
    fan_out,
    get_delivery,
    list_deliveries,
    prepare,
    record_outcome,
    replay,
    send,
    send_test,
)
from mercato.webhooks.service.endpoints import (
    check_url,
    create_endpoint,
    delete_endpoint,
    get_endpoint,
    list_endpoints,
    rotate_secret,
    update_endpoint,
)

__all__ = ["Prepared", "attempt_now", "check_url", "create_endpoint", "delete_endpoint", "disable_failing",
           "fan_out", "get_delivery", "get_endpoint", "list_deliveries", "list_endpoints", "prepare",
           "record_outcome", "replay", "rotate_secret", "send", "send_test", "update_endpoint"]
