"""Notifications: messages to people (email, SMS, push), always sent from events, never inline.

Public face. Importing this module registers its event subscribers (``handlers``).

* ``request_email(session, to=, template=, context=, locale=, user_id=)`` — queue an email
  (an outbox event; identity's verification/reset/invitation mails use it);
* ``request_notification(session, channel=, ...)`` — the same for any channel;
* ``set_directory(contact=, staff=)`` — identity plugs in its user lookups (see ``directory``);
* ``register_channel(channel)`` — a real SMS/push provider;
* ``run_retry_failed`` / ``RETRY_INTERVAL_SECONDS`` — the periodic retry job.
"""

from mercato.notifications import handlers as _handlers  # noqa: F401  (registers subscribers)
from mercato.notifications.channels import Channel, OutgoingMessage, register_channel
from mercato.notifications.directory import Contact, set_directory
from mercato.notifications.domain import TEMPLATE_KEYS
from mercato.notifications.service import request_email, request_notification
from mercato.notifications.tasks import RETRY_INTERVAL_SECONDS, retry_failed, run_retry_failed

__all__ = ["RETRY_INTERVAL_SECONDS", "TEMPLATE_KEYS", "Channel", "Contact", "OutgoingMessage", "register_channel",
           "request_email", "request_notification", "retry_failed", "run_retry_failed", "set_directory"]
