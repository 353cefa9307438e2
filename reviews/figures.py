"""The kept 领导点评 figures (orgs/figures.py): each organisation's own counts per period."""

from __future__ import annotations

from orgs.figures import FigureSource, Named, register_figures
from orgs.models import Organization
from orgs.periods import QUARTER, Period
from reviews.models import ReviewFigure


def compute(period: Period, org_ids: list[int]) -> dict[int, dict[str, int]]:
    """{org_id: {column: n}} for `org_ids`' own records in `period`."""
    return {}


def names(period: Period, org: Organization, column: str) -> list[Named]:
    """What `org`'s own figure `column` counts."""
    return []


def register() -> None:
    register_figures(
        FigureSource(
            key="reviews",
            model=ReviewFigure,
            period_kind=QUARTER,
            compute=compute,
            names=names,
            label="领导点评",
        )
    )
