"""Order use cases. Services flush, never commit: the caller's transaction is the unit of work."""

from mercato.orders.service.cancellation import cancel_order, cancel_pending_orders_of, refund_key
from mercato.orders.service.changes import add_note, change_shipping_address
from mercato.orders.service.common import ORDER_HOLD, get_settings, update_settings
from mercato.orders.service.payment_results import Outcome, mark_paid, record_payment
from mercato.orders.service.placement import place_order
from mercato.orders.service.progress import complete, mark_delivered, mark_lines_shipped, transition
from mercato.orders.service.queries import (
    get_customer_order,
    get_order,
    list_orders,
    lookup_guest_order,
)
from mercato.orders.service.returns import mark_lines_returned

__all__ = ["ORDER_HOLD", "Outcome", "add_note", "cancel_order", "cancel_pending_orders_of", "change_shipping_address",
           "complete", "get_customer_order", "get_order", "get_settings", "list_orders", "lookup_guest_order",
           "mark_delivered", "mark_lines_returned", "mark_lines_shipped", "mark_paid", "place_order", "record_payment", "refund_key",
           "transition", "update_settings"]
