"""The statistics on the home page: a card per organisation the user leads or serves as office.

A card shows, for the organisation's subtree: this quarter's review coverage by child (bars),
the year's quarters (a line), the year's pledges by state and the appraisal results (stacked
bars), and the children — at a branch, the members — with the most members not reviewed and
without a pledge, each linking to the drill-down of reports/views.py. Every number is a kept
figure (orgs/figures.py) read through reports/tables.py or a roll-up of the same rows, so a card
costs a fixed number of queries whatever the size of the subtree, and the numbers agree with the
tables they link to.

Collecting the numbers (`dashboard`) and drawing them (`draw`, with reports/charts.py) are
separate steps; `sections` is the home page's provider (orgs.extensions).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from orgs import extensions, figures
from orgs.access import READING, grants_for
from orgs.models import Organization, OrgKind
from orgs.numbers import percent_text, share
from orgs.periods import QUARTER, YEAR, Period
from reports import charts
from reports.tables import APPRAISAL, LEDGERS, PLEDGES, REVIEWS, Row, Table, TableSpec, build

CARDS = 2  # organisations with a card on one home page: the top-most two the user reads
COVERAGE_ROWS = 15  # children in the coverage chart; beyond it, the lowest rates
GAP_ROWS = 5  # children (or names) in each list of gaps

# the pledge items by state, as the pledges table counts them
PLEDGE_STATES = (
    ("items", "承诺事项"),
    ("items_approved", "已审定"),
    ("items_published", "已公示"),
    ("fulfilled", "已兑现"),
    ("partly", "部分兑现"),
    ("not_fulfilled", "未兑现"),
    ("overdue", "超期未完成"),
)
MEMBER_GRADES = (
    "members_excellent",
    "members_pass",
    "members_basic",
    "members_fail",
    "members_deferred",
)
ORG_BANDS = ("orgs_band_1", "orgs_band_2", "orgs_band_3", "orgs_band_4")
APPRAISAL_COLUMNS = tuple(c.key for c in APPRAISAL.cols if not c.is_rate)


# ---------------------------------------------------------------- the numbers


@dataclass(frozen=True)
class Gap:
    """A child (or, at a branch, a member) behind a gap, and where its names are listed."""

    label: str
    count: int
    url: str
    detail: str = ""


@dataclass(frozen=True)
class Gaps:
    title: str
    total: int  # the whole subtree's gap
    owed: int  # those owing it: with none, there are no figures to speak of
    items: list[Gap]  # the largest first, at most GAP_ROWS
    of_names: bool  # items are names (a branch), not organisations
    url: str  # the full list (a branch) or the table


@dataclass
class Dashboard:
    org: Organization
    quarter: Period
    year: Period
    appraisal_year: Period  # this year, or last year while this year has no results yet
    coverage: list[Row]  # the rows of the reviews table owing anything: children, then 本级
    coverage_total: Row
    trend: list[tuple[Period, dict[str, int] | None]]  # the year's quarters; None: not begun
    pledges: dict[str, int]  # the pledges table's total
    appraisal: dict[str, int]  # the subtree's appraisal figures
    unreviewed: Gaps
    unpledged: Gaps
    as_of: datetime.datetime | None
    tables: list[tuple[TableSpec, Period, str]]  # the four tables for their current periods


def table_url(spec: TableSpec, org: Organization, period: Period) -> str:
    return reverse("reports:table", args=[spec.key, org.pk, period.slug])


def names_url(spec: TableSpec, org: Organization, period: Period, drill: str) -> str:
    return reverse("reports:names", args=[spec.key, org.pk, period.slug, drill])


def _by_period(key: str, root: Organization, periods: list[Period]) -> dict[str, dict[str, int]]:
    """`root`'s subtree totals (orgs.figures.subtree_total) for several periods: one grouped
    query, {period slug: {column: n}} for the periods with any rows."""
    src = figures.source(key)
    cols = src.columns
    rows = (
        src.model.objects.filter(root.subtree_q("org__"), period__in=[p.slug for p in periods])
        .values("period")
        .annotate(**{c: Sum(c) for c in cols})
        .order_by()
    )
    return {row["period"]: {c: int(row[c] or 0) for c in cols} for row in rows}


def _appraised(raw: dict[str, int]) -> bool:
    """Whether appraisal results are in: members graded or organisations rated."""
    return any(raw.get(c) for c in (*MEMBER_GRADES, *ORG_BANDS))


def _gap(raw: dict[str, int], drill: str) -> int:
    owed, done = drill.split("-")
    return max(int(raw.get(owed, 0)) - int(raw.get(done, 0)), 0)


def _holds_its_members(org: Organization) -> bool:
    """Whether an organisation's subtree figures are its own: a branch keeps its members on its
    own roll (its 党小组 hold none), and an organisation without children has nothing else."""
    return org.kind in (OrgKind.BRANCH, OrgKind.GROUP) or org.is_leaf_node()


def _gaps(spec: TableSpec, table: Table, rate_key: str, title: str, *, names_here: bool) -> Gaps:
    """The largest gaps of one rate: among the children (and 本级), or at a branch the names the
    figures source lists (one organisation's own records: a bounded read)."""
    drill = spec.col(rate_key).drill
    root, period = table.root, table.period
    total = _gap(table.total.raw, drill)
    owed = int(table.total.raw.get(drill.split("-")[0], 0))
    if names_here:
        src = figures.source(spec.source)
        named = list(src.names(period, root, drill)) if total and src.names else []
        return Gaps(
            title=title,
            total=total,
            owed=owed,
            items=[Gap(n.label, 1, n.url, n.detail) for n in named[:GAP_ROWS]],
            of_names=True,
            url=names_url(spec, root, period, drill) if total else "",
        )
    found = []
    for row in table.rows:
        count = _gap(row.raw, drill)
        if not count:
            continue
        if row.kind == "own" or _holds_its_members(row.org):
            url = names_url(spec, row.org, period, drill)
        else:  # a committee's gap is spread over its children: its table shows where
            url = table_url(spec, row.org, period)
        found.append((count, row, url))
    found.sort(key=lambda item: -item[0])  # stable: equal gaps keep the table's order
    return Gaps(
        title=title,
        total=total,
        owed=owed,
        items=[Gap(row.label, count, url) for count, row, url in found[:GAP_ROWS]],
        of_names=False,
        url=table_url(spec, root, period),
    )


def dashboard(org: Organization, *, today: datetime.date) -> Dashboard:
    """The numbers of `org`'s card: eight queries, whatever the size of the subtree (the reviews
    and pledges tables three each, the quarters and the appraisal years one each) and, at a
    branch, the two names lists behind its gaps."""
    quarter = Period.containing(today, QUARTER)
    year = Period.containing(today, YEAR)
    reviews = build(REVIEWS, org, quarter)
    pledges = build(PLEDGES, org, year)
    begun = [q for q in Period.all_of(today.year, QUARTER) if q.has_begun(today) and q != quarter]
    past = _by_period("reviews", org, begun) if begun else {}
    trend: list[tuple[Period, dict[str, int] | None]] = []
    for q in Period.all_of(today.year, QUARTER):
        if q == quarter:  # the chart's own total, so the line ends where the bars' total is
            trend.append((q, reviews.total.raw))
        elif q in begun:
            trend.append((q, past.get(q.slug) or {}))
        else:
            trend.append((q, None))
    last_year = year.previous()
    appraisals = _by_period("appraisal", org, [last_year, year])
    shown = {p: appraisals.get(p.slug) or {} for p in (year, last_year)}
    appraisal_year = (
        last_year if _appraised(shown[last_year]) and not _appraised(shown[year]) else year
    )
    names_here = not any(row.kind == "child" for row in reviews.rows) or _holds_its_members(org)
    stamps = [t.as_of for t in (reviews, pledges) if t.as_of]
    half = Period.containing(today, LEDGERS.period_kind)
    return Dashboard(
        org=org,
        quarter=quarter,
        year=year,
        appraisal_year=appraisal_year,
        coverage=[
            row for row in reviews.rows if row.raw.get("members_owed") or row.raw.get("orgs_owed")
        ],
        coverage_total=reviews.total,
        trend=trend,
        pledges=pledges.total.raw,
        appraisal=shown[appraisal_year] or dict.fromkeys(APPRAISAL_COLUMNS, 0),
        unreviewed=_gaps(
            REVIEWS, reviews, "members_rate", "本季度未点评党员", names_here=names_here
        ),
        unpledged=_gaps(
            PLEDGES, pledges, "members_rate", f"{year.year}年未承诺党员", names_here=names_here
        ),
        as_of=max(stamps) if stamps else None,
        tables=[
            (spec, period, table_url(spec, org, period))
            for spec, period in (
                (REVIEWS, quarter),
                (PLEDGES, year),
                (APPRAISAL, year),
                (LEDGERS, half),
            )
        ],
    )


# ---------------------------------------------------------------- the drawing


def _rate_value(raw: dict[str, int], done: str, owed: str) -> charts.Value:
    rate = share(raw.get(done, 0), raw.get(owed, 0))
    return charts.Value(rate, percent_text(rate), f"{raw.get(done, 0)}/{raw.get(owed, 0)}")


def _coverage_rows(d: Dashboard) -> tuple[list[Row], bool]:
    """The rows the bars show, and whether some were left out (the lowest rates are kept)."""
    rows = d.coverage
    if len(rows) <= COVERAGE_ROWS:
        return rows, False

    def rate(row: Row) -> float:
        value = row.values["members_rate"]
        return 2.0 if value is None else value

    return sorted(rows, key=rate)[:COVERAGE_ROWS], True


def draw(d: Dashboard) -> dict:
    """The card's charts as markup, and what the template prints around them."""
    key = f"dash{d.org.pk}"
    rows, cut = _coverage_rows(d)
    coverage = charts.bars(
        key=f"{key}-cov",
        title=f"{d.quarter.label}点评率",
        series=("党员", "基层党组织"),
        scale=1.0,
        rows=[
            charts.BarRow(
                label=row.label,
                values=(
                    _rate_value(row.raw, "members_reviewed", "members_owed"),
                    _rate_value(row.raw, "orgs_reviewed", "orgs_owed"),
                ),
                url=table_url(REVIEWS, row.org, d.quarter) if row.kind == "child" else "",
            )
            for row in rows
        ],
    )
    trend = charts.line(
        key=f"{key}-trend",
        title=f"{d.year.year}年各季度点评率",
        periods=[q.short_label.removeprefix("第") for q, _ in d.trend],
        series=[
            (
                name,
                [
                    charts.Value(None, "—") if raw is None else _rate_value(raw, done, owed)
                    for _, raw in d.trend
                ],
            )
            for name, done, owed in (
                ("党员", "members_reviewed", "members_owed"),
                ("基层党组织", "orgs_reviewed", "orgs_owed"),
            )
        ],
    )
    pledges_url = table_url(PLEDGES, d.org, d.year)
    pledges = charts.bars(
        key=f"{key}-pledges",
        title=f"{d.year.label}承诺事项",
        series=("事项",),
        rows=[
            charts.BarRow(
                label=label,
                values=(charts.Value(d.pledges.get(col, 0), str(d.pledges.get(col, 0))),),
                url=pledges_url,
            )
            for col, label in PLEDGE_STATES
        ],
    )
    appraisal_url = table_url(APPRAISAL, d.org, d.appraisal_year)
    grades = charts.stacks(
        key=f"{key}-grades",
        title=f"{d.appraisal_year.label}党员评定",
        names=[APPRAISAL.col(c).label for c in MEMBER_GRADES],
        rows=[
            charts.StackRow(
                "党员评定", tuple(d.appraisal.get(c, 0) for c in MEMBER_GRADES), appraisal_url, "人"
            )
        ],
    )
    bands = charts.stacks(
        key=f"{key}-bands",
        title=f"{d.appraisal_year.label}党组织满意率",
        names=[APPRAISAL.col(c).label for c in ORG_BANDS],
        rows=[
            charts.StackRow(
                "党组织满意率", tuple(d.appraisal.get(c, 0) for c in ORG_BANDS), appraisal_url, "个"
            )
        ],
    )
    return {
        "coverage": coverage,
        "coverage_cut": cut,
        "coverage_shown": COVERAGE_ROWS,
        "trend": trend,
        "pledges": pledges,
        "grades": grades,
        "bands": bands,
        "appraised": _appraised(d.appraisal),
        "members_rate": d.coverage_total.values["members_rate"],
        "pledge_rate": share(d.pledges.get("members_pledged", 0), d.pledges.get("members_owed", 0)),
    }


# ---------------------------------------------------------------- the home page


def dashboard_orgs(user, orgs: list[Organization]) -> list[Organization]:
    """The organisations that get a card: those among `orgs` where the user holds a reading role
    (secretary, deputy, office), the top-most first, at most CARDS. No query: the grants are
    cached on the user."""
    held = {g.org_id for g in grants_for(user) if g.role in READING}
    chosen = [org for org in orgs if org.pk in held and org.is_active]
    chosen.sort(key=lambda org: (org.level, org.tree_id, org.lft))
    return chosen[:CARDS]


def sections(user, orgs) -> list[dict]:
    today = timezone.localdate()
    found = []
    for i, org in enumerate(dashboard_orgs(user, list(orgs))):
        d = dashboard(org, today=today)
        found.append(
            {
                "title": f"{org.name} 统计概览",
                "template": "reports/dashboard.html",
                "dashboard": d,
                "charts": draw(d),
                "first": i == 0,
            }
        )
    return found


def register() -> None:
    extensions.home_section_providers.append(sections)
