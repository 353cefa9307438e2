"""The statistics tables on screen: an organisation's four tables, one table for a period with a
row per child, and the names behind one of the organisation's own numbers.

A child row's numbers open the child's own table for the same period, so a reader walks down the
tree until the numbers are an organisation's own (本级, or a branch's); those open the list of
members, organisations or records they count. Every page reads the kept figures (orgs/figures.py)
through reports/tables.py: a fixed number of queries whatever the size of the subtree.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from orgs import figures
from orgs.models import Organization
from orgs.pager import page_of
from orgs.periods import Period
from reports import access
from reports.tables import TABLES, Col, Row, Table, TableSpec, build, default_period

HEADLINE_COLUMNS = 4  # numbers of the total row the index shows for a table without rates


def _spec(key: str) -> TableSpec:
    try:
        return TABLES[key]
    except KeyError:
        raise Http404("没有该统计表。") from None


def _period(spec: TableSpec, slug: str) -> Period:
    """The period a URL names, of the table's kind ('2026Q3' for the reviews table); else 404."""
    try:
        period = Period.parse(slug)
    except (ValueError, KeyError):
        raise Http404("期间有误。") from None
    if period.kind != spec.period_kind:
        raise Http404("期间有误。")
    return period


def _table_url(spec: TableSpec, org: Organization, period: Period) -> str:
    return reverse("reports:table", args=[spec.key, org.pk, period.slug])


def _names_url(spec: TableSpec, org: Organization, period: Period, col: Col) -> str:
    return reverse("reports:names", args=[spec.key, org.pk, period.slug, col.drill])


def drill_count(col: Col, raw: dict[str, int]) -> int:
    """The number the names list of `col` holds: the column's own figure, or for a rate those
    owed but not done."""
    if col.rate_of:
        done, owed = col.rate_of
        return max(int(raw.get(owed, 0)) - int(raw.get(done, 0)), 0)
    return int(raw.get(col.key, 0))


def drill_title(spec: TableSpec, col: Col) -> str:
    """What a names list is of: 党员：已点评; for a rate 党员：应点评而未点评."""
    if col.rate_of:
        done, owed = (spec.col(key).label for key in col.rate_of)
        return f"{col.group}：{owed}而未{done.removeprefix('已')}"
    return f"{col.group}：{col.label}"


# ---------------------------------------------------------------- the period picker


@dataclass(frozen=True)
class PeriodLink:
    period: Period
    url: str
    current: bool


def _year_step(spec, org, period: Period, years: int, today: datetime.date) -> PeriodLink | None:
    """The same period `years` away, or that year's latest begun one; None outside the campaign's
    years or before it has begun."""
    try:
        target = Period(period.year + years, period.kind, period.number)
    except ValueError:
        return None
    if not target.has_begun(today):
        if today.year != target.year:
            return None
        target = Period.containing(today, period.kind)
    return PeriodLink(target, _table_url(spec, org, target), False)


def _picker(spec: TableSpec, org: Organization, period: Period, today: datetime.date) -> dict:
    """The periods of the shown year that have begun (and the shown one), and the years beside."""
    shown = [
        PeriodLink(p, _table_url(spec, org, p), p == period)
        for p in Period.all_of(period.year, spec.period_kind)
        if p.has_begun(today) or p == period
    ]
    return {
        "periods": shown if len(shown) > 1 else [],
        "before": _year_step(spec, org, period, -1, today),
        "after": _year_step(spec, org, period, +1, today),
    }


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Cell:
    value: int | float | None
    is_rate: bool
    url: str = ""


@dataclass(frozen=True)
class RowView:
    kind: str  # "child", "own" or "total"
    label: str
    url: str  # the row's organisation's table (a child row), else ""
    cells: list[Cell]


def _row_view(table: Table, row: Row, *, names: bool) -> RowView:
    """A row's cells with their links: a child's numbers open its table; the organisation's own
    numbers (`names`) open the list behind each one that is not zero."""
    spec, period = table.spec, table.period
    child_url = _table_url(spec, row.org, period) if row.kind == "child" else ""
    cells = []
    for col in spec.cols:
        url = child_url
        if names and drill_count(col, row.raw):
            url = _names_url(spec, row.org, period, col)
        cells.append(Cell(row.values[col.key], col.is_rate, url))
    return RowView(row.kind, row.label, child_url, cells)


