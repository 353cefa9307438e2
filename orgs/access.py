"""Who may see and do what, in one place.

A role is a guardian object permission (`role_<role>`) on an Organization row and reaches the
organisation's whole subtree through the MPTT range (tree_id, lft, rght). A user's grants are read
in one query and kept on the user object for the request, so every check below costs at most that
query plus the fetch of the object it is about, whatever the depth of the tree.

Objects outside the user's view scope are 404 (their existence is not revealed); an object the user
may see but not act on is 403.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from orgs.models import Member, Organization, OrganizationUserObjectPermission, Role


class Action(enum.Enum):
    VIEW = "view"  # read the organisation (and, for leading roles, its whole subtree)
    EDIT = "edit"  # edit the organisation's own records: its roster, its own pledges
    SUPERVISE = "supervise"  # vet, review and sign for a direct child
    MANAGE = "manage"  # change the structure of the subtree: create, edit and move organisations
    EXPORT = "export"  # export the subtree's data
    CONFIGURE = "configure"  # set the campaign calendar for the subtree


LEADING = frozenset({Role.SECRETARY, Role.DEPUTY})
READING = frozenset({Role.SECRETARY, Role.DEPUTY, Role.OFFICE})


@dataclass(frozen=True)
class Grant:
    role: Role
    org_id: int
    tree_id: int
    lft: int
    rght: int

    def covers(self, org: Organization) -> bool:
        return self.tree_id == org.tree_id and self.lft <= org.lft and org.rght <= self.rght


def grants_for(user) -> tuple[Grant, ...]:
    """The user's role grants, read once per user object (one query)."""
    if not getattr(user, "is_authenticated", False):
        return ()
    cached = getattr(user, "_org_grants", None)
    if cached is None:
        prefix = "role_"
        rows = (
            OrganizationUserObjectPermission.objects.filter(
                user_id=user.pk,
                permission__codename__startswith=prefix,
                content_object__is_active=True,
            )
            .values_list(
                "permission__codename",
                "content_object_id",
                "content_object__tree_id",
                "content_object__lft",
                "content_object__rght",
            )
            .order_by("content_object__tree_id", "content_object__lft")
        )
        cached = tuple(
            Grant(Role(codename[len(prefix) :]), org_id, tree_id, lft, rght)
            for codename, org_id, tree_id, lft, rght in rows
            if codename[len(prefix) :] in Role.values
        )
        user._org_grants = cached
    return cached


def forget_grants(user) -> None:
    """Drop the grants cached on a user object (after a grant or revoke)."""
    if hasattr(user, "_org_grants"):
        del user._org_grants


def can(user, action: Action, org: Organization) -> bool:
    """Whether `user` may do `action` on `org`. No query beyond the cached grants."""
    grants = grants_for(user)
    if action is Action.VIEW:
        return any(
            (g.role in READING and g.covers(org))
            or (g.role in (Role.MEMBER, Role.CONTACT) and g.org_id == org.pk)
            for g in grants
        )
    if action is Action.EDIT:
        return any(g.role in LEADING and g.org_id == org.pk for g in grants)
    if action is Action.SUPERVISE:
        return org.parent_id is not None and any(
            g.role in LEADING and g.org_id == org.parent_id for g in grants
        )
    if action is Action.MANAGE:
        return any(g.role in LEADING and g.covers(org) for g in grants)
    if action is Action.EXPORT:
        return any(g.role in READING and g.covers(org) for g in grants)
    if action is Action.CONFIGURE:
        return any(g.role == Role.OFFICE and g.covers(org) for g in grants)
    raise ValueError(action)


def _range_q(grants, prefix: str = "") -> Q:
    q = Q(pk__in=[])
    for g in grants:
        q |= Q(
            **{
                f"{prefix}tree_id": g.tree_id,
                f"{prefix}lft__gte": g.lft,
                f"{prefix}lft__lte": g.rght,
            }
        )
    return q


def _subtree_grants(user, roles=READING) -> list[Grant]:
    """Grants of the given roles, dropping those already inside another one's range."""
    kept: list[Grant] = []
    for g in grants_for(user):  # ordered by tree and lft: an enclosing grant comes first
        inside_kept = any(k.tree_id == g.tree_id and k.lft <= g.lft <= k.rght for k in kept)
        if g.role in roles and not inside_kept:
            kept.append(g)
    return kept


