"""Leader reviews (领导点评): drafting, signing, corrections as new versions, rectification items,
exemptions and random draws. Every change leaves a ReviewEvent."""

from __future__ import annotations

import datetime
import random
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from orgs import access, figures
from orgs.access import grants_for
from orgs.events import record_event
from orgs.locks import refuse_if_locked
from orgs.models import Member, Organization
from orgs.periods import HALF, QUARTER, Period
from orgs.rectifications import rectification_mark_closed, rectification_mark_reported
from orgs.refusals import refuse
from reviews.access import (
    can_close_rectification,
    can_draw_sample,
    can_grant_exemption,
    can_report_rectification,
    correct_refusal,
    edit_refusal,
    issue_refusal,
    member_branch_for,
    reviewer_org_for_member,
    reviewer_org_for_org,
)
from reviews.models import (
    REVIEWABLE_KINDS,
    Exemption,
    LeaderReview,
    Method,
    RandomDraw,
    ReviewEvent,
    ReviewRectification,
    ReviewStatus,
    SubjectKind,
)

TEXT_FIELDS = ("method", "reviewed_on", "achievements", "shortcomings", "direction", "scope")


def _text(value) -> str:
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def _check_texts(fields: dict, today: datetime.date, period: Period | None = None) -> None:
    for name, label in (
        ("achievements", "成绩"),
        ("shortcomings", "不足"),
        ("direction", "努力方向"),
    ):
        if not str(fields.get(name, "")).strip():
            refuse(f"请填写“{label}”。", name)
    if fields.get("method") not in Method.values:
        refuse("请选择点评方式。", "method")
    if fields["reviewed_on"] > today:
        refuse("点评日期不能晚于今天。", "reviewed_on")
    if period is not None and fields["reviewed_on"] < period.start:
        refuse(f"点评日期应在{period.label}开始之后。", "reviewed_on")


def _reviewer_identity(user, reviewer_org: Organization) -> tuple[str, str]:
    member = Member.objects.filter(user=user).first()
    name = member.name if member else (user.get_full_name() or user.get_username())
    roles = [g.role.label for g in grants_for(user) if g.org_id == reviewer_org.pk]
    post = f"{reviewer_org.name}{roles[0] if roles else ''}"
    return name, post


@transaction.atomic
def review_create(
    *,
    by,
    subject_kind: str,
    period: Period,
    subject_member: Member | None = None,
    subject_org: Organization | None = None,
    today: datetime.date | None = None,
    **fields,
) -> LeaderReview:
    """Draft a review of a member (quarterly) or of an organisation or its secretary (half-yearly)."""
    today = today or timezone.localdate()
    fields = {name: fields.get(name, "") for name in TEXT_FIELDS}
    _check_texts(fields, today, period)
    if not period.has_begun(today):
        refuse(f"{period.label}尚未开始。", "period")
    if subject_kind == SubjectKind.MEMBER:
        if period.kind != QUARTER:
            refuse("对党员的点评按季度进行。", "period")
        reviewer_org = reviewer_org_for_member(by, subject_member, period)
        if reviewer_org is None:
            refuse("党员由其在该季度末所在党支部的书记点评（不能点评本人）。")
        org = reviewer_org
    else:
        if period.kind != HALF:
            refuse("对党组织及其书记的点评按半年进行。", "period")
        reviewer_org = reviewer_org_for_org(by, subject_org, fields["method"])
        if reviewer_org is None:
            refuse("党组织及其书记由上级党组织负责人点评（随机点评也可由上级活动办公室进行）。")
        if subject_kind == SubjectKind.SECRETARY:
            if subject_org.secretary_id is None:
                refuse(f"“{subject_org.name}”尚未设定书记。")
            subject_member = subject_org.secretary
            if access.is_own_record(by, subject_member):
                refuse("不能点评本人。")
        org = subject_org
    same = (
        LeaderReview.objects.live()
        .in_period(period)
        .filter(subject_kind=subject_kind, reviewer_org=reviewer_org)
    )
    same = (
        same.filter(subject_member=subject_member)
        if subject_kind == SubjectKind.MEMBER
        else same.filter(subject_org=subject_org)
    )
    already = f"{period.label}已有对该对象的点评，请继续修改草稿或对已签字的点评建立更正版本。"
    if same.exists():
        refuse(already)
    if _exemption_for(period, subject_kind, subject_member, subject_org).exists():
        refuse(f"该对象{period.label}已免予点评。")
    name, post = _reviewer_identity(by, reviewer_org)
    try:
        with transaction.atomic():  # a savepoint: a simultaneous request may have won the race
            review = LeaderReview.objects.create(
                reviewer=by, reviewer_name=name, reviewer_post=post, reviewer_org=reviewer_org,
                subject_kind=subject_kind,
                subject_org=subject_org if subject_kind != SubjectKind.MEMBER else None,
                subject_member=subject_member, org=org, year=period.year, period_kind=period.kind,
                period=period.number, **fields,
            )  # fmt: skip
    except IntegrityError:
        if same.exists():  # the one-live-review constraint: the other request's review
            refuse(already)
        raise
    record_event(ReviewEvent, by=by, action="create", review=review)
    return review


