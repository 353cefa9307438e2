"""Who may see and do what with pledges, their rectifications, attachments and the secretaries'
pledge letters, built on orgs.access (the one source of roles and scope).

A member's pledge belongs to the branch (pledge.org) that vets it; an organisation's pledge is
vetted by the parent organisation's secretary. Outside the user's view scope an object is 404;
inside it, an action the user may not take is 403. Services re-check the actor with the same
`can_*` functions, so a task or another app calling them is held to the same rules.
"""

from __future__ import annotations

import enum

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from orgs import access
from orgs.access import Action
from orgs.models import Member, Organization
from pledges.models import Attachment, Pledge, Rectification, SecretaryPledge


class PledgeAction(enum.Enum):
    VIEW = "view"  # read the pledge, its fulfilment, rectifications and attachments
    EDIT = "edit"  # edit, submit, report fulfilment, answer a rectification, re-pledge
    VET = "vet"  # approve, return, reopen, rectify, close a rectification, evaluate
    WITHDRAW = "withdraw"  # take a submission back before vetting
    PUBLISH = "publish"  # 示诺


class LetterAction(enum.Enum):
    VIEW = "view"
    SIGN = "sign"  # the secretary's own steps: write, sign and submit, report quarterly
    REVIEW = "review"  # the upper organisation's 审定意见


# ---------------------------------------------------------------- pledges


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


def _home_branch(pledge: Pledge) -> Organization | None:
    """Where a member's community pledge also belongs: the member's own branch."""
    return pledge.owner_member.org if pledge.is_community else None


def can_view_pledge(user, pledge: Pledge) -> bool:
    """The owner, and the reading roles over the pledge's organisation (for a community pledge,
    also over the member's own branch)."""
    home = _home_branch(pledge)
    return (
        _is_owner(user, pledge)
        or access.can(user, Action.EXPORT, pledge.org)
        or (home is not None and access.can(user, Action.EXPORT, home))
    )


def can_edit_pledge(user, pledge: Pledge) -> bool:
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


def can_vet_pledge(user, pledge: Pledge) -> bool:
    """Vet, reopen, rectify and evaluate: the parent secretary of an organisation; the branch
    secretary for its members. Nobody vets a pledge that is their own or their own
    organisation's."""
    if pledge.owner_org_id:
        return access.can(user, Action.SUPERVISE, pledge.owner_org) and not access.can(
            user, Action.EDIT, pledge.owner_org
        )
    return access.can(user, Action.EDIT, pledge.org) and not _is_owner(user, pledge)


def can_withdraw_pledge(user, pledge: Pledge) -> bool:
    """Take a submission back before vetting: the one who submitted it (the actor of its latest
    submit event), while they may still write it; for an organisation's pledge its secretary or
    deputy, who act for it. A vetter who did not submit it returns it with a reason instead."""
    if pledge.owner_org_id:
        return access.can(user, Action.EDIT, pledge.owner_org)
    if not getattr(user, "is_authenticated", False) or not can_edit_pledge(user, pledge):
        return False
    submitter = pledge.events.filter(action="submit").values_list("actor_id", flat=True).last()
    return submitter == user.pk


def can_publish_pledge(user, pledge: Pledge) -> bool:
    """示诺: the vetter, or the organisation that owns the pledge."""
    return can_vet_pledge(user, pledge) or (
        pledge.owner_org_id is not None and access.can(user, Action.EDIT, pledge.owner_org)
    )


_PLEDGE_CHECKS = {
    PledgeAction.VIEW: can_view_pledge,
    PledgeAction.EDIT: can_edit_pledge,
    PledgeAction.VET: can_vet_pledge,
    PledgeAction.WITHDRAW: can_withdraw_pledge,
    PledgeAction.PUBLISH: can_publish_pledge,
}


def _check(user, pledge: Pledge, action: PledgeAction) -> None:
    """404 when the user may not see the pledge, 403 when they may see it but not do `action`."""
    if not can_view_pledge(user, pledge):
        raise Http404("没有找到该承诺。")
    if action is not PledgeAction.VIEW and not _PLEDGE_CHECKS[action](user, pledge):
        raise PermissionDenied("您没有权限对这项承诺进行此操作。")


_PLEDGE_RELATED = ("org", "org__parent", "owner_org", "owner_member__org")


def get_pledge_for_user(user, pk, action: PledgeAction = PledgeAction.VIEW) -> Pledge:
    """The pledge `pk` if the user may see it (else 404) and do `action` on it (else 403)."""
    pledge = Pledge.objects.select_related(*_PLEDGE_RELATED).filter(pk=access.object_id(pk)).first()
    if pledge is None:
        raise Http404("没有找到该承诺。")
    _check(user, pledge, action)
    return pledge


def can_create_org_pledge(user, org: Organization) -> bool:
    """提诺 for an organisation: its own secretary or deputy."""
    return access.can(user, Action.EDIT, org)


