"""Return use cases. Services flush, never commit: the caller's transaction is the unit of work."""

from mercato.returns.service.exchanges import exchange
from mercato.returns.service.receiving import receive
from mercato.returns.service.refunds import refund
from mercato.returns.service.requests import (
    approve,
    cancel,
    close,
    get_customer_return,
    get_guest_return,
    get_return,
    get_settings,
    list_returns,
    reject,
    request_customer_return,
    request_guest_return,
    request_return,
    update_settings,
)

__all__ = ["approve", "cancel", "close", "exchange", "get_customer_return", "get_guest_return", "get_return", "get_settings",
           "list_returns", "receive", "refund", "reject", "request_customer_return", "request_guest_return",
           "request_return", "update_settings"]
