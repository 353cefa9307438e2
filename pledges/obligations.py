"""The deadlines this app owns and its obligation rules (who still owes what before each).

Each rule answers `gaps(period, org_ids)` for the reminders sweep (`org_ids` None: the whole
province) and for a page or the sender's recheck (`org_ids`: those organisations only). It is a
small fixed number of queries grouped by the organisation that owes the work and streamed, so it
costs the same whatever the size of the tree, and it never reads member or pledge rows into
Python. The rules are the pages' own:

- 年度公开承诺 (`pledge_window`, due at the end of the pledge window, an office setting): the
  members of each branch with no approved pledge of the year (`selectors.members_without_pledge`,
  the 补课 list), the organisations with none of their own (`selectors.orgs_without_pledge`), and
  the pledges waiting for their vetter (`selectors.vet_queue`: a member's pledge is vetted by the
  branch that keeps it, an organisation's by its parent). An organisation may owe more than one
  of these; each is its own gap, with the page where it is done.
  Nobody vets their own pledge (`access.can_vet_pledge`), so the pledge of a member who leads the
  vetting organisation (a secretary's or a deputy's own) is in every leader's queue but the
  owner's. A gap reaches all the organisation's leaders alike, so such pledges are not in its
  "N 项公开承诺待审核" (which is then each leader's queue less the others' own pledges) but a gap
  of their own that says whose they are and who vets them: "1 项书记本人的公开承诺待副书记审核".
  The deputy's queue is the two together; the secretary's is the first, and the second tells
  them the work is someone else's (or nobody's, where the organisation has no other leader).
- 党员承诺季度兑现情况 / 党组织承诺半年兑现情况: the pledges that take a fulfilment report
  (approved or published — `Pledge.is_active`, the pledges the fulfilment form is offered for)
  whose latest report does not already say done or cannot be done, and with no report for the
  period; owed by the organisation that keeps the pledge (`Pledge.org`, whose secretary reports:
  `access.can_edit_pledge`).
- 书记公开承诺书: an organisation with a secretary whose letter of the year is not signed and
  submitted (none, a draft, or returned); 书记践诺季度报告: an approved letter with no report for
  the quarter. Both are the secretary's own work.

Deactivated organisations owe nothing. A member is counted where the roll keeps them now
(`Member.org`, which follows every transfer), as the pages count them; a pledge where it is kept.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse

from orgs.access import LEADING
from orgs.deadlines import DeadlineKind, Gap, register_deadline
from orgs.models import (
    Member,
    OfficeSetting,
    Organization,
    OrganizationUserObjectPermission,
    OrgKind,
    Role,
)
from orgs.periods import HALF, QUARTER, YEAR, Period
from pledges.models import (
    Fulfilment,
    Pledge,
    Progress,
    SecretaryPledge,
    SecretaryPledgeStatus,
    SecretaryReport,
)
from pledges.services import PLEDGE_WINDOW

CHUNK = 5000  # rows per fetch of a streamed grouped query
# the organisations that make pledges of their own (selectors.orgs_without_pledge)
OWN_PLEDGE_KINDS = (OrgKind.COMMITTEE, OrgKind.GENERAL_BRANCH, OrgKind.BRANCH)
# a pledge whose latest report says done, or cannot be done, waits for its 评诺, not for reports
SETTLED = (Progress.DONE, Progress.CANNOT)
SENT_LETTER = (SecretaryPledgeStatus.SUBMITTED, SecretaryPledgeStatus.APPROVED)


# ---------------------------------------------------------------- shared SQL helpers


def _only(queryset: QuerySet, org_ids: Iterable[int] | None, field: str = "org_id") -> QuerySet:
    """`queryset` restricted to the organisations `org_ids` (through `field`); all when None."""
    if org_ids is None:
        return queryset
    return queryset.filter(**{f"{field}__in": sorted(org_ids)})


def _per_org(queryset: QuerySet, key: str = "org_id") -> Iterator[tuple[int, int]]:
    """(organisation id, number of rows) for each organisation `key` names in `queryset`, the
    largest first: one GROUP BY query, streamed.

    The order by the count is what makes it fast: a streamed query is a server-side cursor on
    PostgreSQL, for which the planner favours a plan that yields its first rows early (walking
    every member or pledge by index in organisation order, 3× slower over a province) unless the
    whole result has to be counted before the first row, as a sort on the count needs."""
    return (
        queryset.order_by()
        .values(key)
        .annotate(n=Count("pk"))
        .order_by("-n", key)
        .values_list(key, "n")
        .iterator(chunk_size=CHUNK)
    )


def _unreported(pledges: QuerySet, period: Period) -> QuerySet:
    """The pledges of `pledges` that take a fulfilment report and have none for `period`."""
    reported = Fulfilment.objects.filter(
        pledge=OuterRef("pk"), year=period.year, period=period.number
    )
    return (
        pledges.active()
        .filter(year=period.year, org__is_active=True)
        .exclude(progress__in=SETTLED)
        .filter(~Exists(reported))
    )


def _links(route: str, *rest) -> Callable[[int], str]:
    """pk -> the URL of `route` for (pk, *rest), reversed once: a sweep makes one per gap, and
    reversing 100,000 times would cost more than the queries."""
    sentinel = "987654321"
    prefix, suffix = reverse(route, args=[int(sentinel), *rest]).split(sentinel)
    return lambda pk: f"{prefix}{pk}{suffix}"


def _none_asked(org_ids) -> bool:
    return org_ids is not None and not org_ids


# ---------------------------------------------------------------- 年度公开承诺


def members_without_pledge_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    """Per branch: its members with no approved pledge of the year (one grouped query)."""
    if _none_asked(org_ids):
        return
    pledged = Pledge.objects.pledged().filter(owner_member=OuterRef("pk"), year=period.year)
    members = _only(Member.objects.filter(org__is_active=True).filter(~Exists(pledged)), org_ids)
    url = _links("pledges:year", period.year)
    for org_id, n in _per_org(members):
        yield Gap(org_id, n, f"{n} 名党员尚无经审定的公开承诺", url(org_id))


def orgs_without_pledge_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    """The organisations with no approved pledge of their own this year (one query)."""
    if _none_asked(org_ids):
        return
    pledged = Pledge.objects.pledged().filter(owner_org=OuterRef("pk"), year=period.year)
    orgs = _only(
        Organization.objects.filter(kind__in=OWN_PLEDGE_KINDS, is_active=True).filter(
            ~Exists(pledged)
        ),
        org_ids,
        "pk",
    )
    url = _links("pledges:year", period.year)
    for org_id in orgs.order_by().values_list("pk", flat=True).iterator(chunk_size=CHUNK):
        yield Gap(org_id, 1, "本组织尚无经审定的公开承诺", url(org_id))


def _awaiting_parents(submitted: QuerySet, org_ids: set[int] | None) -> dict[int, int]:
    """Per parent organisation: its children's own pledges waiting for it to vet them."""
    of_orgs = submitted.filter(owner_org__isnull=False)
    if org_ids is None:
        return dict(_per_org(of_orgs.filter(org__parent__is_active=True), key="org__parent_id"))
    # the children first (one small query), so that their pledges are found by the (year, org,
    # status) index rather than by joining the tree, as the vetting queue reads them
    parent_of = dict(
        Organization.objects.filter(
            parent_id__in=sorted(org_ids), is_active=True, parent__is_active=True
        ).values_list("pk", "parent_id")
    )
    waiting: dict[int, int] = {}
    if parent_of:
        for child, n in _per_org(of_orgs.filter(org_id__in=sorted(parent_of))):
            waiting[parent_of[child]] = waiting.get(parent_of[child], 0) + n
    return waiting


