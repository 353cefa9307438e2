"""The kept 公开承诺 figures (orgs/figures.py): each organisation's own counts for a year.

Where each number is counted, and by which rule (the pages' and the obligations' own):

- 党组织 (`orgs_*`, `makeup_orgs`): at the organisation itself. An active 基层党委, 党总支 or 党支部
  owes a pledge of its own (`selectors.OWN_PLEDGE_KINDS`, the 补课 list `orgs_without_pledge`);
  it has pledged when it has a pledge of the year approved or later (`Pledge.is_pledged`), and
  the kind columns say which kinds it pledged. Only organisations that owe are counted, so that
  pledged + 需补课 = owed.
- 党员 (`members_*`, `makeup_members`): at the organisation whose roll holds the member at the
  year's end (for this year and later: the roll now, as the 补课 list and the reminders read it;
  for a past year, the roll of that year, so that a transfer does not rewrite the years before
  it). A member has pledged with a pledge of the year approved or later wherever it is kept
  (a community pledge too); 口头承诺 and 在职党员社区承诺 are members among those who pledged.
- 承诺事项 and their results (`items*`, `fulfilled` … `overdue`): each pledge of the year at the
  organisation that keeps it (`Pledge.org`: the owner organisation, the member's branch of that
  year, or the residential community); drafts are not yet items.
- 超期未完成: a pledge approved or published, not done, whose due date has passed by today — for
  a past year, by the end of that year (`overdue_cutoff`). The day moving on changes it without
  any write: the nightly rebuild keeps it current.
- 整改 (`rect_*`): the rectifications of the year's pledges where they are kept
  (`Rectification.org`); one reported but not yet closed is still open.

Deactivated organisations have no figures (the rebuild drops their rows).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from orgs import figures
from orgs.figures import FigureSource, Named, register_figures
from orgs.models import Member, Membership, Organization
from orgs.periods import YEAR, Period
from orgs.rectifications import RectificationStatus
from pledges.models import (
    PLEDGED,
    PUBLIC,
    EvaluationResult,
    Pledge,
    PledgeFigure,
    PledgeKind,
    PledgeStatus,
    Rectification,
)
from pledges.selectors import OWN_PLEDGE_KINDS

KIND_COLUMNS = {
    PledgeKind.ANNUAL: "orgs_annual",
    PledgeKind.IMMEDIATE: "orgs_immediate",
    PledgeKind.TERM: "orgs_term",
}
RESULT_COLUMNS = {
    EvaluationResult.FULFILLED: "fulfilled",
    EvaluationResult.PARTLY: "partly",
    EvaluationResult.NOT_FULFILLED: "not_fulfilled",
}


def overdue_cutoff(year: int, today: datetime.date | None = None) -> datetime.date:
    """A pledge of `year` is overdue when its due date is before this day: today, or for a past
    year the day after its end (the figure of a closed year no longer moves with the date)."""
    today = today or timezone.localdate()
    return min(today, datetime.date(year + 1, 1, 1))


def _year_end(year: int) -> datetime.date:
    return Period.whole_year(year).end


def _pledged(year: int, **owner) -> QuerySet[Pledge]:
    return Pledge.objects.pledged().filter(year=year, **owner)


# ---------------------------------------------------------------- compute


def compute(period: Period, org_ids: list[int]) -> dict[int, dict[str, int]]:
    """{org_id: {column: n}} for `org_ids`' own records in the year: six grouped queries (the
    organisations, their own pledges, the members on their rolls, the pledges kept there, the
    overdue ones, the rectifications)."""
    year = period.year
    kinds = dict(
        Organization.objects.filter(pk__in=list(org_ids), is_active=True).values_list("pk", "kind")
    )
    if not kinds:
        return {}
    active = sorted(kinds)
    found: dict[int, dict[str, int]] = {}

    def add(org_id: int, column: str, n: int = 1) -> None:
        row = found.setdefault(org_id, {})
        row[column] = row.get(column, 0) + n

    owing = sorted(pk for pk, kind in kinds.items() if kind in OWN_PLEDGE_KINDS)
    own_kinds: dict[int, set[str]] = {}
    if owing:
        pledged = _pledged(year, owner_org_id__in=owing).order_by()
        for org_id, kind in pledged.values_list("owner_org_id", "kind").distinct():
            own_kinds.setdefault(org_id, set()).add(kind)
    for org_id in owing:
        add(org_id, "orgs_owed")
        made = own_kinds.get(org_id)
        add(org_id, "orgs_pledged" if made else "makeup_orgs")
        for kind in made or ():
            add(org_id, KIND_COLUMNS[kind])

    member = OuterRef("member_id")
    roll = (
        Membership.objects.on(_year_end(year))
        .filter(org_id__in=active)
        .alias(
            pledged=Exists(_pledged(year, owner_member=member)),
            oral=Exists(_pledged(year, owner_member=member, is_oral=True)),
            community=Exists(_pledged(year, owner_member=member, is_community=True)),
        )
        .order_by()
        .values("org_id")
        .annotate(
            members_owed=Count("member_id", distinct=True),
            members_pledged=Count("member_id", distinct=True, filter=Q(pledged=True)),
            members_oral=Count("member_id", distinct=True, filter=Q(oral=True)),
            members_community=Count("member_id", distinct=True, filter=Q(community=True)),
            makeup_members=Count("member_id", distinct=True, filter=Q(pledged=False)),
        )
    )
    for row in roll:
        for column, n in row.items():
            if column != "org_id":
                add(row["org_id"], column, n)

    kept = Pledge.objects.filter(year=year, org_id__in=active)
    evaluated = Q(status=PledgeStatus.EVALUATED)
    items = (
        kept.exclude(status=PledgeStatus.DRAFT)
        .order_by()
        .values("org_id")
        .annotate(
            items=Count("pk"),
            items_approved=Count("pk", filter=Q(status__in=PLEDGED)),
            items_published=Count("pk", filter=Q(status__in=PUBLIC)),
            **{
                column: Count("pk", filter=evaluated & Q(result=result))
                for result, column in RESULT_COLUMNS.items()
            },
        )
    )
    for row in items:
        for column, n in row.items():
            if column != "org_id":
                add(row["org_id"], column, n)

    late = kept.overdue(overdue_cutoff(year)).order_by().values("org_id").annotate(n=Count("pk"))
    for row in late:
        add(row["org_id"], "overdue", row["n"])

    closed = Q(status=RectificationStatus.CLOSED)
    rectifications = (
        Rectification.objects.filter(pledge__year=year, org_id__in=active)
        .order_by()
        .values("org_id")
        .annotate(rect_open=Count("pk", filter=~closed), rect_closed=Count("pk", filter=closed))
    )
    for row in rectifications:
        add(row["org_id"], "rect_open", row["rect_open"])
        add(row["org_id"], "rect_closed", row["rect_closed"])
    return found


# ---------------------------------------------------------------- names


def _link(route: str, *rest) -> Callable[[int], str]:
    """pk -> the URL of `route` for (pk, *rest), reversed once for a whole list."""
    sentinel = "987654321"
    prefix, suffix = reverse(route, args=[int(sentinel), *rest]).split(sentinel)
    return lambda pk: f"{prefix}{pk}{suffix}"


@dataclass(frozen=True)
class _Listing:
    """What a column counts for one organisation: the rows (of one model) and how to name them."""

    rows: QuerySet
    name: Callable[[QuerySet], list[Named]]


def _org_rows(period: Period, org: Organization, column: str) -> QuerySet[Organization]:
    orgs = Organization.objects.filter(pk=org.pk, is_active=True, kind__in=OWN_PLEDGE_KINDS)
    own = _pledged(period.year, owner_org=OuterRef("pk"))
    if column == "orgs_pledged":
        return orgs.filter(Exists(own))
    if column == "makeup_orgs":
        return orgs.filter(~Exists(own))
    for kind, kind_column in KIND_COLUMNS.items():
        if column == kind_column:
            return orgs.filter(Exists(own.filter(kind=kind)))
    return orgs


def _name_orgs(period: Period) -> Callable[[QuerySet], list[Named]]:
    def name(rows: QuerySet[Organization]) -> list[Named]:
        url = _link("pledges:year", period.year)
        return [Named(o.name, url(o.pk), o.get_kind_display()) for o in rows.order_by("lft", "pk")]

    return name


def _member_rows(period: Period, org: Organization, column: str) -> QuerySet[Member]:
    on_roll = Membership.objects.on(_year_end(period.year)).filter(
        member=OuterRef("pk"), org=org, org__is_active=True
    )
    members = Member.objects.filter(Exists(on_roll))
    pledged = _pledged(period.year, owner_member=OuterRef("pk"))
    return {
        "members_owed": members,
        "members_pledged": members.filter(Exists(pledged)),
        "members_oral": members.filter(Exists(pledged.filter(is_oral=True))),
        "members_community": members.filter(Exists(pledged.filter(is_community=True))),
        "makeup_members": members.filter(~Exists(pledged)),
    }[column]


def _name_members(period: Period) -> Callable[[QuerySet], list[Named]]:
    def name(rows: QuerySet[Member]) -> list[Named]:
        url = _link("orgs:member_detail")
        pledged = Exists(_pledged(period.year, owner_member=OuterRef("pk")))
        rows = rows.annotate(has_pledged=pledged).order_by("name", "pk")
        return [
            Named(m.name, url(m.pk), "已承诺" if m.has_pledged else "尚无经审定的承诺")
            for m in rows
        ]

    return name


def _pledge_rows(period: Period, org: Organization, column: str) -> QuerySet[Pledge]:
    kept = Pledge.objects.filter(year=period.year, org=org, org__is_active=True)
    if column == "overdue":
        return kept.overdue(overdue_cutoff(period.year))
    if column in RESULT_COLUMNS.values():
        result = next(r for r, c in RESULT_COLUMNS.items() if c == column)
        return kept.evaluated().filter(result=result)
    return {
        "items": kept.exclude(status=PledgeStatus.DRAFT),
        "items_approved": kept.pledged(),
        "items_published": kept.published(),
    }[column]


def _name_pledges(rows: QuerySet[Pledge]) -> list[Named]:
    url = _link("pledges:detail")
    rows = rows.select_related("owner_org", "owner_member").order_by("created_at", "pk")
    return [
        Named(
            f"{p.owner_name}：{p.content[:30]}",
            url(p.pk),
            f"{p.get_kind_display()}，{p.get_status_display()}，完成时限 {p.due_date:%Y-%m-%d}",
        )
        for p in rows
    ]


def _rectification_rows(period: Period, org: Organization, column: str) -> QuerySet:
    items = Rectification.objects.filter(pledge__year=period.year, org=org, org__is_active=True)
    if column == "rect_closed":
        return items.filter(status=RectificationStatus.CLOSED)
    return items.open()


def _name_rectifications(rows: QuerySet[Rectification]) -> list[Named]:
    url = _link("pledges:rectification")
    rows = rows.select_related("pledge__owner_org", "pledge__owner_member").order_by(
        "deadline", "pk"
    )
    return [
        Named(
            f"{r.pledge.owner_name}：{r.requirement[:30]}",
            url(r.pk),
            f"{r.get_status_display()}，整改期限 {r.deadline:%Y-%m-%d}",
        )
        for r in rows
    ]


ORG_COLUMNS = ("orgs_owed", "orgs_pledged", *KIND_COLUMNS.values(), "makeup_orgs")
MEMBER_COLUMNS = (
    "members_owed",
    "members_pledged",
    "members_oral",
    "members_community",
    "makeup_members",
)
PLEDGE_COLUMNS = ("items", "items_approved", "items_published", *RESULT_COLUMNS.values())
PLEDGE_COLUMNS += ("overdue",)
RECTIFICATION_COLUMNS = ("rect_open", "rect_closed")


def _listing(period: Period, org: Organization, column: str) -> tuple[str, _Listing]:
    """(what is listed, the listing) of one column; KeyError for a column this source lacks."""
    if column in ORG_COLUMNS:
        return "orgs", _Listing(_org_rows(period, org, column), _name_orgs(period))
    if column in MEMBER_COLUMNS:
        return "members", _Listing(_member_rows(period, org, column), _name_members(period))
    if column in PLEDGE_COLUMNS:
        return "pledges", _Listing(_pledge_rows(period, org, column), _name_pledges)
    if column in RECTIFICATION_COLUMNS:
        return "rectifications", _Listing(
            _rectification_rows(period, org, column), _name_rectifications
        )
    raise KeyError(column)


def names(period: Period, org: Organization, column: str) -> list[Named]:
    """What `org`'s own figure `column` counts for the year — organisations, members, pledges or
    rectifications, each linking to its page — so that their number equals the kept figure. An
    "owed-done" pair (e.g. "members_owed-members_pledged") lists those owed and not done. One
    query (two for members, which say whether each has pledged)."""
    owed, _, done = column.partition("-")
    what, listing = _listing(period, org, owed)
    rows = listing.rows
    if done:
        other, gone = _listing(period, org, done)
        if other != what:
            raise KeyError(column)
        rows = rows.exclude(pk__in=gone.rows.values("pk"))
    return listing.name(rows)


# ---------------------------------------------------------------- touches


def touch_pledges(pledges: Iterable[Pledge], *, rectification: Rectification | None = None) -> None:
    """The figures a change of these pledges (their state, progress, result, rectifications or
    organisation) may move are stale: for each pledge's year, where it is kept and where its
    owner is counted (the organisation itself; a member's roll at the year's end — now, for this
    year and later), and where the `rectification` changed is kept. Read the pledges with their
    owner member."""
    this_year = timezone.localdate().year
    by_year: dict[int, set[int]] = {}
    past: dict[int, set[int]] = {}  # year -> members whose roll of that year is asked for
    for pledge in pledges:
        ids = by_year.setdefault(pledge.year, set())
        ids.update(i for i in (pledge.org_id, pledge.owner_org_id) if i)
        if rectification is not None and rectification.pledge_id == pledge.pk:
            ids.add(rectification.org_id)
        if pledge.owner_member_id:
            ids.add(pledge.owner_member.org_id)
            if pledge.year < this_year:
                past.setdefault(pledge.year, set()).add(pledge.owner_member_id)
    for year, member_ids in past.items():
        rolls = Membership.objects.on(_year_end(year)).filter(member_id__in=sorted(member_ids))
        by_year[year].update(rolls.values_list("org_id", flat=True))
    for year, ids in by_year.items():
        figures.touch_period(ids, Period.whole_year(year), keys=("pledges",))


def register() -> None:
    register_figures(
        FigureSource(
            key="pledges",
            model=PledgeFigure,
            period_kind=YEAR,
            compute=compute,
            names=names,
            label="公开承诺",
        )
    )
