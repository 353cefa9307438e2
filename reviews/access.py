"""Who may read which leader review, built on orgs.access (the one source of roles and scope).

A review is read by its reviewer, by the reading roles over the organisation it counts for
(`review.org`: the member's branch for the period, or the organisation reviewed), and — once
signed — by the member it is about. Outside that a review is 404, never 403.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from orgs import access
from orgs.access import Action
from reviews.models import LeaderReview, ReviewStatus
from reviews.services import owing_branch_moved, still_reviewer


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


def may_view(user, review: LeaderReview) -> bool:
    """The rule of reviews_visible_to for one review, without a query beyond the grants."""
    return (
        review.reviewer_id == getattr(user, "pk", None)
        or access.can(user, Action.EXPORT, review.org)
        or (
            review.status != ReviewStatus.DRAFT
            and review.subject_member_id is not None
            and access.is_own_record(user, review.subject_member)
        )
    )


def may_edit(user, review: LeaderReview) -> bool:
    """Edit and sign a draft: its reviewer, still in office, while their organisation still owes
    it (after a member's transfer before the quarter's end the new branch owes it; the old
    branch's draft stays readable)."""
    return (
        review.status == ReviewStatus.DRAFT
        and still_reviewer(user, review)
        and owing_branch_moved(review) is None
    )


def get_review_or_404(user, pk) -> LeaderReview:
    """The review `pk` if the user may read it; 404 otherwise."""
    review = (
        LeaderReview.objects.select_related(
            "org",
            "subject_org",
            "subject_member",
            "subject_member__org",
            "reviewer_org",
            "previous",
        )
        .filter(pk=access.object_id(pk))
        .first()
    )
    if review is None or not may_view(user, review):
        raise Http404("没有找到该点评。")
    return review
