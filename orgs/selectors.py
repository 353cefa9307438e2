"""Reads for pages and other apps. Scoping comes from orgs.access."""

from __future__ import annotations

import datetime
from typing import TypeVar

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from orgs.access import members_visible_to, orgs_visible_to
from orgs.models import (
    Member,
    Membership,
    Organization,
    OrganizationUserObjectPermission,
    OrgYearFigure,
)

K = TypeVar("K", int, str)


def members_on(*, org: Organization, day: datetime.date) -> QuerySet[Member]:
    """Members on the roll of `org` on `day` (one query, by the dated membership rows)."""
    return Member.objects.filter(
        Q(memberships__org=org)
        & Q(memberships__start__lte=day)
        & (Q(memberships__end__isnull=True) | Q(memberships__end__gt=day))
    )


def nearest_above(rows: QuerySet, *, org: Organization, prefix: str = "org__"):
    """The row set at `org` or at its nearest ancestor (settings an office makes for a subtree,
    the nearest one winning), or None: one query down the (tree_id, lft) index."""
    return (
        rows.filter(
            **{
                f"{prefix}tree_id": org.tree_id,
                f"{prefix}lft__lte": org.lft,
                f"{prefix}rght__gte": org.rght,
            }
        )
        .order_by(f"-{prefix}level")
        .first()
    )


def membership_org_on(*, member: Member, day: datetime.date) -> Organization | None:
    membership = Membership.objects.on(day).filter(member=member).select_related("org").first()
    return membership.org if membership else None


