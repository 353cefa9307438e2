"""确定方案 and 公开述职: the plan and the subjects it lists, 暂缓评议, the statements, and the steps
up to the opening of the vote."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from orgs.events import record_event
from orgs.models import Organization
from orgs.periods import is_campaign_year
from orgs.refusals import refuse
from orgs.selectors import members_on
from reviews.appraisal import codes
from reviews.appraisal.access import can_plan_appraisal, can_write_statement
from reviews.appraisal.figures import touch_session
from reviews.appraisal.models import (
    Appraisal,
    AppraisalEvent,
    AppraisalKind,
    AppraisalState,
    AppraisalSubject,
    Group,
    VotingMethod,
)
from reviews.appraisal.selectors import kinds_for, subject_orgs
from reviews.appraisal.services.locks import lock_session, require_runner, require_state

PLAN_FIELDS = (
    "held_on",
    "place",
    "method",
    "content",
    "expected_member",
    "expected_masses",
    "expected_leader",
    "expected_recipient",
)
MAX_SUBJECTS = 1000


def _check_plan(appraisal: Appraisal, fields: dict[str, Any], today: datetime.date) -> None:
    if not str(fields.get("place", "")).strip():
        refuse("请填写评议地点。", "place")
    if not str(fields.get("content", "")).strip():
        refuse("请填写评议内容。", "content")
    if fields.get("method") not in VotingMethod.values:
        refuse("请选择评议方式。", "method")
    held_on = fields["held_on"]
    if held_on.year != appraisal.year:
        refuse(f"评议日期应在{appraisal.year}年内。", "held_on")
    groups = {str(g) for g in appraisal.groups}
    for group in Group.values:
        value = fields.get(f"expected_{group}") or 0
        if value < 0 or value > 100000:
            refuse("人数应在 0 到 100000 之间。", f"expected_{group}")
        if group not in groups and value:
            refuse(f"评议党员不设“{Group(group).label}”，人数应为 0。", f"expected_{group}")
    if not fields.get("expected_member") and not fields.get("expected_masses"):
        refuse("请填写应参加评议的党员或群众人数。", "expected_member")


def _plan_values(fields: dict[str, Any]) -> dict[str, Any]:
    values = {name: fields.get(name) for name in PLAN_FIELDS}
    for group in Group.values:
        values[f"expected_{group}"] = values.get(f"expected_{group}") or 0
    return values


def _sync_subjects(appraisal: Appraisal) -> int:
    """Make the subjects the roll on the day of the meeting (members) or the organisations below."""
    AppraisalSubject.objects.filter(appraisal=appraisal).delete()
    if appraisal.appraises_members:
        rows = (
            members_on(org=appraisal.org, day=appraisal.held_on)
            .order_by("name", "pk")
            .values_list("pk", "name")
            .distinct()
        )
        rows = [(pk, name) for pk, name in rows if f"m{pk}" not in appraisal.excluded]
        subjects = [
            AppraisalSubject(appraisal=appraisal, position=i, member_id=pk, name=name)
            for i, (pk, name) in enumerate(rows, start=1)
        ]
        if not subjects:
            refuse(
                f"{appraisal.org.name}在评议日期没有需要评议的在册党员，无法评议党员。", "held_on"
            )
    else:
        orgs = [o for o in subject_orgs(appraisal.org) if f"o{o.pk}" not in appraisal.excluded]
        subjects = [
            AppraisalSubject(appraisal=appraisal, position=i, subject_org_id=o.pk, name=o.name)
            for i, o in enumerate(orgs, start=1)
        ]
        if not subjects:
            refuse(f"{appraisal.org.name}没有需要评议的下级基层党组织，无法评议党组织。")
    if len(subjects) > MAX_SUBJECTS:
        refuse(f"一次评议最多 {MAX_SUBJECTS} 个对象，请分批组织。")
    AppraisalSubject.objects.bulk_create(subjects, batch_size=1000)
    return len(subjects)


@transaction.atomic
def appraisal_create(
    *, by, org: Organization, kind: str, year: int, today: datetime.date | None = None, **fields
) -> Appraisal:
    """制定方案: a session of `org` for `year`, its subjects listed from the roll (members) or the
    basic-level organisations below it."""
    today = today or timezone.localdate()
    if not can_plan_appraisal(by, org):
        refuse(f"只有{org.name}的书记或副书记可以制定评议方案。")
    if kind not in kinds_for(org):
        if kind == AppraisalKind.MEMBER:
            refuse("只有党委、党总支和党支部组织评议党员。", "kind")
        refuse("该组织下没有基层党组织可供评议。", "kind")
    if not is_campaign_year(year) or year > today.year + 1:
        refuse("年度有误。", "year")
    appraisal = Appraisal(
        org=org,
        kind=kind,
        year=year,
        public_id=codes.new_public_id(),
        slip_salt=codes.new_salt(),
        created_by=by,
        **_plan_values(fields),
    )
    _check_plan(appraisal, fields, today)
    if Appraisal.objects.filter(org=org, kind=kind, year=year).exists():
        refuse(f"{org.name}{year}年的{appraisal.get_kind_display()}已经有方案了。", "year")
    try:
        with transaction.atomic():
            appraisal.save()
    except IntegrityError:
        refuse(f"{org.name}{year}年的{appraisal.get_kind_display()}已经有方案了。", "year")
    count = _sync_subjects(appraisal)
    touch_session(appraisal)
    record_event(
        AppraisalEvent, appraisal=appraisal, by=by, action="create", comment=f"评议对象 {count} 个"
    )
    return appraisal


@transaction.atomic
def appraisal_update(*, by, appraisal: Appraisal, today=None, **fields) -> Appraisal:
    """修改方案 (plan step only); the subjects are listed again from the roll."""
    today = today or timezone.localdate()
    appraisal = lock_session(appraisal)
    require_runner(by, appraisal)
    require_state(appraisal, AppraisalState.PLAN)
    _check_plan(appraisal, fields, today)
    values = _plan_values(fields)
    changed = [n for n in PLAN_FIELDS if getattr(appraisal, n) != values[n]]
    for name, value in values.items():
        setattr(appraisal, name, value)
    appraisal.save()
    count = _sync_subjects(appraisal)
    labels = [str(Appraisal._meta.get_field(n).verbose_name) for n in changed]
    record_event(
        AppraisalEvent,
        appraisal=appraisal,
        by=by,
        action="edit",
        comment=f"{'、'.join(labels) or '无变化'}；对象 {count} 个",
    )
    return appraisal


def voting_date_refusal(appraisal: Appraisal, today: datetime.date) -> str:
    """Why voting may not open on `today` ("" if it may): the vote is taken at the meeting."""
    if today < appraisal.held_on:
        # the plan (and the roll it fixes for the meeting day) can change only before 公开述职
        advice = "如日期有变，请先修改方案。" if appraisal.is_planned else "请在评议当天开始评议。"
        held = appraisal.held_on
        return f"评议日期为{held.year}年{held.month}月{held.day}日，不能提前开始评议；{advice}"
    return ""


@transaction.atomic
def appraisal_advance(*, by, appraisal: Appraisal, today: datetime.date | None = None) -> Appraisal:
    """确定方案 → 公开述职 → 组织评议 (voting opens, not before the planned meeting date)."""
    today = today or timezone.localdate()
    appraisal = lock_session(appraisal)
    require_runner(by, appraisal)
    require_state(appraisal, AppraisalState.PLAN, AppraisalState.STATEMENTS)
    if appraisal.is_planned:
        appraisal.state = AppraisalState.STATEMENTS
    else:
        refusal = voting_date_refusal(appraisal, today)
        if refusal:
            refuse(refusal)
        appraisal.subject_count = AppraisalSubject.objects.filter(appraisal=appraisal).count()
        if not appraisal.subject_count:
            refuse("没有评议对象，不能开始评议。")
        appraisal.state = AppraisalState.VOTING
    appraisal.save(update_fields=["state", "subject_count", "updated_at"])
    touch_session(appraisal)
    record_event(AppraisalEvent, appraisal=appraisal, by=by, action=appraisal.state)
    return appraisal


@transaction.atomic
def subject_exclude(*, by, subject: AppraisalSubject, reason: str) -> Appraisal:
    """暂缓评议: leave a subject out of this year's session, with the reason (plan step only)."""
    appraisal = lock_session(subject.appraisal)
    require_runner(by, appraisal)
    require_state(appraisal, AppraisalState.PLAN)
    reason = str(reason or "").replace("\x00", "").strip()
    if not reason:
        refuse(f"请填写“{subject.name}”暂缓评议的原因。", "reason")
    key = f"m{subject.member_id}" if subject.member_id else f"o{subject.subject_org_id}"
    appraisal.excluded = {**appraisal.excluded, key: {"name": subject.name, "reason": reason[:200]}}
    appraisal.save(update_fields=["excluded", "updated_at"])
    _sync_subjects(appraisal)
    record_event(
        AppraisalEvent,
        appraisal=appraisal,
        by=by,
        action="exclude",
        comment=f"{subject.name}：{reason[:200]}",
    )
    return appraisal


