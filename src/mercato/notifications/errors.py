"""Notification errors: each carries its HTTP status and a stable ``code``."""

from __future__ import annotations

from mercato.platform.errors import AlreadyExists, Forbidden, NotFound, ValidationFailed


class NotificationNotFound(NotFound):
    code, title = "notification_not_found", "Notification not found"


class TemplateNotFound(NotFound):
    code, title = "notification_template_not_found", "Notification template not found"


class TemplateExists(AlreadyExists):
    code, title = "notification_template_exists", "A template for this key, locale and channel exists"


class InvalidTemplate(ValidationFailed):
    code, title = "invalid_template", "The template does not compile"


class UnknownTemplate(ValidationFailed):
    code, title = "unknown_template", "No such template"


class RecipientNotFound(NotFound):
    code, title = "recipient_not_found", "No such user"


class NoAddress(ValidationFailed):
    code, title = "no_address_for_channel", "The user has no address for this channel"


class UserOnly(Forbidden):
    code, title = "user_only", "Only a signed-in user has notifications of their own"
