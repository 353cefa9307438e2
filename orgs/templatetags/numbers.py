from django import template

from orgs.numbers import percent_text

register = template.Library()


@register.filter
def percent(value, digits=1):
    """A fraction from a selector as a share: {{ row.rate|percent }} → "12.5%" or "—"."""
    return percent_text(value, int(digits))