def _rows(table: Table) -> list[RowView]:
    """The children, 本级 and 合计. An organisation without children shows its own row alone
    (its total is the same numbers)."""
    has_children = any(row.kind == "child" for row in table.rows)
    rows = [_row_view(table, row, names=row.kind == "own") for row in table.rows]
    if has_children:
        rows.append(_row_view(table, table.total, names=False))
    return rows


def _up_url(user, spec: TableSpec, org: Organization, period: Period) -> str:
    """The parent's table, for a reader of the parent (no query: the parent is fetched with the
    organisation)."""
    parent = org.parent
    if parent is None or not parent.is_active or not access.can_read_stats(user, parent):
        return ""
    return _table_url(spec, parent, period)


@require_GET
def table(request, table, org_pk, period):
    """One statistics table of an organisation for a period."""
    org = access.get_org_for_stats(request.user, org_pk)
    spec = _spec(table)
    period = _period(spec, period)
    built = build(spec, org, period)
    today = timezone.localdate()
    return render(
        request,
        "reports/table.html",
        {
            "org": org,
            "spec": spec,
            "period": period,
            "table": built,
            "rows": _rows(built),
            "has_children": any(row.kind == "child" for row in built.rows),
            "has_own": any(row.kind == "own" for row in built.rows),
            "picker": _picker(spec, org, period, today),
            "up_url": _up_url(request.user, spec, org, period),
            "others": [
                (other, _table_url(other, org, default_period(other, today)))
                for other in TABLES.values()
                if other.key != spec.key
            ],
        },
    )


# ---------------------------------------------------------------- the index


@dataclass(frozen=True)
class Headline:
    label: str
    value: int | float | None
    is_rate: bool


@dataclass(frozen=True)
class TableCard:
    spec: TableSpec
    period: Period
    url: str
    as_of: datetime.datetime | None
    children: int
    headlines: list[Headline]


def _card(spec: TableSpec, org: Organization, today: datetime.date) -> TableCard:
    period = default_period(spec, today)
    built = build(spec, org, period)
    return TableCard(
        spec=spec,
        period=period,
        url=_table_url(spec, org, period),
        as_of=built.as_of,
        children=sum(1 for row in built.rows if row.kind == "child"),
        headlines=[
            Headline(f"{col.group}{col.label}", built.total.values[col.key], col.is_rate)
            for col in _headline_columns(spec)
        ],
    )


def _headline_columns(spec: TableSpec) -> list[Col]:
    """What the index shows of a table: each rate with its two numbers (owed, done), or for a
    table without rates its first columns."""
    shown = []
    for col in spec.cols:
        if col.rate_of:
            done, owed = col.rate_of
            shown += [spec.col(owed), spec.col(done), col]
    return shown or list(spec.cols[:HEADLINE_COLUMNS])


@require_GET
def index(request, org_pk):
    """An organisation's four tables, each for its current period."""
    org = access.get_org_for_stats(request.user, org_pk)
    today = timezone.localdate()
    return render(
        request,
        "reports/index.html",
        {"org": org, "cards": [_card(spec, org, today) for spec in TABLES.values()]},
    )


# ---------------------------------------------------------------- the names behind a number


def _own_row(
    spec: TableSpec, org: Organization, period: Period
) -> tuple[dict[str, int], datetime.datetime | None]:
    """The organisation's own kept figures for the period and their time: one query."""
    src = figures.source(spec.source)
    row = (
        src.model.objects.filter(period=period.slug, org_id=org.pk)
        .values(*src.columns, "computed_at")
        .first()
    )
    if row is None:
        return {}, None
    as_of = row.pop("computed_at")
    return {c: int(v or 0) for c, v in row.items()}, as_of


@require_GET
def names(request, table, org_pk, period, drill):
    """The members, organisations or records behind one of the organisation's own numbers."""
    org = access.get_org_for_stats(request.user, org_pk)
    spec = _spec(table)
    period = _period(spec, period)
    col = next((c for c in spec.cols if c.drill == drill), None)
    if col is None:
        raise Http404("没有该统计项。")
    own, as_of = _own_row(spec, org, period)
    src = figures.source(spec.source)
    items = list(src.names(period, org, drill)) if src.names else []
    return render(
        request,
        "reports/names.html",
        {
            "org": org,
            "spec": spec,
            "period": period,
            "col": col,
            "title": drill_title(spec, col),
            "count": drill_count(col, own),
            "listed": len(items),
            "as_of": as_of,
            "page": page_of(request, items),
            "table_url": _table_url(spec, org, period),
        },
    )
