"""Leader reviews (领导点评): drafting, signing, corrections as new versions, rectification items,
exemptions and random draws. Every change leaves a ReviewEvent."""

from __future__ import annotations

import datetime
import random
import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from orgs import access
from orgs.access import LEADING, Action, grants_for
from orgs.models import MEMBER_HOLDING_KINDS, Member, Organization, Role
from orgs.periods import HALF, QUARTER, Period
from orgs.selectors import membership_org_on
from reviews.models import (
    Exemption,
    ItemStatus,
    LeaderReview,
    Method,
    RandomDraw,
    ReviewEvent,
    ReviewRectification,
    ReviewStatus,
    SubjectKind,
)

TEXT_FIELDS = ("method", "reviewed_on", "achievements", "shortcomings", "direction", "scope")
REVIEWABLE_KINDS = MEMBER_HOLDING_KINDS  # 基层党委, 党总支, 党支部


def _refuse(message: str, field: str | None = None):
    raise ValidationError({field: message} if field else message)


def _event(review, *, by, action, comment="", changes=None) -> None:
    ReviewEvent.objects.create(
        review=review,
        actor=by if getattr(by, "is_authenticated", False) else None,
        action=action,
        comment=comment[:2000],
        changes=changes or {},
    )


def _text(value) -> str:
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def _check_texts(fields: dict, today: datetime.date, period: Period | None = None) -> None:
    for name, label in (
        ("achievements", "成绩"),
        ("shortcomings", "不足"),
        ("direction", "努力方向"),
    ):
        if not str(fields.get(name, "")).strip():
            _refuse(f"请填写“{label}”。", name)
    if fields.get("method") not in Method.values:
        _refuse("请选择点评方式。", "method")
    if fields["reviewed_on"] > today:
        _refuse("点评日期不能晚于今天。", "reviewed_on")
    if period is not None and fields["reviewed_on"] < period.start:
        _refuse(f"点评日期应在{period.label}开始之后。", "reviewed_on")


def _leading_org_over(user, org: Organization) -> Organization | None:
    """The deepest organisation at or above `org` where the user holds a leading role."""
    best = None
    for g in grants_for(user):
        if g.role in LEADING and g.covers(org) and (best is None or g.lft > best.lft):
            best = g
    return Organization.objects.get(pk=best.org_id) if best else None


def member_branch_for(member: Member, period: Period) -> Organization | None:
    """The branch that owes the member a review for the period: the one at the period's end."""
    return membership_org_on(member=member, day=period.end)


def owing_branch_moved(review: LeaderReview) -> Organization | None:
    """For a member's review by a branch that no longer owes it (the member was transferred
    before the quarter's end), the branch that owes it now; None while the reviewer still owes
    it. A member who has left every branch is owed by nobody: the reviewing branch again."""
    if review.subject_kind != SubjectKind.MEMBER:
        return None
    branch = member_branch_for(review.subject_member, review.period_obj)
    if branch is None or branch.pk == review.reviewer_org_id:
        return None
    return branch


def refuse_if_owed_elsewhere(review: LeaderReview) -> None:
    """Refuse to change a member's review that another branch owes now."""
    branch = owing_branch_moved(review)
    if branch is not None:
        _refuse(
            f"“{review.subject_member.name}”已转至“{branch.name}”，{review.period_label}的点评"
            f"改由“{branch.name}”负责；本支部的这份点评只能查看，不能再修改、签字或更正。"
        )


def may_review_member(user, member: Member, period: Period) -> Organization | None:
    """The branch in whose name `user` reviews `member` for `period`, or None."""
    branch = member_branch_for(member, period)
    if (
        branch is not None
        and access.can(user, Action.EDIT, branch)
        and not access.is_own_record(user, member)
    ):
        return branch
    return None


