"""Review periods: quarters for members, half-years for organisations and their secretaries."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

QUARTER, HALF = "Q", "H"


@dataclass(frozen=True)
class Period:
    year: int
    kind: str  # QUARTER or HALF
    number: int

    def __post_init__(self):
        top = 4 if self.kind == QUARTER else 2
        if (
            self.kind not in (QUARTER, HALF)
            or not 1 <= self.number <= top
            or not 2000 <= self.year <= 2100
        ):
            raise ValueError(f"bad period {self}")

    @property
    def start(self) -> datetime.date:
        months = 3 if self.kind == QUARTER else 6
        return datetime.date(self.year, months * (self.number - 1) + 1, 1)

    @property
    def end(self) -> datetime.date:
        months = 3 if self.kind == QUARTER else 6
        last_month = months * self.number
        if last_month == 12:
            return datetime.date(self.year, 12, 31)
        return datetime.date(self.year, last_month + 1, 1) - datetime.timedelta(days=1)

    @property
    def label(self) -> str:
        if self.kind == QUARTER:
            return f"{self.year}年第{'一二三四'[self.number - 1]}季度"
        return f"{self.year}年{'上下'[self.number - 1]}半年"

    @property
    def slug(self) -> str:
        return f"{self.year}{self.kind}{self.number}"

    @classmethod
    def parse(cls, slug: str) -> Period:
        """'2026Q3' or '2026H1'; ValueError otherwise."""
        if (
            len(slug) != 6
            or not slug[:4].isdigit()
            or slug[4] not in (QUARTER, HALF)
            or not slug[5].isdigit()
        ):
            raise ValueError(slug)
        return cls(int(slug[:4]), slug[4], int(slug[5]))

    @classmethod
    def containing(cls, day: datetime.date, kind: str) -> Period:
        months = 3 if kind == QUARTER else 6
        return cls(day.year, kind, (day.month - 1) // months + 1)

    def previous(self) -> Period:
        if self.number > 1:
            return Period(self.year, self.kind, self.number - 1)
        return Period(self.year - 1, self.kind, 4 if self.kind == QUARTER else 2)

    def next(self) -> Period:
        top = 4 if self.kind == QUARTER else 2
        if self.number < top:
            return Period(self.year, self.kind, self.number + 1)
        return Period(self.year + 1, self.kind, 1)