@transaction.atomic
def subject_restore(*, by, appraisal: Appraisal, key: str) -> Appraisal:
    """Take a subject back from 暂缓评议 (plan step only)."""
    appraisal = lock_session(appraisal)
    require_runner(by, appraisal)
    require_state(appraisal, AppraisalState.PLAN)
    if key not in appraisal.excluded:
        refuse("该对象不在暂缓评议名单中。")
    name = appraisal.excluded[key]["name"]
    appraisal.excluded = {k: v for k, v in appraisal.excluded.items() if k != key}
    appraisal.save(update_fields=["excluded", "updated_at"])
    _sync_subjects(appraisal)
    record_event(AppraisalEvent, appraisal=appraisal, by=by, action="restore", comment=name)
    return appraisal


# ---------------------------------------------------------------- 公开述职


@transaction.atomic
def statement_save(*, by, subject: AppraisalSubject, text: str) -> AppraisalSubject:
    """A subject's 述职, written while statements are taken (公开述职 and 组织评议)."""
    appraisal = lock_session(subject.appraisal)
    subject.appraisal = appraisal
    if not can_write_statement(by, subject):
        refuse("只有评议对象本人（本组织书记）或组织评议的书记可以填写述职。")
    require_state(appraisal, AppraisalState.STATEMENTS, AppraisalState.VOTING)
    text = str(text or "").strip()
    if not text:
        refuse("请填写述职内容。", "statement")
    if len(text) > 3000:
        refuse("述职内容请控制在 3000 字以内。", "statement")
    subject.statement = text
    subject.statement_by = by
    subject.statement_at = timezone.now()
    subject.save(update_fields=["statement", "statement_by", "statement_at"])
    record_event(
        AppraisalEvent, appraisal=appraisal, by=by, action="statement", comment=subject.name
    )
    return subject