def _subtree_member_count() -> Subquery:
    counted = (
        Member.objects.filter(
            org__tree_id=OuterRef("tree_id"),
            org__lft__gte=OuterRef("lft"),
            org__lft__lt=OuterRef("rght"),
        )
        .order_by()
        .values("org__tree_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def org_children(*, org: Organization) -> QuerySet[Organization]:
    """Direct children, each with the number of members in its whole subtree (one query)."""
    return (
        org.get_children()
        .select_related("secretary")
        .annotate(member_count=_subtree_member_count())
        .order_by("lft")
    )


def org_children_counted(*, org: Organization) -> list[Organization]:
    """`org_children` read once and kept as the organisation's children (django-mptt's own
    cache), so that later `org.get_children()` calls (the link providers') ask no query."""
    children = list(org_children(org=org))
    org._cached_children = children
    return children


def org_member_count(
    *, org: Organization, children: list[Organization] | None = None, direct: int | None = None
) -> int:
    """Members in the whole subtree. Given the children with their subtree counts
    (`org_children`) and the number of the organisation's own members, their sum: no query."""
    if children is not None and direct is not None:
        return direct + sum(child.member_count for child in children)
    return Member.objects.filter(org.subtree_q("org__")).count()


def org_ancestors_visible(*, user, org: Organization) -> QuerySet[Organization]:
    """The organisations above `org` that the user may see, top first (the page's breadcrumbs)."""
    return org.get_ancestors().filter(pk__in=orgs_visible_to(user))


def org_direct_members(*, user, org: Organization) -> QuerySet[Member]:
    return members_visible_to(user).filter(org=org).order_by("name", "pk")


def member_search(
    *, user, text: str = "", within: Organization | None = None, category: str = ""
) -> QuerySet[Member]:
    """Members visible to `user`, filtered by name (or post), subtree and category."""
    members = members_visible_to(user)
    if within is not None:
        members = members.filter(within.subtree_q("org__"))
    if text:
        members = members.filter(Q(name__contains=text) | Q(post__contains=text))
    if category:
        members = members.filter(category=category)
    return members.select_related("org").order_by("org__tree_id", "org__lft", "name", "pk")


def user_organizations(*, user) -> QuerySet[Organization]:
    """The organisations where the user holds a role, top-most first."""
    from orgs.access import grants_for

    ids = {g.org_id for g in grants_for(user)}
    return (
        Organization.objects.filter(pk__in=ids).select_related("parent").order_by("tree_id", "lft")
    )


def secretary_candidates(*, org: Organization) -> QuerySet[Member]:
    """Who may be `org`'s secretary: a member on its own roll or on the roll of a direct child (a
    town committee's secretary is often on one of its branches' rolls). The one answer: the edit
    form offers exactly these, organization_update refuses anyone else, and the roster import
    looks for the named secretary among them (through secretary_posts, on the tree the workbook
    leaves behind)."""
    return Member.objects.filter(Q(org=org) | Q(org__parent=org))


def secretary_posts(*, member_org: K, parent: K | None) -> tuple[K, ...]:
    """The organisations a member on `member_org`'s roll may be secretary of: that one and its
    `parent` (secretary_candidates seen from the member's side). Keys may be pks or, for a tree
    not yet written, roster codes."""
    return (member_org, parent) if parent else (member_org,)


def role_grants_at(*, org: Organization) -> QuerySet[OrganizationUserObjectPermission]:
    """The role grants held at `org` itself (not above it), by role and username."""
    return (
        OrganizationUserObjectPermission.objects.filter(
            content_object=org, permission__codename__startswith="role_"
        )
        .select_related("user", "permission")
        .order_by("permission__codename", "user__username")
    )


def own_member(*, user) -> Member | None:
    """The user's own record on the roll, with its organisation, if they are a member."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Member.objects.select_related("org").filter(user_id=user.pk).first()


def org_lookup_by_code(*, user, code: str) -> Organization | None:
    return orgs_visible_to(user).filter(code=code.strip()).first()


def members_during(*, org: Organization, start: datetime.date, end: datetime.date):
    """Members on the roll of `org` at any time in [start, end] (one query), by name."""
    return (
        Member.objects.filter(
            Q(memberships__org=org)
            & Q(memberships__start__lte=end)
            & (Q(memberships__end__isnull=True) | Q(memberships__end__gt=start))
        )
        .distinct()
        .select_related("org", "user")
        .order_by("name", "pk")
    )


def memberships_of(*, member_ids, start: datetime.date, end: datetime.date) -> dict:
    """The dated memberships of many members overlapping [start, end], by member pk, oldest
    first, each with its organisation (one query)."""
    rows = (
        Membership.objects.filter(member_id__in=list(member_ids), start__lte=end)
        .filter(Q(end__isnull=True) | Q(end__gt=start))
        .select_related("org", "org__secretary")
        .order_by("start", "pk")
    )
    found: dict[int, list[Membership]] = {}
    for row in rows:
        found.setdefault(row.member_id, []).append(row)
    return found


def org_on(memberships, day: datetime.date) -> Organization | None:
    """The organisation of the membership (from `memberships_of`) that holds on `day`."""
    for row in memberships:
        if row.start <= day and (row.end is None or row.end > day):
            return row.org
    return None


def _subtree_roll_count(day: datetime.date) -> Subquery:
    """Members on the roll of the row's whole subtree on `day`, by the dated memberships."""
    counted = (
        Membership.objects.on(day)
        .filter(
            org__tree_id=OuterRef("tree_id"),
            org__lft__gte=OuterRef("lft"),
            org__lft__lt=OuterRef("rght"),
        )
        .order_by()
        .values("org__tree_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def org_figures(
    *, org_ids, year: int, day: datetime.date | None = None
) -> dict[int, tuple[int, int]]:
    """For each organisation: (members in its whole subtree — now, or on `day` by the dated
    memberships —, 入党积极分子数 of `year`). Two queries however many organisations."""
    counted = _subtree_roll_count(day) if day is not None else _subtree_member_count()
    orgs = (
        Organization.objects.filter(pk__in=list(org_ids))
        .annotate(member_count=counted)
        .values_list("pk", "member_count")
    )
    activists = dict(
        OrgYearFigure.objects.filter(org_id__in=list(org_ids), year=year).values_list(
            "org_id", "activist_count"
        )
    )
    return {pk: (count, activists.get(pk, 0)) for pk, count in orgs}
