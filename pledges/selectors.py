"""Reads of pledges: for the pledge pages (every list scoped through pledges.access /
orgs.access), and the read API the ledgers and statistics build on (`pledges_of_year`,
`open_rectifications`, `pledge_counts_by_org`, the letters). They return querysets, numbers and
dataclass rows; the templates format them."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
)
from django.urls import reverse
from django.utils import timezone

from orgs import access as org_access
from orgs.access import LEADING, grants_for
from orgs.models import Member, Organization, OrgKind
from orgs.periods import HALF, QUARTER, Period
from orgs.rectifications import RectificationRow
from pledges import access
from pledges.models import (
    ACTIVE,
    EDITABLE,
    PLEDGED,
    PUBLIC,
    Fulfilment,
    Pledge,
    PledgeEvent,
    PledgeStatus,
    Rectification,
    SecretaryPledge,
)

# The organisations that make pledges of their own and need a 补课 without one.
OWN_PLEDGE_KINDS = (OrgKind.COMMITTEE, OrgKind.GENERAL_BRANCH, OrgKind.BRANCH)
# A home-page badge counts this far and then says "999+".
TODO_COUNT_CAP = 999
# what a branch secretary should look at first, most urgent first
URGENCY = {
    "overdue": 0,
    "returned": 1,
    "submitted": 2,
    "none": 3,
    "draft": 4,
    "approved": 5,
    "published": 6,
    "evaluated": 7,
}
NEEDS_LABELS = {
    "overdue": "超期未完成",
    "returned": "退回修改",
    "submitted": "待审核",
    "none": "尚未承诺",
    "draft": "草稿",
    "approved": "待公示",
    "published": "已公示",
    "evaluated": "已评诺",
}


# ---------------------------------------------------------------- the branch's year


@dataclass
class MemberYear:
    member: Member
    pledges: list[Pledge] = field(default_factory=list)
    needs: str = "none"  # a key of URGENCY

    @property
    def urgency(self) -> int:
        return URGENCY[self.needs]

    @property
    def needs_label(self) -> str:
        return NEEDS_LABELS[self.needs]

    @property
    def has_pledged(self) -> bool:
        return any(p.is_pledged for p in self.pledges)


def _needs(pledges: list[Pledge], today: datetime.date) -> str:
    if not pledges:
        return "none"
    if any(p.is_overdue(today) for p in pledges):
        return "overdue"
    return min((p.status for p in pledges), key=lambda s: URGENCY[s])


def branch_year(*, org: Organization, year: int, today: datetime.date) -> dict:
    """The branch's year at a glance: each member with their pledges, the most urgent first.

    Five queries whatever the size of the branch: the branch's member pledges, its members'
    community pledges elsewhere, the members, the organisation's own pledges and the open
    rectifications.
    """
    # The branch's pledges: a member who moved away keeps the pledges made here, and a member of
    # another branch may pledge here towards their residential community.
    member_pledges = list(
        Pledge.objects.filter(year=year, org=org, owner_member__isnull=False).order_by("created_at")
    ) + list(  # two index lookups rather than one OR across a join
        Pledge.objects.filter(year=year, is_community=True, owner_member__org=org).order_by(
            "created_at"
        )
    )
    owners = {p.owner_member_id for p in member_pledges}
    members = Member.objects.filter(Q(org=org) | Q(pk__in=owners)).order_by("name", "pk")
    by_member = {m.pk: MemberYear(m) for m in members}
    for pledge in member_pledges:
        row = by_member[pledge.owner_member_id]
        pledge.owner_member = row.member
        row.pledges.append(pledge)
    rows = list(by_member.values())
    for row in rows:
        row.needs = _needs(row.pledges, today)
    rows.sort(key=lambda r: (r.urgency, r.member.name))
    own = list(Pledge.objects.filter(year=year, owner_org=org).order_by("created_at"))
    open_rectifications = list(
        Rectification.objects.filter(org=org).open().select_related("pledge").order_by("deadline")
    )
    counts = {key: sum(1 for r in rows if r.needs == key) for key in URGENCY}
    return {
        "rows": rows,
        "own": own,
        "own_needs": _needs(own, today),
        "rectifications": open_rectifications,
        "counts": counts,
        "pledged": sum(1 for r in rows if r.has_pledged),
    }


# ---------------------------------------------------------------- lists


def vet_queue(*, user) -> QuerySet[Pledge]:
    """Submitted pledges this user vets: organisations under theirs, members of their branch.

    The organisations are listed first (one small query) so that the pledges are found by the
    (org, status) index rather than by joining the tree.
    """
    leading = [g.org_id for g in grants_for(user) if g.role in LEADING]
    children = list(Organization.objects.filter(parent_id__in=leading).values_list("pk", flat=True))
    return (
        Pledge.objects.awaiting_vetting()
        .filter(
            Q(org_id__in=children, owner_org__isnull=False)
            | Q(org_id__in=leading, owner_member__isnull=False)
        )
        .exclude(owner_member__user_id=user.pk)
        .select_related("org", "owner_org", "owner_member")
        .order_by("created_at", "pk")
    )


def overdue(*, user, within: Organization | None, today: datetime.date) -> QuerySet[Pledge]:
    pledges = access.pledges_visible_to(user).overdue(today)
    if within is not None:
        pledges = pledges.filter(within.subtree_q("org__"))
    return pledges.select_related("org", "owner_org", "owner_member").order_by("due_date", "pk")


def members_without_pledge(*, user, within: Organization, year: int) -> QuerySet[Member]:
    """Members in the subtree with no approved pledge this year: they need a 补课."""
    pledged = Pledge.objects.pledged().filter(owner_member=OuterRef("pk"), year=year)
    return (
        org_access.members_visible_to(user)
        .filter(within.subtree_q("org__"))
        .filter(~Exists(pledged))
        .select_related("org")
        .order_by("org__lft", "name", "pk")
    )


def orgs_without_pledge(*, user, within: Organization, year: int) -> QuerySet[Organization]:
    pledged = Pledge.objects.pledged().filter(owner_org=OuterRef("pk"), year=year)
    return (
        org_access.orgs_visible_to(user)
        .filter(within.subtree_q(), kind__in=OWN_PLEDGE_KINDS, is_active=True)
        .filter(~Exists(pledged))
        .order_by("lft")
    )


def active_org_by_code(*, code: str) -> Organization | None:
    """An active organisation by its exact code (any case), whoever asks: the public notice
    board and the residential community a member pledges to (which may lie outside the user's
    scope). Nothing is trimmed: a code wrapped in other characters names no organisation."""
    return Organization.objects.filter(code=code.upper(), is_active=True).first()


def public_notice(*, org: Organization, year: int) -> dict:
    own = Pledge.objects.published().filter(owner_org=org, year=year).order_by("pk")
    members = (
        Pledge.objects.published()
        .filter(org=org, owner_member__isnull=False, year=year)
        .select_related("owner_member")
        .order_by("owner_member__name", "pk")
    )
    return {"own": list(own), "members": list(members)}


def rectifications_for(*, user, within: Organization | None) -> QuerySet[Rectification]:
    """The rectifications the user may read, of the subtree `within` when given."""
    items = access.rectifications_visible_to(user)
    if within is not None:
        items = items.filter(within.subtree_q("org__"))
    return items.select_related(
        "pledge", "pledge__owner_member", "pledge__owner_org", "org"
    ).order_by("status", "deadline", "pk")


def rectification_rows(items: Iterable[Rectification]) -> list[RectificationRow]:
    """Pledge rectifications in the row shape both kinds share (select the pledge, its owner and
    the org with them)."""
    return [
        RectificationRow(
            source="pledge",
            pk=item.pk,
            org=item.org,
            member=item.pledge.owner_member,
            subject_name=item.pledge.owner_name,
            requirement=item.requirement,
            deadline=item.deadline,
            status=item.status,
            response=item.response,
            url=reverse("pledges:rectification", args=[item.pk]),
        )
        for item in items
    ]


def capped_count(queryset: QuerySet, *, cap: int | None = None) -> tuple[int, bool]:
    """How many rows, counting no further than `cap`: (cap, True) means "more than cap". A to-do
    badge needs no exact figure past that, and the count then stops early at any scale."""
    cap = TODO_COUNT_CAP if cap is None else cap
    counted = queryset.order_by()[: cap + 1].count()
    return min(counted, cap), counted > cap


def returned_count(*, user) -> int:
    """How many pledges the home page's "退回修改的承诺" lists: exactly those of pledges_of(user=user,
    status=returned), counted as two index lookups (the pledges the user entered, those of the
    user's own record) instead of an OR across the join to members, which reads every pledge."""
    revised = access.pledges_visible_to(user).filter(status=PledgeStatus.RETURNED)
    return (
        revised.filter(created_by_id=user.pk)
        .values("pk")
        .union(revised.filter(owner_member__user_id=user.pk).values("pk"))
        .count()
    )


def open_rectifications_for(*, user) -> QuerySet[Rectification]:
    """The open rectifications of rectifications_for(user=user, within=None), for counting."""
    return rectifications_for(user=user, within=None).open()


def pledges_of(*, user, member=None, status: str = "") -> QuerySet[Pledge]:
    """A member's pledges (all years), or the pledges the user made or owns; `status` keeps
    only those in that state (the home page's "退回修改的承诺" opens the returned ones)."""
    pledges = access.pledges_visible_to(user)
    if member is not None:
        pledges = pledges.filter(owner_member=member)
    else:
        pledges = pledges.filter(Q(owner_member__user_id=user.pk) | Q(created_by=user))
    if status:
        pledges = pledges.filter(status=status)
    return pledges.select_related("org", "owner_org", "owner_member").order_by(
        "-year", "-created_at"
    )


def return_reason(*, pledge: Pledge) -> PledgeEvent | None:
    """The vetter's latest 退回修改 of a pledge that is being revised (who, when, why), shown
    above the edit form and on the pledge page; None when it is not being revised."""
    if not pledge.is_editable:
        return None
    return (
        PledgeEvent.objects.filter(pledge=pledge, action="return")
        .select_related("actor")
        .order_by("-at", "-id")
        .first()
    )


# ---------------------------------------------------------------- secretaries' pledge letters


def letter_of(*, org: Organization, year: int) -> SecretaryPledge | None:
    """The organisation's secretary pledge letter of the year, if written."""
    letter = (
        SecretaryPledge.objects.select_related("member", "upper_by")
        .filter(org=org, year=year)
        .first()
    )
    if letter is not None:
        letter.org = org  # the access checks read it; it is the row the page already holds
    return letter


def letters_within(*, org: Organization, year: int) -> QuerySet[SecretaryPledge]:
    """台账: every secretary's letter of the year in the subtree, with its quarterly reports."""
    return (
        SecretaryPledge.objects.filter(org.subtree_q("org__"), year=year)
        .select_related("org", "member")
        .prefetch_related("reports")
        .order_by("org__lft")
    )


# ---------------------------------------------------------------- the read API for other apps


@dataclass(frozen=True)
class PeriodFulfilment:
    """One reporting period of a pledge and its 承诺兑现情况 (None: not reported)."""

    period: Period
    fulfilment: Fulfilment | None


@dataclass(frozen=True)
class PledgeRecord:
    """A pledge with its fulfilment in every reporting period of its year, in order."""

    pledge: Pledge
    periods: list[PeriodFulfilment]

    @property
    def reported(self) -> list[Fulfilment]:
        return [p.fulfilment for p in self.periods if p.fulfilment is not None]


def pledges_of_year(
    *,
    year: int,
    member: Member | None = None,
    org: Organization | None = None,
    include_unvetted: bool = False,
) -> list[PledgeRecord]:
    """The year's pledges of a member (wherever made) or of an organisation (its own pledges,
    not its members'), oldest first, each with its fulfilment per period: quarters for a member,
    half-years for an organisation. Pledged ones only (approved onwards) unless
    `include_unvetted`. Two queries: the pledges, and their fulfilment reports."""
    if (member is None) == (org is None):
        raise TypeError("pledges_of_year needs exactly one of member and org")
    owner = member if member is not None else org
    found = pledge_records_by_owner(
        year=year,
        member_ids=[member.pk] if member is not None else None,
        org_ids=[org.pk] if org is not None else None,
        include_unvetted=include_unvetted,
    )
    return found.get(owner.pk, [])


def pledge_records_by_owner(
    *,
    year: int,
    member_ids: Iterable[int] | None = None,
    org_ids: Iterable[int] | None = None,
    include_unvetted: bool = False,
) -> dict[int, list[PledgeRecord]]:
    """`pledges_of_year` for many members (or many organisations) at once, by the owner's pk.
    Two queries however many owners."""
    if (member_ids is None) == (org_ids is None):
        raise TypeError("pledge_records_by_owner needs exactly one of member_ids and org_ids")
    pledges = Pledge.objects.filter(year=year)
    if member_ids is not None:
        pledges = pledges.filter(owner_member_id__in=list(member_ids))
    else:
        pledges = pledges.filter(owner_org_id__in=list(org_ids), owner_member__isnull=True)
    if not include_unvetted:
        pledges = pledges.pledged()
    pledges = (
        pledges.select_related("org", "owner_org", "owner_member")
        .prefetch_related(
            Prefetch("fulfilments", queryset=Fulfilment.objects.order_by("year", "period"))
        )
        .order_by("created_at", "pk")
    )
    found: dict[int, list[PledgeRecord]] = {}
    for pledge in pledges:
        reports = {f.period: f for f in pledge.fulfilments.all()}
        periods = [PeriodFulfilment(p, reports.get(p.number)) for p in pledge.periods()]
        owner = pledge.owner_member_id if member_ids is not None else pledge.owner_org_id
        found.setdefault(owner, []).append(PledgeRecord(pledge=pledge, periods=periods))
    return found


def open_rectifications(
    *, org: Organization | None = None, member: Member | None = None, year: int
) -> list[RectificationRow]:
    """Rectifications of the year's pledges not yet closed (整改中 or reported), earliest deadline
    first: those kept in `org`'s subtree, and/or those over `member`'s pledges. One query."""
    items = Rectification.objects.open().filter(pledge__year=year)
    if org is not None:
        items = items.filter(org.subtree_q("org__"))
    if member is not None:
        items = items.filter(pledge__owner_member=member)
    items = items.select_related(
        "org", "pledge", "pledge__owner_member", "pledge__owner_org"
    ).order_by("deadline", "pk")
    return rectification_rows(items)


@dataclass
class StatusCounts:
    """How many pledges are in each status, and the groups the pages and tables use."""

    by_status: dict[str, int] = field(default_factory=dict)

    def _sum(self, statuses: Iterable[str]) -> int:
        return sum(self.by_status.get(status, 0) for status in statuses)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def editable(self) -> int:
        return self._sum(EDITABLE)

    @property
    def awaiting_vetting(self) -> int:
        return self._sum([PledgeStatus.SUBMITTED])

    @property
    def awaiting_publication(self) -> int:
        return self._sum([PledgeStatus.APPROVED])

    @property
    def active(self) -> int:
        return self._sum(ACTIVE)

    @property
    def pledged(self) -> int:
        return self._sum(PLEDGED)

    @property
    def published(self) -> int:
        return self._sum(PUBLIC)

    @property
    def evaluated(self) -> int:
        return self._sum([PledgeStatus.EVALUATED])


@dataclass
class PledgeCounts:
    """One organisation's pledge figures for a year, counted where the pledges are kept
    (`Pledge.org`: the member's branch, the community, or the organisation itself)."""

    org_id: int
    member_pledges: StatusCounts = field(default_factory=StatusCounts)
    org_pledges: StatusCounts = field(default_factory=StatusCounts)
    # fulfilment reports per period: quarters for members' pledges, half-years for organisations'
    fulfilment_reported: dict[Period, int] = field(default_factory=dict)
    overdue: int = 0
    open_rectifications: int = 0


def pledge_counts_by_org(
    *, year: int, within: Organization, today: datetime.date | None = None
) -> dict[int, PledgeCounts]:
    """Per organisation of `within`'s subtree, its pledge figures for the year (overdue as of
    `today`). Four grouped queries whatever the size of the subtree: pledges by status and owner
    kind, fulfilment reports by period, overdue pledges, open rectifications. An organisation
    with nothing to count is absent (all its figures are 0)."""
    today = today or timezone.localdate()
    in_subtree = within.subtree_q("org__")
    counts: dict[int, PledgeCounts] = {}

    def of(org_id: int) -> PledgeCounts:
        return counts.setdefault(org_id, PledgeCounts(org_id))

    is_member = ExpressionWrapper(Q(owner_member__isnull=False), output_field=BooleanField())
    pledges = Pledge.objects.filter(in_subtree, year=year)
    grouped = (
        pledges.annotate(is_member=is_member)
        .values("org_id", "status", "is_member")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in grouped:
        group = (
            of(row["org_id"]).member_pledges if row["is_member"] else of(row["org_id"]).org_pledges
        )
        group.by_status[row["status"]] = row["n"]

    reported = (
        Fulfilment.objects.filter(in_subtree, year=year)
        .annotate(
            is_member=ExpressionWrapper(
                Q(pledge__owner_member__isnull=False), output_field=BooleanField()
            )
        )
        .values("org_id", "period", "is_member")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in reported:
        period = Period(year, QUARTER if row["is_member"] else HALF, row["period"])
        of(row["org_id"]).fulfilment_reported[period] = row["n"]

    late = pledges.overdue(today).values("org_id").annotate(n=Count("pk")).order_by()
    for row in late:
        of(row["org_id"]).overdue = row["n"]

    still_open = (
        Rectification.objects.open()
        .filter(in_subtree, pledge__year=year)
        .values("org_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in still_open:
        of(row["org_id"]).open_rectifications = row["n"]
    return counts