def may_review_org(user, org: Organization, method: str = "") -> Organization | None:
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
    if period.start > today:
        _refuse(f"{period.label}尚未开始。", "period")
    if subject_kind == SubjectKind.MEMBER:
        if period.kind != QUARTER:
            _refuse("对党员的点评按季度进行。", "period")
        reviewer_org = may_review_member(by, subject_member, period)
        if reviewer_org is None:
            _refuse("党员由其在该季度末所在党支部的书记点评（不能点评本人）。")
        org = reviewer_org
    else:
        if period.kind != HALF:
            _refuse("对党组织及其书记的点评按半年进行。", "period")
        reviewer_org = may_review_org(by, subject_org, fields["method"])
        if reviewer_org is None:
            _refuse("党组织及其书记由上级党组织负责人点评（随机点评也可由上级活动办公室进行）。")
        if subject_kind == SubjectKind.SECRETARY:
            if subject_org.secretary_id is None:
                _refuse(f"“{subject_org.name}”尚未设定书记。")
            subject_member = subject_org.secretary
            if access.is_own_record(by, subject_member):
                _refuse("不能点评本人。")
        org = subject_org
    same = LeaderReview.objects.filter(
        year=period.year, period_kind=period.kind, period=period.number, subject_kind=subject_kind,
        reviewer_org=reviewer_org, status__in=[ReviewStatus.DRAFT, ReviewStatus.SIGNED],
    )  # fmt: skip
    same = (
        same.filter(subject_member=subject_member)
        if subject_kind == SubjectKind.MEMBER
        else same.filter(subject_org=subject_org)
    )
    already = f"{period.label}已有对该对象的点评，请继续修改草稿或对已签字的点评建立更正版本。"
    if same.exists():
        _refuse(already)
    if _exemption_for(period, subject_kind, subject_member, subject_org).exists():
        _refuse(f"该对象{period.label}已免予点评。")
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
            _refuse(already)
        raise
    _event(review, by=by, action="create")
    return review


def still_reviewer(by, review: LeaderReview) -> bool:
    """The reviewer, still holding a role at the organisation in whose name they reviewed."""
    return review.reviewer_id == getattr(by, "pk", None) and any(
        g.org_id == review.reviewer_org_id for g in grants_for(by)
    )


def _own_draft(by, review: LeaderReview) -> LeaderReview:
    review = LeaderReview.objects.select_for_update(of=("self",)).get(pk=review.pk)
    if not still_reviewer(by, review):
        _refuse("只有点评人本人（仍在任）可以修改和签字。")
    if review.status != ReviewStatus.DRAFT:
        _refuse(
            f"点评已于{timezone.localtime(review.signed_at):%Y年%m月%d日}签字，不能再修改；如需更正，请建立新版本。"
            if review.signed_at
            else "点评已不能修改。"
        )
    refuse_if_owed_elsewhere(review)
    return review


@transaction.atomic
def review_update(*, by, review: LeaderReview, today=None, **fields) -> LeaderReview:
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
        _event(review, by=by, action="update", changes=changed)
    return review


@transaction.atomic
def review_sign(*, by, review: LeaderReview) -> LeaderReview:
    """Sign the 点评意见表; a signed review never changes. Signing a correction retires the
    version it corrects (which stays readable)."""
    review = _own_draft(by, review)
    review.status, review.signed_at = ReviewStatus.SIGNED, timezone.now()
    review.save(update_fields=["status", "signed_at", "updated_at"])
    if review.previous_id:
        LeaderReview.objects.filter(pk=review.previous_id).update(status=ReviewStatus.SUPERSEDED)
    _event(review, by=by, action="sign")
    return review


@transaction.atomic
def review_correct(*, by, review: LeaderReview) -> LeaderReview:
    """Start a correction: a new draft version that copies the signed one."""
    review = LeaderReview.objects.select_for_update(of=("self",)).get(pk=review.pk)
    if not still_reviewer(by, review):
        _refuse("只有点评人本人（仍在任）可以更正。")
    if review.status != ReviewStatus.SIGNED:
        _refuse("只有已签字的点评需要以新版本更正。")
    refuse_if_owed_elsewhere(review)  # its correction could never be signed
    if LeaderReview.objects.filter(previous=review).exists():
        _refuse("该点评已有更正版本。")
    copy = LeaderReview.objects.get(pk=review.pk)
    copy.pk, copy.id = None, None
    copy.status, copy.signed_at, copy.version, copy.previous = (
        ReviewStatus.DRAFT,
        None,
        review.version + 1,
        review,
    )
    copy.save()
    _event(copy, by=by, action="correct", comment=f"更正第{review.version}版")
    return copy


# ---------------------------------------------------------------- rectification items


@transaction.atomic
def item_add(
    *, by, review: LeaderReview, text: str, deadline: datetime.date, today=None
) -> ReviewRectification:
    today = today or timezone.localdate()
    if not still_reviewer(by, review):
        _refuse("整改事项由点评人（仍在任）提出。")
    if review.status != ReviewStatus.SIGNED:
        _refuse("点评签字后才能提出整改事项。")
    refuse_if_owed_elsewhere(review)
    if not text.strip():
        _refuse("请填写整改事项。", "text")
    if deadline <= today:
        _refuse("整改期限应晚于今天。", "deadline")
    item = ReviewRectification.objects.create(
        review=review, org=review.org, text=text, deadline=deadline
    )
    _event(review, by=by, action="rectify", comment=f"{text}（期限 {deadline:%Y-%m-%d}）")
    return item


