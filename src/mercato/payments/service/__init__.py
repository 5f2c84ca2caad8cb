"""Payment use cases. Services flush, never commit: the caller's transaction is the unit of work."""

from mercato.payments.service.payments import (
    cancel,
    capture,
    confirm_payment,
    get_payment,
    get_payments_for_order,
    list_payments,
    mark_paid,
    payment_id_for,
    start_payment,
)
from mercato.payments.service.refunds import list_refunds, refund, refund_id_for
from mercato.payments.service.webhooks import (
    HANDLED_EVENT_TYPES,
    event_metadata,
    handle_stripe_event,
    tenant_of_event,
    verify_stripe_event,
)

__all__ = ["HANDLED_EVENT_TYPES", "cancel", "capture", "confirm_payment", "event_metadata", "get_payment",
           "get_payments_for_order", "handle_stripe_event", "list_payments", "list_refunds", "mark_paid",
           "payment_id_for", "refund", "refund_id_for", "start_payment", "tenant_of_event", "verify_stripe_event"]
