"""The campaign's periods: quarters (members' fulfilment and reviews), half-years (organisations'),
and years (pledges, appraisal, ledgers). Every app takes its dates and labels from here."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.http import Http404
from django.utils import timezone

QUARTER, HALF, YEAR = "Q", "H", "Y"
YEAR_MIN, YEAR_MAX = 2000, 2100

_MONTHS = {QUARTER: 3, HALF: 6, YEAR: 12}
_COUNT = {QUARTER: 4, HALF: 2, YEAR: 1}


def is_campaign_year(year) -> bool:
    """Whether `year` is an int inside the one bound every page and service accepts."""
    return isinstance(year, int) and not isinstance(year, bool) and YEAR_MIN <= year <= YEAR_MAX


def parse_year(value, *, default: int | None = None) -> int | None:
    """A campaign year from a query string or form value; `default` when empty or not a year."""
    text = str(value).strip() if value is not None else ""
    if text.isascii() and text.isdigit() and len(text) == 4 and is_campaign_year(int(text)):
        return int(text)
    return default


def year_from(request, *, default: int | None = None) -> int:
    """The page's year: `?year=` when it is a campaign year, else `default`, else this year."""
    fallback = default if is_campaign_year(default) else timezone.localdate().year
    return parse_year(request.GET.get("year"), default=fallback)


def year_or_404(year) -> int:
    """A year taken from a URL: a 404 outside the campaign's bound."""
    if not is_campaign_year(year):
        raise Http404("年度有误。")
    return year


@dataclass(frozen=True, order=True)
class Period:
    year: int
    kind: str  # QUARTER, HALF or YEAR
    number: int = 1

    def __post_init__(self):
        if (
            self.kind not in _COUNT
            or not isinstance(self.number, int)
            or not 1 <= self.number <= _COUNT[self.kind]
            or not is_campaign_year(self.year)
        ):
            raise ValueError(f"bad period {self.year}/{self.kind}/{self.number}")

    @classmethod
    def quarter(cls, year: int, number: int) -> Period:
        return cls(year, QUARTER, number)

    @classmethod
    def half(cls, year: int, number: int) -> Period:
        return cls(year, HALF, number)

    @classmethod
    def whole_year(cls, year: int) -> Period:
        return cls(year, YEAR, 1)

    @classmethod
    def all_of(cls, year: int, kind: str) -> list[Period]:
        """Every period of `kind` in `year`, in order."""
        return [cls(year, kind, n) for n in range(1, _COUNT[kind] + 1)]

    @property
    def start(self) -> datetime.date:
        return datetime.date(self.year, _MONTHS[self.kind] * (self.number - 1) + 1, 1)

    @property
    def end(self) -> datetime.date:
        last_month = _MONTHS[self.kind] * self.number
        if last_month == 12:
            return datetime.date(self.year, 12, 31)
        return datetime.date(self.year, last_month + 1, 1) - datetime.timedelta(days=1)

    def contains(self, day: datetime.date) -> bool:
        return self.start <= day <= self.end

    def has_begun(self, today: datetime.date) -> bool:
        return self.start <= today

    @property
    def label(self) -> str:
        if self.kind == QUARTER:
            return f"{self.year}年第{'一二三四'[self.number - 1]}季度"
        if self.kind == HALF:
            return f"{self.year}年{'上下'[self.number - 1]}半年"
        return f"{self.year}年度"

    @property
    def short_label(self) -> str:
        """The label without the year: 第一季度, 上半年, 全年."""
        if self.kind == QUARTER:
            return f"第{'一二三四'[self.number - 1]}季度"
        if self.kind == HALF:
            return f"{'上下'[self.number - 1]}半年"
        return "全年"

    @property
    def slug(self) -> str:
        return f"{self.year}{self.kind}{self.number}"

    def __str__(self) -> str:
        return self.label

    @classmethod
    def parse(cls, slug: str) -> Period:
        """'2026Q3', '2026H1' or '2026Y1'; ValueError otherwise."""
        if (
            not isinstance(slug, str)
            or len(slug) != 6
            or not slug[:4].isascii()
            or not slug[:4].isdigit()
            or slug[4] not in _COUNT
            or not (slug[5].isascii() and slug[5].isdigit())
        ):
            raise ValueError(slug)
        return cls(int(slug[:4]), slug[4], int(slug[5]))

    @classmethod
    def containing(cls, day: datetime.date, kind: str) -> Period:
        return cls(day.year, kind, (day.month - 1) // _MONTHS[kind] + 1)

    def previous(self) -> Period:
        if self.number > 1:
            return Period(self.year, self.kind, self.number - 1)
        return Period(self.year - 1, self.kind, _COUNT[self.kind])

    def next(self) -> Period:
        if self.number < _COUNT[self.kind]:
            return Period(self.year, self.kind, self.number + 1)
        return Period(self.year + 1, self.kind, 1)

    @property
    def before(self) -> Period | None:
        """The previous period while it is inside the campaign's years (a page's link), else None."""
        try:
            return self.previous()
        except ValueError:
            return None

    @property
    def after(self) -> Period | None:
        """The next period while it is inside the campaign's years (a page's link), else None."""
        try:
            return self.next()
        except ValueError:
            return None
