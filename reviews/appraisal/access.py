"""Who may see and do what in a democratic appraisal, built on orgs.access (the one source of
roles and scope).

A session belongs to the organisation that runs it: whoever may see that organisation sees the
session; its secretary or deputy runs it. An appraisal of organisations is also seen by whoever
holds a role in an organisation appraised, or below one. Outside that scope a session is a 404.
"""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from orgs import access
from orgs.access import Action
from orgs.models import Organization, Role
from reviews.appraisal.models import Appraisal, AppraisalKind, AppraisalSubject


def appraisals_visible_to(user) -> QuerySet[Appraisal]:
    """Every session the user may open (`can_view_appraisal`, as one query)."""
    visible = Q(org__in=access.orgs_visible_to(user).values("pk"))
    for g in access.grants_for(user):
        # an appraisal of organisations run above the grant, of an organisation holding it
        holding = AppraisalSubject.objects.filter(
            subject_org__tree_id=g.tree_id,
            subject_org__lft__lte=g.lft,
            subject_org__rght__gte=g.lft,
        ).values("appraisal_id")
        visible |= Q(
            kind=AppraisalKind.ORG,
            org__tree_id=g.tree_id,
            org__lft__lt=g.lft,
            org__rght__gt=g.lft,
            pk__in=holding,
        )
    return Appraisal.objects.filter(visible)


def can_view_appraisal(user, appraisal: Appraisal) -> bool:
    """The running organisation's readers and members; for an appraisal of organisations, also
    anyone holding a role in an organisation appraised or below one."""
    org = appraisal.org
    if access.can(user, Action.VIEW, org):
        return True
    if appraisal.kind != AppraisalKind.ORG:
        return False
    below = [
        g
        for g in access.grants_for(user)
        if g.tree_id == org.tree_id and org.lft < g.lft < org.rght
    ]
    if not below:
        return False
    ranges = AppraisalSubject.objects.filter(appraisal=appraisal).values_list(
        "subject_org__lft", "subject_org__rght"
    )
    return any(lft <= g.lft <= rght for lft, rght in ranges for g in below)


def can_plan_appraisal(user, org: Organization) -> bool:
    """An organisation's secretary or deputy plans its sessions."""
    return access.can(user, Action.EDIT, org)


def can_run_appraisal(user, appraisal: Appraisal) -> bool:
    """The organisation running the session (its secretary or deputy) plans, prints slips,
    counts, decides and publishes."""
    return access.can(user, Action.EDIT, appraisal.org)


def run_refusal(appraisal: Appraisal) -> str:
    """What a service or a page says to whoever may not run `appraisal`."""
    return f"只有{appraisal.org.name}的书记或副书记可以进行此操作。"


def can_count_appraisal(user, appraisal: Appraisal) -> bool:
    """Who may open the tellers' page (计票人): the running organisation's secretary or deputy,
    or a member of it with a login (tellers are often members chosen at the meeting). Entering
    also needs a password of their own (reviews.appraisal.services.paper.teller_refusal)."""
    return can_run_appraisal(user, appraisal) or any(
        g.role == Role.MEMBER and g.org_id == appraisal.org_id for g in access.grants_for(user)
    )


def can_view_results(user, appraisal: Appraisal) -> bool:
    """Results once counted: to the running secretary at once, to every reader once published."""
    if not appraisal.is_counted:
        return False
    return appraisal.is_published or can_run_appraisal(user, appraisal)


def can_write_statement(user, subject: AppraisalSubject) -> bool:
    """Who may write a subject's 述职: the running secretary, the member, the subject's secretary."""
    if can_run_appraisal(user, subject.appraisal):
        return True
    if subject.member_id:
        return access.is_own_record(user, subject.member)
    return access.can(user, Action.EDIT, subject.subject_org)


def get_appraisal_for_user(user, pk, action: Action = Action.VIEW) -> Appraisal:
    """The session `pk` if the user may see it (else 404); with `Action.EDIT`, if they may also
    run it (else 403)."""
    appraisal = (
        Appraisal.objects.select_related("org", "org__parent")
        .filter(pk=access.object_id(pk))
        .first()
    )
    if appraisal is None or not can_view_appraisal(user, appraisal):
        raise Http404("没有找到该评议。")
    _check(user, appraisal, action)
    return appraisal


def get_subject_for_user(user, pk, action: Action = Action.VIEW) -> AppraisalSubject:
    """The subject `pk` if the user may see its session or is the member appraised (else 404);
    with `Action.EDIT`, if they may also run the session (else 403)."""
    subject = (
        AppraisalSubject.objects.select_related(
            "appraisal", "appraisal__org", "member", "subject_org"
        )
        .filter(pk=access.object_id(pk))
        .first()
    )
    if subject is None:
        raise Http404("没有找到该评议对象。")
    own = subject.member_id and access.is_own_record(user, subject.member)
    if not (own or can_view_appraisal(user, subject.appraisal)):
        raise Http404("没有找到该评议对象。")
    _check(user, subject.appraisal, action)
    return subject


PUBLIC_ID = re.compile(r"^[0-9a-z]{10}$")


def get_appraisal_for_voting(public_id) -> Appraisal:
    """The session behind a voting link, for anyone (the one public route): a 404 unless it
    takes ballots by code. Whether voting is open is the page's to say."""
    if not PUBLIC_ID.match(str(public_id)):
        raise Http404("没有找到该评议。")
    appraisal = Appraisal.objects.select_related("org").filter(public_id=public_id).first()
    if appraisal is None or not appraisal.uses_codes:
        raise Http404("没有找到该评议。")
    return appraisal


def _check(user, appraisal: Appraisal, action: Action) -> None:
    if action is Action.VIEW:
        return
    if action is not Action.EDIT:
        raise ValueError(action)
    if not can_run_appraisal(user, appraisal):
        raise PermissionDenied(run_refusal(appraisal))
