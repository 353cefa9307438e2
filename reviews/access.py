"""Who may read and do what with leader reviews, built on orgs.access (the one source of roles and
scope).

A review is read by its reviewer, by the reading roles over the organisation it counts for
(`review.org`: the member's branch for the period, or the organisation reviewed), and — once
signed — by the member it is about. Outside that a review is 404, never 403.

A member is reviewed quarterly by the branch whose roll holds them at the quarter's end; an
organisation and its secretary half-yearly by a leader above it. A change of a review is made by
its reviewer, still in office, while their organisation still owes it. Each rule that a service
enforces with a message is written once here as `<verb>_refusal(user, obj) -> str | None` (the
message, or None when allowed); `can_<verb>_<thing>` is its boolean for pages.
"""

from __future__ import annotations

import enum

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from orgs import access
from orgs.access import LEADING, Action, grants_for
from orgs.models import Member, Organization, Role
from orgs.periods import Period
from orgs.selectors import membership_org_on
from reviews.models import (
    REVIEWABLE_KINDS,
    LeaderReview,
    Method,
    RandomDraw,
    ReviewRectification,
    ReviewStatus,
    SubjectKind,
)


class ReviewAction(enum.Enum):
    VIEW = "view"
    EDIT = "edit"  # change or sign a draft (edit_refusal names the reason of a 403)
    # act in the reviewer's name — sign, correct, set and close rectification items: the reviewer
    # only (403 for anyone else); the service refuses what the review's state forbids, with a
    # message the page shows
    REVIEWER = "reviewer"
    REPORT = "report"  # report on a rectification item (can_report_rectification)


# ---------------------------------------------------------------- who owes a review


def member_branch_for(member: Member, period: Period) -> Organization | None:
    """The branch that owes the member a review for the period: the one at the period's end."""
    return membership_org_on(member=member, day=period.end)


def owing_branch_moved(review: LeaderReview) -> Organization | None:
    """For a member's review by a branch that no longer owes it (the member was transferred
    before the quarter's end), the branch that owes it now; None while the reviewer still owes
    it. A member who has left every branch is owed by nobody: the reviewing branch again."""
    if not review.is_about_member:
        return None
    branch = member_branch_for(review.subject_member, review.period_obj)
    if branch is None or branch.pk == review.reviewer_org_id:
        return None
    return branch


def owed_elsewhere_refusal(review: LeaderReview) -> str | None:
    """Why a member's review that another branch owes now can no longer change."""
    branch = owing_branch_moved(review)
    if branch is None:
        return None
    return (
        f"“{review.subject_member.name}”已转至“{branch.name}”，{review.period_label}的点评"
        f"改由“{branch.name}”负责；本支部的这份点评只能查看，不能再修改、签字或更正。"
    )


# ---------------------------------------------------------------- who reviews whom


def _leading_org_over(user, org: Organization) -> Organization | None:
    """The deepest organisation at or above `org` where the user holds a leading role."""
    best = None
    for g in grants_for(user):
        if g.role in LEADING and g.covers(org) and (best is None or g.lft > best.lft):
            best = g
    return Organization.objects.get(pk=best.org_id) if best else None


def reviewer_org_for_member(user, member: Member, period: Period) -> Organization | None:
    """The branch in whose name `user` reviews `member` for `period`, or None."""
    branch = member_branch_for(member, period)
    if (
        branch is not None
        and access.can(user, Action.EDIT, branch)
        and not access.is_own_record(user, member)
    ):
        return branch
    return None


def reviewer_org_for_org(user, org: Organization, method: str = "") -> Organization | None:
    """The organisation in whose name `user` reviews `org`: a leading role above it, a linked
    leader's (联系点) grant on it, or for a random review also an office above it. Only the
    parent's review meets the half-yearly obligation; the others are reviews besides it."""
    if org.parent_id is None or org.kind not in REVIEWABLE_KINDS:
        return None
    if access.can(user, Action.EDIT, org):
        return None  # nobody reviews themselves: not the organisation they lead
    if access.can(user, Action.MANAGE, org.parent):
        return _leading_org_over(user, org.parent)
    if any(g.role == Role.CONTACT and g.org_id == org.pk for g in grants_for(user)):
        return org  # a linked leader (联系点) reviews in the organisation's own name, at any time
    if method == Method.RANDOM and access.can(user, Action.EXPORT, org.parent):
        grant = max((g for g in grants_for(user) if g.covers(org.parent)), key=lambda g: g.lft)
        return Organization.objects.get(pk=grant.org_id)
    return None