def may_report_item(user, item: ReviewRectification) -> bool:
    review = item.review
    if review.subject_kind == SubjectKind.MEMBER:
        return access.is_own_record(user, review.subject_member) or access.can(
            user, Action.EDIT, review.org
        )
    return access.can(user, Action.EDIT, review.subject_org)


@transaction.atomic
def item_report(*, by, item: ReviewRectification, report: str) -> ReviewRectification:
    item = (
        ReviewRectification.objects.select_for_update(of=("self",))
        .select_related("review")
        .get(pk=item.pk)
    )
    if not may_report_item(by, item):
        _refuse("整改情况由被点评的党员或党组织报告。")
    if item.status == ItemStatus.CLOSED:
        _refuse("该整改事项已销号。")
    if not report.strip():
        _refuse("请填写整改情况。", "report")
    item.report, item.status = report, ItemStatus.REPORTED
    item.save(update_fields=["report", "status"])
    _event(item.review, by=by, action="rectify_report", comment=report)
    return item


@transaction.atomic
def item_close(*, by, item: ReviewRectification, reopen: bool = False) -> ReviewRectification:
    item = (
        ReviewRectification.objects.select_for_update(of=("self",))
        .select_related("review")
        .get(pk=item.pk)
    )
    if not still_reviewer(by, item.review):
        _refuse("整改事项由点评人（仍在任）销号或重新打开。")
    if reopen:
        if item.status != ItemStatus.CLOSED:
            _refuse("该整改事项尚未销号。")
        item.status, item.closed_at = ItemStatus.OPEN, None
    else:
        if item.status != ItemStatus.REPORTED:
            _refuse("被点评方报告整改情况后才能销号。")
        item.status, item.closed_at = ItemStatus.CLOSED, timezone.now()
    item.save(update_fields=["status", "closed_at"])
    _event(
        item.review,
        by=by,
        action="rectify_reopen" if reopen else "rectify_close",
        comment=item.text,
    )
    return item


# ---------------------------------------------------------------- exemptions


def _exemption_for(period: Period, subject_kind: str, subject_member, subject_org):
    found = Exemption.objects.filter(
        year=period.year, period_kind=period.kind, period=period.number, subject_kind=subject_kind
    )
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
        _refuse("请写明免予点评的原因。", "reason")
    if (subject_kind == SubjectKind.MEMBER) != (period.kind == QUARTER):
        _refuse("党员按季度、党组织及其书记按半年免予点评。")
    if period.start > timezone.localdate():
        _refuse(f"{period.label}尚未开始。")
    if subject_kind == SubjectKind.MEMBER:
        reviewer_org = member_branch_for(subject_member, period)
        org = reviewer_org
    else:
        reviewer_org = subject_org.parent
        org = subject_org
    if reviewer_org is None or not access.can(by, Action.SUPERVISE, reviewer_org):
        _refuse("免予点评由点评责任人的上级党组织书记决定。")
    if _exemption_for(period, subject_kind, subject_member, subject_org).exists():
        _refuse("该对象本期已免予点评。")
    reviewed = LeaderReview.objects.filter(
        year=period.year, period_kind=period.kind, period=period.number, subject_kind=subject_kind,
        status__in=[ReviewStatus.DRAFT, ReviewStatus.SIGNED],
    )  # fmt: skip
    reviewed = (
        reviewed.filter(subject_member=subject_member)
        if subject_kind == SubjectKind.MEMBER
        else reviewed.filter(subject_org=subject_org)
    )
    if reviewed.exists():
        _refuse("该对象本期已有点评，不再免予点评。")
    return Exemption.objects.create(
        year=period.year, period_kind=period.kind, period=period.number, subject_kind=subject_kind,
        subject_member=subject_member if subject_kind != SubjectKind.ORG else None,
        subject_org=subject_org if subject_kind != SubjectKind.MEMBER else None,
        org=org, reason=reason, by=by,
    )  # fmt: skip


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
    if not access.can(by, Action.EXPORT, scope):
        _refuse("随机抽取由上级党组织书记或活动办公室进行。")
    ids = _population(scope)
    if not 1 <= size <= min(len(ids), 200):
        _refuse(f"抽取数量应在 1 到 {min(len(ids), 200)} 之间（候选组织 {len(ids)} 个）。", "size")
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
