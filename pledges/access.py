"""Who may do what to a pledge, built on orgs.access (the one source of roles and scope).

A member's pledge belongs to the branch (pledge.org) that vets it; an organisation's pledge is
vetted by the parent organisation's secretary. Outside the user's view scope a pledge is 404.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from orgs import access
from orgs.access import Action
from pledges.models import Pledge, SecretaryPledge


def pledges_visible_to(user) -> QuerySet[Pledge]:
    """Pledges of organisations in the user's reading scope; without a reading role, the user's
    own pledges. (As with members, a reader reaches their own pledge outside their scope through
    its page; lists keep one range condition the database can answer from its indexes.)"""
    scope = access.orgs_for(user, Action.EXPORT)  # the reading roles' subtrees
    if any(g.role in access.READING for g in access.grants_for(user)):
        return Pledge.objects.filter(org__in=scope.values("pk"))
    if getattr(user, "is_authenticated", False):
        return Pledge.objects.filter(owner_member__user_id=user.pk)
    return Pledge.objects.none()


def _is_owner(user, pledge: Pledge) -> bool:
    return pledge.owner_member_id is not None and access.is_own_record(user, pledge.owner_member)


def _home_branch(pledge: Pledge):
    """Where a member's community pledge also belongs: the member's own branch."""
    return pledge.owner_member.org if pledge.is_community else None


def may_view(user, pledge: Pledge) -> bool:
    home = _home_branch(pledge)
    return (
        _is_owner(user, pledge)
        or access.can(user, Action.EXPORT, pledge.org)
        or (home is not None and access.can(user, Action.EXPORT, home))
    )


def may_write(user, pledge: Pledge) -> bool:
    """Edit, submit and report fulfilment: the owner organisation's secretary; for a member's
    pledge the member or the branch secretary (for a community pledge, of either branch)."""
    if pledge.owner_org_id:
        return access.can(user, Action.EDIT, pledge.owner_org)
    home = _home_branch(pledge)
    return (
        _is_owner(user, pledge)
        or access.can(user, Action.EDIT, pledge.org)
        or (home is not None and access.can(user, Action.EDIT, home))
    )


def may_vet(user, pledge: Pledge) -> bool:
    """Vet, publish, rectify and evaluate: the parent secretary of an organisation; the branch
    secretary for its members. Nobody vets a pledge that is their own or their own
    organisation's."""
    if pledge.owner_org_id:
        return access.can(user, Action.SUPERVISE, pledge.owner_org) and not access.can(
            user, Action.EDIT, pledge.owner_org
        )
    return access.can(user, Action.EDIT, pledge.org) and not _is_owner(user, pledge)


def may_withdraw(user, pledge: Pledge) -> bool:
    """Take a submission back before vetting: the one who submitted it (the actor of its latest
    submit event), while they may still write it; for an organisation's pledge its secretary or
    deputy, who act for it. A vetter who did not submit it returns it with a reason instead."""
    if pledge.owner_org_id:
        return access.can(user, Action.EDIT, pledge.owner_org)
    if not getattr(user, "is_authenticated", False) or not may_write(user, pledge):
        return False
    submitter = pledge.events.filter(action="submit").values_list("actor_id", flat=True).last()
    return submitter == user.pk


def may_publish(user, pledge: Pledge) -> bool:
    return may_vet(user, pledge) or (
        pledge.owner_org_id is not None and access.can(user, Action.EDIT, pledge.owner_org)
    )


def get_pledge_or_404(user, pk, check=may_view) -> Pledge:
    pledge = (
        Pledge.objects.select_related("org", "org__parent", "owner_org", "owner_member__org")
        .filter(pk=access.object_id(pk))
        .first()
    )
    if pledge is None or not may_view(user, pledge):
        raise Http404("没有找到该承诺。")
    if check is not may_view and not check(user, pledge):
        raise PermissionDenied("您没有权限对这项承诺进行此操作。")
    return pledge


def may_create_for_member(user, member) -> bool:
    return access.is_own_record(user, member) or access.can(user, Action.EDIT, member.org)


def get_secretary_pledge_or_404(user, pk) -> SecretaryPledge:
    sp = (
        SecretaryPledge.objects.select_related("org", "member", "org__parent").filter(pk=pk).first()
    )
    if sp is None or not access.can(user, Action.EXPORT, sp.org):
        raise Http404("没有找到该承诺书。")
    return sp
