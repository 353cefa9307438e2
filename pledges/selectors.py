"""Reads for the pledge pages; every list is scoped through pledges.access / orgs.access."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q, QuerySet

from orgs import access as org_access
from orgs.access import LEADING, Action, grants_for
from orgs.models import Member, Organization
from pledges.access import pledges_visible_to
from pledges.models import Pledge, PledgeEvent, PledgeStatus, Rectification, RectificationStatus

# A home-page badge counts this far and then says "999+".
TODO_COUNT_CAP = 999
PLEDGED = (PledgeStatus.APPROVED, PledgeStatus.PUBLISHED, PledgeStatus.EVALUATED)
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


@dataclass
class MemberYear:
    member: Member
    pledges: list[Pledge] = field(default_factory=list)
    needs: str = "none"

    @property
    def urgency(self) -> int:
        return URGENCY[self.needs]


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
        Rectification.objects.filter(org=org)
        .exclude(status=RectificationStatus.CLOSED)
        .select_related("pledge")
        .order_by("deadline")
    )
    counts = {key: sum(1 for r in rows if r.needs == key) for key in URGENCY}
    return {
        "rows": rows,
        "own": own,
        "own_needs": _needs(own, today),
        "rectifications": open_rectifications,
        "counts": counts,
        "pledged": sum(1 for r in rows if any(p.status in PLEDGED for p in r.pledges)),
    }


def vet_queue(*, user) -> QuerySet[Pledge]:
    """Submitted pledges this user vets: organisations under theirs, members of their branch.

    The organisations are listed first (one small query) so that the pledges are found by the
    (org, status) index rather than by joining the tree.
    """
    leading = [g.org_id for g in grants_for(user) if g.role in LEADING]
    children = list(Organization.objects.filter(parent_id__in=leading).values_list("pk", flat=True))
    return (
        Pledge.objects.filter(status=PledgeStatus.SUBMITTED)
        .filter(
            Q(org_id__in=children, owner_org__isnull=False)
            | Q(org_id__in=leading, owner_member__isnull=False)
        )
        .exclude(owner_member__user_id=user.pk)
        .select_related("org", "owner_org", "owner_member")
        .order_by("created_at", "pk")
    )


def overdue(*, user, within: Organization | None, today: datetime.date) -> QuerySet[Pledge]:
    pledges = pledges_visible_to(user).overdue(today)
    if within is not None:
        pledges = pledges.filter(within.subtree_q("org__"))
    return pledges.select_related("org", "owner_org", "owner_member").order_by("due_date", "pk")


def members_without_pledge(*, user, within: Organization, year: int) -> QuerySet[Member]:
    """Members in the subtree with no approved pledge this year: they need a 补课."""
    pledged = Pledge.objects.filter(owner_member=OuterRef("pk"), year=year, status__in=PLEDGED)
    return (
        org_access.members_visible_to(user)
        .filter(within.subtree_q("org__"))
        .filter(~Exists(pledged))
        .select_related("org")
        .order_by("org__lft", "name", "pk")
    )


def orgs_without_pledge(*, user, within: Organization, year: int) -> QuerySet[Organization]:
    pledged = Pledge.objects.filter(owner_org=OuterRef("pk"), year=year, status__in=PLEDGED)
    return (
        org_access.orgs_visible_to(user)
        .filter(
            within.subtree_q(), kind__in=["committee", "general_branch", "branch"], is_active=True
        )
        .filter(~Exists(pledged))
        .order_by("lft")
    )


def public_notice(*, org: Organization, year: int) -> dict:
    published = (
        PledgeStatus.PUBLISHED,
        PledgeStatus.EVALUATED,
    )
    own = Pledge.objects.filter(owner_org=org, year=year, status__in=published).order_by("pk")
    members = (
        Pledge.objects.filter(org=org, owner_member__isnull=False, year=year, status__in=published)
        .select_related("owner_member")
        .order_by("owner_member__name", "pk")
    )
    return {"own": list(own), "members": list(members)}


def rectifications_for(*, user, within: Organization | None) -> QuerySet[Rectification]:
    scope = org_access.orgs_for(user, Action.EXPORT)
    q = Q(org__in=scope.values("pk")) | Q(pledge__owner_member__user_id=user.pk)
    items = Rectification.objects.filter(q)
    if within is not None:
        items = items.filter(within.subtree_q("org__"))
    return items.select_related(
        "pledge", "pledge__owner_member", "pledge__owner_org", "org"
    ).order_by("status", "deadline", "pk")


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
    revised = pledges_visible_to(user).filter(status=PledgeStatus.RETURNED)
    return (
        revised.filter(created_by_id=user.pk)
        .values("pk")
        .union(revised.filter(owner_member__user_id=user.pk).values("pk"))
        .count()
    )


def open_rectifications_for(*, user) -> QuerySet[Rectification]:
    """The open rectifications of rectifications_for(user=user, within=None), for counting."""
    return rectifications_for(user=user, within=None).exclude(status=RectificationStatus.CLOSED)


def todo(user) -> list[dict]:
    """Home-page items: pledges to vet, own pledges to revise, overdue and open rectifications."""
    from django.urls import reverse
    from django.utils import timezone

    items = []
    to_vet = vet_queue(user=user).count()
    if to_vet:
        items.append(
            {"text": "待审核的公开承诺", "url": reverse("pledges:vet_queue"), "count": to_vet}
        )
    returned = returned_count(user=user)
    if returned:
        url = reverse("pledges:mine") + f"?status={PledgeStatus.RETURNED}"
        items.append({"text": "退回修改的承诺", "url": url, "count": returned})
    late, more = capped_count(overdue(user=user, within=None, today=timezone.localdate()))
    if late:
        items.append(
            {
                "text": "超期未完成的承诺",
                "url": reverse("pledges:overdue"),
                "count": late,
                "more": more,
            }
        )
    open_items, more = capped_count(open_rectifications_for(user=user))
    if open_items:
        items.append(
            {
                "text": "未销号的整改",
                "url": reverse("pledges:rectifications"),
                "count": open_items,
                "more": more,
            }
        )
    return items


def org_links(user, org) -> list[dict]:
    from django.urls import reverse
    from django.utils import timezone

    if not org_access.can(user, Action.EXPORT, org):
        return []
    year = timezone.localdate().year
    links = []
    if org.holds_members:
        links.append(
            {"text": f"{year}年公开承诺", "url": reverse("pledges:year", args=[org.pk, year])}
        )
    if org.secretary_id:
        links.append(
            {
                "text": "书记公开承诺书",
                "url": reverse("pledges:secretary_pledge", args=[org.pk, year]),
            }
        )
    links.append({"text": "承诺督查", "url": reverse("pledges:overdue") + f"?org={org.pk}"})
    links.append(
        {"text": "需补课名单", "url": reverse("pledges:missing") + f"?org={org.pk}&year={year}"}
    )
    if not org.holds_members:
        links.append(
            {
                "text": "书记承诺台账",
                "url": reverse("pledges:secretary_ledger", args=[org.pk, year]),
            }
        )
    if org_access.can(user, Action.CONFIGURE, org):
        links.append({"text": "年度承诺时间", "url": reverse("pledges:window", args=[org.pk])})
    if org.holds_members:
        links.append({"text": "承诺公示栏", "url": reverse("public:notice", args=[org.code])})
    return links


def member_links(user, member) -> list[dict]:
    from django.urls import reverse

    from pledges.access import may_create_for_member

    links = [{"text": "承诺记录", "url": reverse("pledges:mine") + f"?member={member.pk}"}]
    if may_create_for_member(user, member):
        links.append(
            {"text": "提出承诺", "url": reverse("pledges:create_member", args=[member.pk])}
        )
    return links


def pledges_of(*, user, member=None, status: str = "") -> QuerySet[Pledge]:
    """A member's pledges (all years), or the pledges the user made or owns; `status` keeps
    only those in that state (the home page's "退回修改的承诺" opens the returned ones)."""
    pledges = pledges_visible_to(user)
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
