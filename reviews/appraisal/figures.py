"""The kept 民主评议 figures (orgs/figures.py): each organisation's own counts per period."""

from __future__ import annotations

from orgs.figures import FigureSource, Named, register_figures
from orgs.models import Organization
from orgs.periods import YEAR, Period
from reviews.appraisal.models import AppraisalFigure


def compute(period: Period, org_ids: list[int]) -> dict[int, dict[str, int]]:
    """{org_id: {column: n}} for `org_ids`' own records in `period`."""
    return {}


def names(period: Period, org: Organization, column: str) -> list[Named]:
    """What `org`'s own figure `column` counts."""
    return []


def register() -> None:
    register_figures(
        FigureSource(
            key="appraisal",
            model=AppraisalFigure,
            period_kind=YEAR,
            compute=compute,
            names=names,
            label="民主评议",
        )
    )
