"""Notification use cases. Services flush, never commit."""

from mercato.notifications.service.delivery import attempt, dispatch, record, retry
from mercato.notifications.service.messages import (
    REQUESTED,
    address_for,
    get_notification,
    list_mine,
    list_notifications,
    request_email,
    request_notification,
    send_to_user,
)
from mercato.notifications.service.templates import (
    create_template,
    defaults,
    delete_template,
    get_template,
    list_templates,
    update_template,
)

__all__ = ["REQUESTED", "address_for", "attempt", "create_template", "defaults", "delete_template", "dispatch",
           "get_notification", "get_template", "list_mine", "list_notifications", "list_templates", "record",
           "request_email", "request_notification", "retry", "send_to_user", "update_template"]