def can_review_member(user, member: Member, period: Period) -> bool:
    """Write the member's review for the quarter: the secretary of the branch that owes it."""
    return reviewer_org_for_member(user, member, period) is not None


def can_review_org(user, org: Organization, method: str = "") -> bool:
    """Write a review of the organisation (or its secretary), by `method` when one is chosen."""
    return reviewer_org_for_org(user, org, method) is not None


def still_reviewer(user, review: LeaderReview) -> bool:
    """The reviewer, still holding a role at the organisation in whose name they reviewed."""
    return review.reviewer_id == getattr(user, "pk", None) and any(
        g.org_id == review.reviewer_org_id for g in grants_for(user)
    )


def get_member_for_review(user, pk, period: Period) -> Member:
    """The member `pk`, if the user sees them now or through the branch that owes their review
    for `period` (a member transferred since stays reachable for it); 404 otherwise."""
    member = Member.objects.select_related("org").filter(pk=access.object_id(pk)).first()
    if member is None:
        raise Http404("没有找到该党员。")
    if access.can_on_member(user, Action.VIEW, member):
        return member
    branch = member_branch_for(member, period)
    if branch is None or not access.can(user, Action.EXPORT, branch):
        raise Http404("没有找到该党员。")
    return member


# ---------------------------------------------------------------- reviews


def reviews_visible_to(user) -> QuerySet[LeaderReview]:
    """Every review the user may read (one range condition per reading grant)."""
    if not getattr(user, "is_authenticated", False):
        return LeaderReview.objects.none()
    q = Q(reviewer_id=user.pk) | (
        Q(subject_member__user_id=user.pk) & ~Q(status=ReviewStatus.DRAFT)
    )
    if any(g.role in access.READING for g in access.grants_for(user)):
        q |= Q(org__in=access.orgs_for(user, Action.EXPORT).values("pk"))
    return LeaderReview.objects.filter(q)


def can_view_review(user, review: LeaderReview) -> bool:
    """The rule of reviews_visible_to for one review, without a query beyond the grants."""
    return (
        review.reviewer_id == getattr(user, "pk", None)
        or access.can(user, Action.EXPORT, review.org)
        or (
            not review.is_draft
            and review.subject_member_id is not None
            and access.is_own_record(user, review.subject_member)
        )
    )


def edit_refusal(user, review: LeaderReview) -> str | None:
    """Why the user may not change or sign the draft: only its reviewer, still in office, while
    their organisation still owes it (after a member's transfer before the quarter's end the new
    branch owes it; the old branch's draft stays readable)."""
    if not still_reviewer(user, review):
        return "只有点评人本人（仍在任）可以修改和签字。"
    if not review.is_draft:
        if review.signed_at:
            signed = timezone.localtime(review.signed_at)
            return f"点评已于{signed:%Y年%m月%d日}签字，不能再修改；如需更正，请建立新版本。"
        return "点评已不能修改。"
    return owed_elsewhere_refusal(review)


def can_edit_review(user, review: LeaderReview) -> bool:
    return edit_refusal(user, review) is None


def can_sign_review(user, review: LeaderReview) -> bool:
    """Signing is the last change of a draft: the same rule as editing it."""
    return can_edit_review(user, review)


def correct_refusal(user, review: LeaderReview) -> str | None:
    """Why the user may not start a correction (a new version) of the signed review."""
    if not still_reviewer(user, review):
        return "只有点评人本人（仍在任）可以更正。"
    if not review.is_signed:
        return "只有已签字的点评需要以新版本更正。"
    return owed_elsewhere_refusal(review)  # its correction could never be signed


def can_correct_review(user, review: LeaderReview) -> bool:
    return correct_refusal(user, review) is None


# what the review page and the access rules read beside a review
_REVIEW_RELATED = (
    "org",
    "subject_org",
    "subject_member",
    "subject_member__org",
    "reviewer_org",
    "previous",
)