def _touch(review: LeaderReview) -> None:
    """The kept figures a signed review changes: the organisation it counts for (the member's
    branch, or the organisation reviewed) and the reviewer's (its 书记作点评)."""
    figures.touch_period(
        [review.org_id, review.reviewer_org_id], review.period_obj, keys=("reviews",)
    )


def _locked(review: LeaderReview) -> LeaderReview:
    return (
        LeaderReview.objects.select_for_update(of=("self",))
        .select_related("subject_member", "subject_org")
        .get(pk=review.pk)
    )


def _own_draft(by, review: LeaderReview) -> LeaderReview:
    review = _locked(review)
    reason = edit_refusal(by, review)
    if reason:
        refuse(reason)
    return review


@transaction.atomic
def review_update(*, by, review: LeaderReview, today=None, **fields) -> LeaderReview:
    """Change the texts of a draft; the changed fields go into its history."""
    review = _own_draft(by, review)
    merged = {name: fields.get(name, getattr(review, name)) for name in TEXT_FIELDS}
    _check_texts(merged, today or timezone.localdate(), review.period_obj)
    changed = {
        n: [_text(getattr(review, n)), _text(v)]
        for n, v in merged.items()
        if getattr(review, n) != v
    }
    if changed:
        for name in changed:
            setattr(review, name, merged[name])
        review.save(update_fields=[*changed, "updated_at"])
        record_event(ReviewEvent, by=by, action="update", review=review, changes=changed)
    return review


@transaction.atomic
def review_sign(*, by, review: LeaderReview) -> LeaderReview:
    """Sign the 点评意见表; a signed review never changes. Signing a correction retires the
    version it corrects (which stays readable)."""
    review = _own_draft(by, review)
    refuse_if_locked("review", [review.previous_id])  # the corrected version would be retired
    review.status, review.signed_at = ReviewStatus.SIGNED, timezone.now()
    review.save(update_fields=["status", "signed_at", "updated_at"])
    if review.previous_id:
        LeaderReview.objects.filter(pk=review.previous_id).update(status=ReviewStatus.SUPERSEDED)
    record_event(ReviewEvent, by=by, action="sign", review=review)
    _touch(review)
    return review


@transaction.atomic
def review_correct(*, by, review: LeaderReview) -> LeaderReview:
    """Start a correction: a new draft version that copies the signed one."""
    review = _locked(review)
    reason = correct_refusal(by, review)
    if reason:
        refuse(reason)
    if LeaderReview.objects.filter(previous=review).exists():
        refuse("该点评已有更正版本。")
    refuse_if_locked("review", [review.pk])  # signing the correction would retire this one
    copy = LeaderReview.objects.get(pk=review.pk)
    copy.pk, copy.id = None, None
    copy.status, copy.signed_at, copy.version, copy.previous = (
        ReviewStatus.DRAFT,
        None,
        review.version + 1,
        review,
    )
    copy.save()
    record_event(
        ReviewEvent, by=by, action="correct", review=copy, comment=f"更正第{review.version}版"
    )
    return copy


# ---------------------------------------------------------------- rectification items


@transaction.atomic
def rectification_issue(
    *, by, review: LeaderReview, requirement: str, deadline: datetime.date, today=None
) -> ReviewRectification:
    """Set a rectification item on a signed review (the reviewer, while their branch owes it)."""
    today = today or timezone.localdate()
    review = _locked(review)
    reason = issue_refusal(by, review)
    if reason:
        refuse(reason)
    if not requirement.strip():
        refuse("请填写整改事项。", "requirement")
    if deadline <= today:
        refuse("整改期限应晚于今天。", "deadline")
    item = ReviewRectification.objects.create(
        review=review, org=review.org, requirement=requirement, deadline=deadline, issued_by=by
    )
    record_event(
        ReviewEvent, by=by, action="rectify", review=review,
        comment=f"{requirement}（期限 {deadline:%Y-%m-%d}）",
    )  # fmt: skip
    figures.touch_period(item.org_id, review.period_obj, keys=("reviews",))
    return item


def _locked_item(rectification: ReviewRectification) -> ReviewRectification:
    return (
        ReviewRectification.objects.select_for_update(of=("self",))
        .select_related("review", "review__org", "review__subject_org", "review__subject_member")
        .get(pk=rectification.pk)
    )


@transaction.atomic
def rectification_report(
    *, by, rectification: ReviewRectification, response: str
) -> ReviewRectification:
    """Report what was done on an item: the member or organisation reviewed. A reported item
    is still open (the reviewer has not closed it): no figure changes."""
    item = _locked_item(rectification)
    if not can_report_rectification(by, item):
        refuse("整改情况由被点评的党员或党组织报告。")
    rectification_mark_reported(item, response=response)
    record_event(ReviewEvent, by=by, action="rectify_report", review=item.review, comment=response)
    return item