def orgs_visible_to(user) -> QuerySet[Organization]:
    """Every organisation the user may see: MPTT ranges of reading roles, plus member-role orgs."""
    grants = grants_for(user)
    q = _range_q(_subtree_grants(user))
    own = [g.org_id for g in grants if g.role in (Role.MEMBER, Role.CONTACT)]
    if own:
        q |= Q(pk__in=own)
    return Organization.objects.filter(q)


def orgs_for(user, action: Action) -> QuerySet[Organization]:
    """Organisations on which the user may do `action` (for choosers and lists)."""
    if action is Action.VIEW:
        return orgs_visible_to(user)
    if action in (Action.MANAGE, Action.EXPORT, Action.CONFIGURE):
        roles = {
            Action.MANAGE: LEADING,
            Action.EXPORT: READING,
            Action.CONFIGURE: frozenset({Role.OFFICE}),
        }[action]
        return Organization.objects.filter(_range_q(_subtree_grants(user, roles)))
    leading = [g.org_id for g in grants_for(user) if g.role in LEADING]
    if action is Action.EDIT:
        return Organization.objects.filter(pk__in=leading)
    if action is Action.SUPERVISE:
        return Organization.objects.filter(parent_id__in=leading)
    raise ValueError(action)


def members_visible_to(user) -> QuerySet[Member]:
    """Every member the user may see: the members of the subtrees their reading roles cover.

    A user without a reading role (a member-role grant only) sees just their own record. A user
    who has reading roles reaches their own record through its page even when it lies outside
    them; keeping it out of lists keeps this one range condition, which the database answers
    with an index range instead of scanning every member.
    """
    ranges = _subtree_grants(user)
    if ranges:
        return Member.objects.filter(
            org__in=Organization.objects.filter(_range_q(ranges)).values("pk")
        )
    if getattr(user, "is_authenticated", False):
        return Member.objects.filter(user_id=user.pk)
    return Member.objects.none()


def roles_of(user) -> list[tuple[Role, int]]:
    return [(g.role, g.org_id) for g in grants_for(user)]


def object_id(pk) -> int:
    """An id from a URL or a query string; anything that is not one is a 404."""
    text = str(pk)
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise Http404("地址有误。")
    return int(text)


def get_org_for_user(user, pk, action: Action = Action.VIEW) -> Organization:
    """The organisation `pk` if the user may see it (else 404) and do `action` on it (else 403)."""
    org = (
        Organization.objects.select_related("parent", "secretary").filter(pk=object_id(pk)).first()
    )
    if org is None or not can(user, Action.VIEW, org):
        raise Http404("没有找到该党组织。")
    if action is not Action.VIEW and not can(user, action, org):
        raise PermissionDenied("您没有权限进行此操作。")
    return org


# ---------------------------------------------------------------- the organisation tree


def can_create_org(user, parent: Organization | None) -> bool:
    """Whether `user` may create an organisation under `parent`: a leader of it or above (the
    top of a tree is the system's or the provincial office's to create, in the admin)."""
    return parent is not None and can(user, Action.MANAGE, parent)


def can_edit_org(user, org: Organization) -> bool:
    """Whether `user` may change `org`'s own fields, its secretary and its yearly figures: a
    leader of it or of an organisation above."""
    return can(user, Action.MANAGE, org)


def can_move_org(user, org: Organization, new_parent: Organization | None = None) -> bool:
    """Whether `user` may move `org` (under `new_parent`, when given): a leader of its parent or
    above, never of the organisation alone (a branch does not re-parent itself), to a place the
    user leads as well."""
    return (
        org.parent_id is not None
        and can(user, Action.MANAGE, org.parent)
        and (new_parent is None or can(user, Action.MANAGE, new_parent))
    )


# ---------------------------------------------------------------- the roll


def can_edit_roster(user, org: Organization) -> bool:
    """Whether `user` may put members on `org`'s roll, change them and transfer them out: a
    leader of the organisation or above (the member pages offer it to the branch's own leaders,
    see can_on_member; a roster import to the leaders of any organisation above)."""
    return can(user, Action.MANAGE, org)