# a leader's own pledge waiting for the others (the URL keeps each gap apart from the queue's
# own gap for the sender's recheck, which matches an item by organisation and page)
OWN_PLEDGE_GAP = {
    (True, True): ("书记本人的公开承诺待副书记审核", "#own-secretary"),
    (False, True): ("副书记本人的公开承诺待书记或其他副书记审核", "#own-deputy"),
    (True, False): ("书记本人的公开承诺无人可以审核（本组织没有副书记）", "#own-secretary"),
    (False, False): (
        "副书记本人的公开承诺无人可以审核（本组织没有其他书记、副书记）",
        "#own-deputy",
    ),
}


def _leaders_own(members: QuerySet) -> list[tuple[int, bool, bool, int]]:
    """(organisation, owner is its secretary, it has another leader, pledges) for the pledges of
    `members` whose owner leads the organisation that vets them, as the role grants read by the
    sweep say (an active user holding secretary or deputy there; one grouped query, over the
    few pledges of members who have a login)."""
    grants = OrganizationUserObjectPermission.objects.filter(
        content_object_id=OuterRef("org_id"), user__is_active=True
    )
    owners = grants.filter(user_id=OuterRef("owner_member__user_id"))
    own = (
        members.filter(owner_member__user__isnull=False)
        .annotate(
            as_secretary=Exists(owners.filter(permission__codename=Role.SECRETARY.codename)),
            as_deputy=Exists(owners.filter(permission__codename=Role.DEPUTY.codename)),
            others=Exists(
                grants.filter(
                    permission__codename__in=sorted(Role(r).codename for r in LEADING)
                ).exclude(user_id=OuterRef("owner_member__user_id"))
            ),
        )
        .filter(Q(as_secretary=True) | Q(as_deputy=True))
    )
    return list(
        own.order_by()
        .values("org_id", "as_secretary", "others")
        .annotate(n=Count("pk"))
        .order_by("org_id", "-as_secretary")
        .values_list("org_id", "as_secretary", "others", "n")
    )


