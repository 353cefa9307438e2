"""A service's refusal shown on a page that has no form to carry it: as a message."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError


def refusal_text(error: ValidationError) -> str:
    """Every message of a refusal in one line."""
    return "；".join(error.messages)


def show_refusal(request, error: ValidationError, *, prefix: str = "") -> None:
    """Show a service's ValidationError as one error message, after `prefix` when given."""
    messages.error(request, prefix + refusal_text(error))
