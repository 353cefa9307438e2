"""What every app's forms and form views share: the date widget, and a service's refusal put on the
form fields it names."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


def first_error(form: forms.Form) -> str:
    """The form's first error as one message naming its field, for a page that shows messages."""
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        return f"{label}：{errors[0]}" if label else errors[0]
    return ""


def apply_errors(form, error: ValidationError) -> None:
    """Attach a service's ValidationError to the form fields it names (others to the form)."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)