def can_publish_org_pledges(user, org: Organization) -> bool:
    """Publish every approved pledge of a branch at once: its secretary or deputy."""
    return access.can(user, Action.EDIT, org)


def can_create_member_pledge(user, member: Member) -> bool:
    """提诺 for a member: the member, or the secretary of the member's branch."""
    return access.is_own_record(user, member) or access.can(user, Action.EDIT, member.org)


def can_record_oral_pledge(user, member: Member) -> bool:
    """An oral pledge is written down by the branch secretary, never by the member."""
    return access.can(user, Action.EDIT, member.org)


def can_set_window(user, org: Organization) -> bool:
    """The annual pledge window of a subtree: office staff over it."""
    return access.can(user, Action.CONFIGURE, org)


# ---------------------------------------------------------------- rectifications and attachments


def rectifications_visible_to(user) -> QuerySet[Rectification]:
    """Rectifications kept in the user's reading scope, and those over the user's own pledges."""
    if not getattr(user, "is_authenticated", False):
        return Rectification.objects.none()
    scope = access.orgs_for(user, Action.EXPORT)
    return Rectification.objects.filter(
        Q(org__in=scope.values("pk")) | Q(pledge__owner_member__user_id=user.pk)
    )


def can_respond_rectification(user, item: Rectification) -> bool:
    """Report the rectification: whoever writes the pledge, while the item is open."""
    return item.may_respond and can_edit_pledge(user, item.pledge)


def can_close_rectification(user, item: Rectification) -> bool:
    """Close or reopen: the side that issued it, the pledge's vetter."""
    return can_vet_pledge(user, item.pledge)


def get_rectification_for_user(user, pk, action: PledgeAction = PledgeAction.VIEW) -> Rectification:
    """The rectification `pk` if the user may see its pledge (else 404) and do `action` on the
    pledge (else 403)."""
    related = ["pledge", *(f"pledge__{name}" for name in _PLEDGE_RELATED)]
    item = Rectification.objects.select_related(*related).filter(pk=access.object_id(pk)).first()
    if item is None or not can_view_pledge(user, item.pledge):
        raise Http404("没有找到该整改。")
    _check(user, item.pledge, action)
    return item


def get_attachment_for_user(user, pk) -> Attachment:
    """A fulfilment's attachment if the user may see its pledge (else 404)."""
    related = ["fulfilment__pledge", *(f"fulfilment__pledge__{name}" for name in _PLEDGE_RELATED)]
    item = Attachment.objects.select_related(*related).filter(pk=access.object_id(pk)).first()
    if item is None or not can_view_pledge(user, item.fulfilment.pledge):
        raise Http404("没有找到该附件。")
    return item


# ---------------------------------------------------------------- secretaries' pledge letters


def letters_visible_to(user) -> QuerySet[SecretaryPledge]:
    """The letters of organisations in the user's reading scope."""
    return SecretaryPledge.objects.filter(org__in=access.orgs_for(user, Action.EXPORT).values("pk"))


def can_view_letter(user, letter: SecretaryPledge) -> bool:
    return access.can(user, Action.EXPORT, letter.org)


def can_write_letter(user, org: Organization) -> bool:
    """The secretary's pledge letter is written by the organisation's secretary in person."""
    return org.secretary is not None and access.is_own_record(user, org.secretary)


def can_sign_letter(user, letter: SecretaryPledge) -> bool:
    """Sign and submit the letter, report its quarters: the secretary who wrote it."""
    return access.is_own_record(user, letter.member)


def can_review_letter(user, letter: SecretaryPledge) -> bool:
    """审定意见: the upper organisation's secretary, never on their own letter."""
    return access.can(user, Action.SUPERVISE, letter.org) and not access.is_own_record(
        user, letter.member
    )


_LETTER_CHECKS = {
    LetterAction.VIEW: can_view_letter,
    LetterAction.SIGN: can_sign_letter,
    LetterAction.REVIEW: can_review_letter,
}
_LETTER_REFUSALS = {
    LetterAction.SIGN: "承诺书由书记本人填写、签字提交和报送落实情况。",
    LetterAction.REVIEW: "审定意见由上一级党组织书记填写（不能审定本人的承诺书）。",
}


def get_letter_for_user(user, pk, action: LetterAction = LetterAction.VIEW) -> SecretaryPledge:
    """The letter `pk` if the user may read it (else 404) and do `action` on it (else 403)."""
    letter = (
        SecretaryPledge.objects.select_related("org", "org__parent", "member")
        .filter(pk=access.object_id(pk))
        .first()
    )
    if letter is None or not can_view_letter(user, letter):
        raise Http404("没有找到该承诺书。")
    if action is not LetterAction.VIEW and not _LETTER_CHECKS[action](user, letter):
        raise PermissionDenied(_LETTER_REFUSALS[action])
    return letter