@transaction.atomic
def rectification_close(
    *, by, rectification: ReviewRectification, reopen: bool = False
) -> ReviewRectification:
    """Close a reported item, or reopen a closed one: the reviewer who set it, still in office."""
    item = _locked_item(rectification)
    if not can_close_rectification(by, item):
        refuse("整改事项由点评人（仍在任）销号或重新打开。")
    rectification_mark_closed(item, reopen=reopen)
    record_event(
        ReviewEvent, by=by, action="rectify_reopen" if reopen else "rectify_close",
        review=item.review, comment=item.requirement,
    )  # fmt: skip
    figures.touch_period(item.org_id, item.review.period_obj, keys=("reviews",))
    return item


# ---------------------------------------------------------------- exemptions


def _exemption_for(period: Period, subject_kind: str, subject_member, subject_org):
    found = Exemption.objects.in_period(period).filter(subject_kind=subject_kind)
    if subject_kind == SubjectKind.MEMBER:
        return found.filter(subject_member=subject_member)
    return found.filter(subject_org=subject_org)


@transaction.atomic
def exemption_grant(
    *, by, period: Period, subject_kind: str, reason: str,
    subject_member: Member | None = None, subject_org: Organization | None = None,
) -> Exemption:  # fmt: skip
    """Waive an obligation for a period (long illness, organisation dissolved…): by the
    reviewer's parent secretary."""
    if not reason.strip():
        refuse("请写明免予点评的原因。", "reason")
    if period.kind != (QUARTER if subject_kind == SubjectKind.MEMBER else HALF):
        refuse("党员按季度、党组织及其书记按半年免予点评。")
    if not period.has_begun(timezone.localdate()):
        refuse(f"{period.label}尚未开始。")
    subject = {"subject_member": subject_member, "subject_org": subject_org}
    if not can_grant_exemption(by, period=period, subject_kind=subject_kind, **subject):
        refuse("免予点评由点评责任人的上级党组织书记决定。")
    if subject_kind == SubjectKind.MEMBER:
        org = member_branch_for(subject_member, period)
    else:
        org = subject_org
    if _exemption_for(period, subject_kind, subject_member, subject_org).exists():
        refuse("该对象本期已免予点评。")
    reviewed = LeaderReview.objects.live().in_period(period).filter(subject_kind=subject_kind)
    reviewed = (
        reviewed.filter(subject_member=subject_member)
        if subject_kind == SubjectKind.MEMBER
        else reviewed.filter(subject_org=subject_org)
    )
    if reviewed.exists():
        refuse("该对象本期已有点评，不再免予点评。")
    exemption = Exemption.objects.create(
        year=period.year, period_kind=period.kind, period=period.number, subject_kind=subject_kind,
        subject_member=subject_member if subject_kind != SubjectKind.ORG else None,
        subject_org=subject_org if subject_kind != SubjectKind.MEMBER else None,
        org=org, reason=reason, by=by,
    )  # fmt: skip
    # a member is exempted at the branch that owes the review; an organisation or its secretary
    # at the organisation, and its parent no longer owes that review
    figures.touch_period(
        [org.pk] if subject_kind == SubjectKind.MEMBER else [org.pk, org.parent_id], period
    )
    return exemption


# ---------------------------------------------------------------- random review


def _population(scope: Organization) -> list[int]:
    return list(
        Organization.objects.filter(scope.subtree_q(), kind__in=REVIEWABLE_KINDS, is_active=True)
        .exclude(pk=scope.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def draw_sample(ids: list[int], size: int, seed: str) -> list[int]:
    """The sample a seed gives: anyone can repeat it from the seed and the sorted candidates."""
    return sorted(random.Random(seed).sample(ids, size))


@transaction.atomic
def random_draw(*, by, scope: Organization, size: int, seed: str = "") -> RandomDraw:
    """随机点评: draw `size` organisations from the subtree; the seed is recorded."""
    if not can_draw_sample(by, scope):
        refuse("随机抽取由上级党组织书记或活动办公室进行。")
    ids = _population(scope)
    if not 1 <= size <= min(len(ids), 200):
        refuse(f"抽取数量应在 1 到 {min(len(ids), 200)} 之间（候选组织 {len(ids)} 个）。", "size")
    seed = seed.strip() or secrets.token_hex(8)
    picked = draw_sample(ids, size, seed)
    return RandomDraw.objects.create(
        scope=scope,
        by=by,
        size=size,
        seed=seed,
        population=len(ids),
        picked=picked,
        candidates=ids,
    )


def draw_verify(draw: RandomDraw) -> bool:
    """Whether the recorded sample follows from the recorded seed over the recorded candidates."""
    return draw_sample(draw.candidates, draw.size, draw.seed) == draw.picked
