"""Shares as numbers. Selectors return these; templates format them with the `percent` filter
(orgs/templatetags/numbers.py)."""

from __future__ import annotations


def share(part: int, whole: int) -> float | None:
    """`part` over `whole` as a fraction in [0, 1]; None when there is no whole."""
    return part / whole if whole else None


def percent_text(value: float | None, digits: int = 1) -> str:
    """A fraction as the pages show it: "12.5%"; "—" when there is none."""
    if value is None:
        return "—"
    return f"{100 * value:.{digits}f}%"