def get_review_for_user(user, pk, action: ReviewAction = ReviewAction.VIEW) -> LeaderReview:
    """The review `pk` if the user may read it (else 404) and do `action` on it (else 403)."""
    review = (
        LeaderReview.objects.select_related(*_REVIEW_RELATED)
        .filter(pk=access.object_id(pk))
        .first()
    )
    if review is None or not can_view_review(user, review):
        raise Http404("没有找到该点评。")
    _check(user, review, None, action)
    return review


def _check(user, review: LeaderReview, item: ReviewRectification | None, action) -> None:
    if action is ReviewAction.EDIT:
        reason = edit_refusal(user, review)
        if reason:
            raise PermissionDenied(reason)
    elif action is ReviewAction.REVIEWER:
        if review.reviewer_id != getattr(user, "pk", None):
            raise PermissionDenied("只有点评人本人可以进行此操作。")
    elif action is ReviewAction.REPORT:
        if item is None or not can_report_rectification(user, item):
            raise PermissionDenied("整改情况由被点评的党员或党组织报告。")
    elif action is not ReviewAction.VIEW:
        raise ValueError(action)


# ---------------------------------------------------------------- rectification items


def rectifications_visible_to(user) -> QuerySet[ReviewRectification]:
    """Items the user set, that concern organisations in the user's reading scope, or that are
    set on the user's own record."""
    if not getattr(user, "is_authenticated", False):
        return ReviewRectification.objects.none()
    scope = access.orgs_for(user, Action.EXPORT).values("pk")
    return ReviewRectification.objects.filter(
        Q(review__reviewer=user) | Q(org__in=scope) | Q(review__subject_member__user_id=user.pk)
    )


def issue_refusal(user, review: LeaderReview) -> str | None:
    """Why the user may not set a rectification item on the review."""
    if not still_reviewer(user, review):
        return "整改事项由点评人（仍在任）提出。"
    if not review.is_signed:
        return "点评签字后才能提出整改事项。"
    return owed_elsewhere_refusal(review)


def can_issue_rectification(user, review: LeaderReview) -> bool:
    return issue_refusal(user, review) is None


def can_report_rectification(user, item: ReviewRectification) -> bool:
    """Report on an item: the member reviewed or their branch's secretary; for an organisation
    (or its secretary), the organisation's secretary."""
    review = item.review
    if review.is_about_member:
        return access.is_own_record(user, review.subject_member) or access.can(
            user, Action.EDIT, review.org
        )
    return access.can(user, Action.EDIT, review.subject_org)


def can_close_rectification(user, item: ReviewRectification) -> bool:
    """Close or reopen an item: the reviewer who set it, still in office."""
    return still_reviewer(user, item.review)


def get_rectification_for_user(
    user, pk, action: ReviewAction = ReviewAction.VIEW
) -> ReviewRectification:
    """The item `pk` if the user may read its review (else 404) and do `action` (else 403)."""
    related = ["review", *(f"review__{name}" for name in _REVIEW_RELATED)]
    item = (
        ReviewRectification.objects.select_related(*related).filter(pk=access.object_id(pk)).first()
    )
    if item is None or not can_view_review(user, item.review):
        raise Http404("没有找到该整改事项。")
    _check(user, item.review, item, action)
    return item


# ---------------------------------------------------------------- exemptions


def can_grant_exemption(
    user,
    *,
    period: Period,
    subject_kind: str,
    subject_member: Member | None = None,
    subject_org: Organization | None = None,
) -> bool:
    """Waive a review: the secretary of the parent of the one who owes it."""
    if subject_kind == SubjectKind.MEMBER:
        reviewer_org = member_branch_for(subject_member, period)
    else:
        reviewer_org = subject_org.parent
    return reviewer_org is not None and access.can(user, Action.SUPERVISE, reviewer_org)


# ---------------------------------------------------------------- random draws


def can_draw_sample(user, scope: Organization) -> bool:
    """随机抽取 over a subtree: a secretary or the office above it."""
    return access.can(user, Action.EXPORT, scope)


def get_draw_for_user(user, pk) -> RandomDraw:
    """The draw `pk` if the user reads its scope; 404 otherwise."""
    draw = RandomDraw.objects.select_related("scope", "by").filter(pk=access.object_id(pk)).first()
    if draw is None or not can_draw_sample(user, draw.scope):
        raise Http404("没有找到该抽取记录。")
    return draw
