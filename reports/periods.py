"""Periods named on the command line or in a URL, for the statistics."""

import datetime

from orgs.figures import periods_of_year
from orgs.periods import Period


def periods_from_options(values: list[str], *, today: datetime.date) -> list[Period]:
    """`2026` means every period of 2026 (its quarters, halves and the year); `2026H1` and
    `2026Q3` themselves. Nothing given: every period of the current year."""
    if not values:
        return periods_of_year(today.year)
    found: list[Period] = []
    for value in values:
        text = value.strip()
        if text.isdigit():
            found += periods_of_year(int(text))
            continue
        try:
            found.append(Period.parse(text))
        except (ValueError, KeyError) as exc:
            raise ValueError(f"无法识别的期间“{value}”：应为 2026、2026H1 或 2026Q3。") from exc
    return found