def vetting_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    """Per vetting organisation: the year's pledges waiting for it (three grouped queries; four
    for given organisations). A member's pledge waits for the branch that keeps it, an
    organisation's for its parent; a pledge of one of the vetting organisation's own leaders
    waits for the others and is a gap of its own (see the module text)."""
    if _none_asked(org_ids):
        return
    submitted = Pledge.objects.awaiting_vetting().filter(year=period.year, org__is_active=True)
    of_children = _awaiting_parents(submitted, org_ids)  # at most one row per organisation
    url = reverse("pledges:vet_queue")
    members = _only(submitted.filter(owner_member__isnull=False), org_ids)
    leaders_own = _leaders_own(members)  # a few rows per organisation at most
    set_aside = Counter()
    for org_id, _secretary, _others, n in leaders_own:
        set_aside[org_id] += n
    for org_id, n in _per_org(members):
        n += of_children.pop(org_id, 0) - set_aside[org_id]
        if n:
            yield Gap(org_id, n, f"{n} 项公开承诺待审核", url)
    for org_id, n in of_children.items():
        yield Gap(org_id, n, f"{n} 项公开承诺待审核", url)
    for org_id, secretary, others, n in leaders_own:
        text, anchor = OWN_PLEDGE_GAP[(secretary, others)]
        yield Gap(org_id, n, f"{n} 项{text}", url + anchor)


def pledge_window_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    yield from members_without_pledge_gaps(period, org_ids)
    yield from orgs_without_pledge_gaps(period, org_ids)
    yield from vetting_gaps(period, org_ids)


def window_dates(year: int) -> list[tuple[Organization, datetime.date]]:
    """The end of every pledge window an office set for `year`, where it was set (one query)."""
    rows = OfficeSetting.objects.filter(key=PLEDGE_WINDOW.key, year=year).select_related("org")
    return [(row.org, PLEDGE_WINDOW.load(row.value).end) for row in rows]


def window_url(org: Organization, year: int) -> str:
    return reverse("pledges:window", args=[org.pk]) + f"?year={year}"


# ---------------------------------------------------------------- 承诺兑现情况


def member_fulfilment_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    """Per organisation keeping members' pledges: those with no report for the quarter."""
    if _none_asked(org_ids):
        return
    owed = _only(_unreported(Pledge.objects.filter(owner_member__isnull=False), period), org_ids)
    url = _links("pledges:year", period.year)
    for org_id, n in _per_org(owed):
        yield Gap(org_id, n, f"{n} 项党员承诺未填报{period.short_label}兑现情况", url(org_id))


def org_fulfilment_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    """Per organisation: its own pledges with no report for the half-year."""
    if _none_asked(org_ids):
        return
    owed = _only(_unreported(Pledge.objects.filter(owner_org__isnull=False), period), org_ids)
    url = _links("pledges:year", period.year)
    for org_id, n in _per_org(owed):
        yield Gap(org_id, n, f"{n} 项本组织承诺未填报{period.short_label}兑现情况", url(org_id))


# ---------------------------------------------------------------- 书记公开承诺书


