"""How a service says no: a ValidationError with a message a secretary can act on."""

from __future__ import annotations

from typing import NoReturn

from django.core.exceptions import ValidationError


def refuse(message: str, field: str | None = None) -> NoReturn:
    """Stop the service; the message goes on `field` of the form when one is named."""
    raise ValidationError({field: message} if field else message)