def can_transfer_member(user, member: Member) -> bool:
    """Whether the member pages offer `user` a transfer of `member`: the leaders of the member's
    branch and of its parent."""
    return can_on_member(user, Action.EDIT, member) or can_on_member(user, Action.SUPERVISE, member)


def member_transfer_targets(user, member: Member) -> QuerySet[Organization]:
    """Where `user` may transfer `member`: an active organisation the user sees, or any under the
    member's parent organisation (a branch hands a member to a sibling)."""
    scope = orgs_visible_to(user)
    parent = member.org.parent
    if parent is not None:
        scope = scope | Organization.objects.filter(parent.subtree_q())
    return scope.filter(is_active=True)


def can_transfer_member_to(user, member: Member, to_org: Organization) -> bool:
    """member_transfer_targets for one organisation, without a query beyond the cached grants."""
    parent = member.org.parent
    return to_org.is_active and (
        can(user, Action.VIEW, to_org)
        or (
            parent is not None
            and to_org.tree_id == parent.tree_id
            and parent.lft <= to_org.lft <= parent.rght
        )
    )


# ---------------------------------------------------------------- roles

# Granted from above only: office staff set the calendar and grade rules of their range, a contact
# leader reviews the organisation. Granted from inside, a secretary could do both to his own branch.
FROM_ABOVE = frozenset({Role.OFFICE, Role.CONTACT})


def can_assign_role(user, org: Organization, role: Role) -> bool:
    """Whether `user` may grant (and withdraw) `role` at `org`.

    A secretary is appointed by the leaders (secretary, deputy) of the parent organisation or
    above. Office staff and contact leaders come from above too: the leaders of the parent or
    above, or office staff whose range covers the parent. Deputies and members are granted by the
    organisation's own leaders or those above."""
    role = Role(role)
    if role == Role.SECRETARY:
        return org.parent_id is not None and can(user, Action.MANAGE, org.parent)
    if role in FROM_ABOVE:
        if org.parent_id is None:
            return False
        parent = org.parent
        return can(user, Action.MANAGE, parent) or any(
            g.role == Role.OFFICE and g.covers(parent) for g in grants_for(user)
        )
    return can(user, Action.MANAGE, org)


def assignable_roles(user, org: Organization) -> list[Role]:
    """The roles `user` may grant (and withdraw) at `org`."""
    return [role for role in Role if can_assign_role(user, org, role)]


def can_withdraw_role(user, org: Organization, role: Role, *, holder_id: int) -> bool:
    """Whether `user` may withdraw `role` at `org` from the user `holder_id`: one who may grant
    it there, and never from themselves (see orgs.services.role_revoke)."""
    return holder_id != user.pk and can_assign_role(user, org, role)


def get_role_grant_for_user(user, pk, *, org: Organization) -> OrganizationUserObjectPermission:
    """The role grant `pk` at `org`, an organisation the user sees (else 404); whether the user
    may withdraw it is the service's to say."""
    grant = (
        OrganizationUserObjectPermission.objects.select_related("user", "permission")
        .filter(pk=object_id(pk), content_object=org)
        .first()
    )
    if grant is None or not can(user, Action.VIEW, org):
        raise Http404("没有找到该角色授权。")
    return grant


# ---------------------------------------------------------------- members


def is_own_record(user, member: Member) -> bool:
    """Whether `member` is the logged-in user's own record."""
    return (
        getattr(user, "is_authenticated", False)
        and member.user_id is not None
        and member.user_id == user.pk
    )


def can_on_member(user, action: Action, member: Member) -> bool:
    if action is Action.VIEW:
        return is_own_record(user, member) or any(
            g.role in READING and g.covers(member.org) for g in grants_for(user)
        )
    return can(user, action, member.org)


def get_member_for_user(user, pk, action: Action = Action.VIEW) -> Member:
    """The member `pk` if visible to the user (else 404) and `action` is allowed (else 403).

    Acting on a member means acting on the member's organisation: a branch secretary edits the
    branch's own roster (EDIT); the parent secretary may transfer (SUPERVISE).
    """
    member = (
        Member.objects.select_related("org", "org__parent", "user").filter(pk=object_id(pk)).first()
    )
    if member is None or not can_on_member(user, Action.VIEW, member):
        raise Http404("没有找到该党员。")
    if action is not Action.VIEW and not can_on_member(user, action, member):
        raise PermissionDenied("您没有权限进行此操作。")
    return member