LETTER_GAP_TEXT = {
    None: "尚未填写书记公开承诺书",
    SecretaryPledgeStatus.DRAFT: "书记公开承诺书尚未签字提交",
    SecretaryPledgeStatus.RETURNED: "书记公开承诺书已退回修改，尚未重新提交",
}


def secretary_letter_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    """The organisations with a secretary and no letter of the year signed and submitted (one
    query: each with its letter's state)."""
    if _none_asked(org_ids):
        return
    letter = SecretaryPledge.objects.filter(org=OuterRef("pk"), year=period.year)
    orgs = _only(
        Organization.objects.filter(is_active=True, secretary__isnull=False)
        .annotate(letter=Subquery(letter.values("status")[:1]))
        .filter(Q(letter__isnull=True) | ~Q(letter__in=SENT_LETTER)),
        org_ids,
        "pk",
    )
    url = _links("pledges:secretary_pledge", period.year)
    rows = orgs.order_by().values_list("pk", "letter").iterator(chunk_size=CHUNK)
    for org_id, state in rows:
        yield Gap(org_id, 1, LETTER_GAP_TEXT[state], url(org_id))


def secretary_report_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    """The approved letters of the year with no report for the quarter (one query)."""
    if _none_asked(org_ids):
        return
    reported = SecretaryReport.objects.filter(pledge=OuterRef("pk"), quarter=period.number)
    letters = _only(
        SecretaryPledge.objects.filter(
            year=period.year, status=SecretaryPledgeStatus.APPROVED, org__is_active=True
        ).filter(~Exists(reported)),
        org_ids,
    )
    url = _links("pledges:secretary_report")
    text = f"书记公开承诺{period.short_label}落实情况尚未报送"
    rows = letters.order_by().values_list("org_id", "pk").iterator(chunk_size=CHUNK)
    for org_id, letter_id in rows:
        yield Gap(org_id, 1, text, url(letter_id))


# ---------------------------------------------------------------- the kinds


PLEDGE_WINDOW_KIND = DeadlineKind(
    key="pledge_window",
    label="年度公开承诺",
    period_kind=YEAR,
    default_due=lambda p: PLEDGE_WINDOW.default(p.year).end,
    gaps=pledge_window_gaps,
    source="兵创先组发〔2011〕3号 三.1（年度承诺在每年1-3月提出）",
    setting_dates=window_dates,
    setting_url=window_url,
    order=20,
)
MEMBER_FULFILMENT_KIND = DeadlineKind(
    key="member_fulfilment",
    label="党员承诺季度兑现情况",
    period_kind=QUARTER,
    default_due=lambda p: p.end,
    gaps=member_fulfilment_gaps,
    source="黑创先办[2010]12号 四.2；浙创先发〔2010〕18号 三.5 督诺（每季度）",
    order=30,
)
ORG_FULFILMENT_KIND = DeadlineKind(
    key="org_fulfilment",
    label="党组织承诺半年兑现情况",
    period_kind=HALF,
    default_due=lambda p: p.end,
    gaps=org_fulfilment_gaps,
    source="黑创先办[2010]12号 四.2（上级党委对基层党组织每半年进行一次写实）",
    order=40,
)
SECRETARY_LETTER_KIND = DeadlineKind(
    key="secretary_letter",
    label="书记公开承诺书",
    period_kind=YEAR,
    default_due=lambda p: datetime.date(p.year, 1, 31),
    gaps=secretary_letter_gaps,
    roles=(Role.SECRETARY,),
    source="豫创组发〔2010〕22号 三.一（1月底前）；校创组发〔2010〕4号 二",
    order=10,
)
SECRETARY_REPORT_KIND = DeadlineKind(
    key="secretary_report",
    label="书记践诺季度报告",
    period_kind=QUARTER,
    default_due=lambda p: p.end,
    gaps=secretary_report_gaps,
    roles=(Role.SECRETARY,),
    source="豫创组发〔2010〕22号 三.二（每季度结束前）；校创组发〔2010〕4号 二",
    order=45,
)
KINDS = (
    SECRETARY_LETTER_KIND,
    PLEDGE_WINDOW_KIND,
    MEMBER_FULFILMENT_KIND,
    ORG_FULFILMENT_KIND,
    SECRETARY_REPORT_KIND,
)


def register() -> None:
    """Declare this app's deadline kinds (called once from the AppConfig)."""
    for kind in KINDS:
        register_deadline(kind)
