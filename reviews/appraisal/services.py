"""Every change to an appraisal session. Each refuses with a Chinese ValidationError and, apart from
casting a ballot, leaves an AppraisalEvent."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from orgs import access
from orgs.access import Action
from orgs.accounts import password_is_own, password_setter_chain
from orgs.calendar import office_setting_set
from orgs.models import MEMBER_HOLDING_KINDS, Member, OfficeSetting, Organization, Role
from orgs.selectors import members_on
from reviews.appraisal import codes, rules, tally
from reviews.appraisal.models import (
    GRADES,
    Appraisal,
    AppraisalEvent,
    AppraisalKind,
    AppraisalState,
    AppraisalSubject,
    Ballot,
    Group,
    PaperCount,
    PaperEntry,
    ResultGrade,
    Slip,
    VotingMethod,
)

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
MAX_BATCH = 200  # slips per printing: the PDF is made while the session's row is share-locked
MAX_SUBJECTS = 1000


class CodeRefused(ValidationError):
    """A code that is not one of the session's (counts towards the rate limit)."""


def _refuse(message: str, field: str | None = None):
    raise ValidationError({field: message} if field else message)


def _event(appraisal, *, by, action, comment="") -> None:
    AppraisalEvent.objects.create(
        appraisal=appraisal,
        actor=by if getattr(by, "is_authenticated", False) else None,
        action=action,
        comment=comment[:500],
    )


def may_run(user, appraisal: Appraisal) -> bool:
    """The organisation running the session (its secretary or deputy) plans, counts and decides."""
    return access.can(user, Action.EDIT, appraisal.org)


def _require_run(user, appraisal: Appraisal) -> None:
    if not may_run(user, appraisal):
        _refuse(f"只有{appraisal.org.name}的书记或副书记可以进行此操作。")


def _require_state(appraisal: Appraisal, *states: str) -> None:
    if appraisal.state not in states:
        _refuse(f"评议当前处于“{appraisal.get_state_display()}”阶段，不能进行此操作。")


def subject_orgs(org: Organization):
    """The basic-level organisations directly under `org`, appraised by it."""
    return (
        org.get_children()
        .filter(is_active=True, kind__in=MEMBER_HOLDING_KINDS)
        .order_by("lft")
        .only("pk", "name")
    )


def kinds_for(org: Organization) -> list[str]:
    kinds = []
    if org.holds_members:
        kinds.append(AppraisalKind.MEMBER)
    if subject_orgs(org).exists():
        kinds.append(AppraisalKind.ORG)
    return kinds


# ---------------------------------------------------------------- 确定方案


def _check_plan(appraisal: Appraisal, fields: dict[str, Any], today: datetime.date) -> None:
    if not str(fields.get("place", "")).strip():
        _refuse("请填写评议地点。", "place")
    if not str(fields.get("content", "")).strip():
        _refuse("请填写评议内容。", "content")
    if fields.get("method") not in VotingMethod.values:
        _refuse("请选择评议方式。", "method")
    held_on = fields["held_on"]
    if held_on.year != appraisal.year:
        _refuse(f"评议日期应在{appraisal.year}年内。", "held_on")
    groups = {str(g) for g in appraisal.groups}
    for group in Group.values:
        value = fields.get(f"expected_{group}") or 0
        if value < 0 or value > 100000:
            _refuse("人数应在 0 到 100000 之间。", f"expected_{group}")
        if group not in groups and value:
            _refuse(f"评议党员不设“{Group(group).label}”，人数应为 0。", f"expected_{group}")
    if not fields.get("expected_member") and not fields.get("expected_masses"):
        _refuse("请填写应参加评议的党员或群众人数。", "expected_member")


def _plan_values(fields: dict[str, Any]) -> dict[str, Any]:
    values = {name: fields.get(name) for name in PLAN_FIELDS}
    for group in Group.values:
        values[f"expected_{group}"] = values.get(f"expected_{group}") or 0
    return values


def _sync_subjects(appraisal: Appraisal) -> int:
    """Make the subjects the roll on the day of the meeting (members) or the organisations below."""
    AppraisalSubject.objects.filter(appraisal=appraisal).delete()
    if appraisal.kind == AppraisalKind.MEMBER:
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
            _refuse(
                f"{appraisal.org.name}在评议日期没有需要评议的在册党员，无法评议党员。", "held_on"
            )
    else:
        orgs = [o for o in subject_orgs(appraisal.org) if f"o{o.pk}" not in appraisal.excluded]
        subjects = [
            AppraisalSubject(appraisal=appraisal, position=i, subject_org_id=o.pk, name=o.name)
            for i, o in enumerate(orgs, start=1)
        ]
        if not subjects:
            _refuse(f"{appraisal.org.name}没有需要评议的下级基层党组织，无法评议党组织。")
    if len(subjects) > MAX_SUBJECTS:
        _refuse(f"一次评议最多 {MAX_SUBJECTS} 个对象，请分批组织。")
    AppraisalSubject.objects.bulk_create(subjects, batch_size=1000)
    return len(subjects)


@transaction.atomic
def appraisal_create(
    *, by, org: Organization, kind: str, year: int, today: datetime.date | None = None, **fields
) -> Appraisal:
    today = today or timezone.localdate()
    if not access.can(by, Action.EDIT, org):
        _refuse(f"只有{org.name}的书记或副书记可以制定评议方案。")
    if kind not in kinds_for(org):
        if kind == AppraisalKind.MEMBER:
            _refuse("只有党委、党总支和党支部组织评议党员。", "kind")
        _refuse("该组织下没有基层党组织可供评议。", "kind")
    if not 2001 <= year <= today.year + 1:
        _refuse("年度有误。", "year")
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
        _refuse(f"{org.name}{year}年的{appraisal.get_kind_display()}已经有方案了。", "year")
    try:
        with transaction.atomic():
            appraisal.save()
    except IntegrityError:
        _refuse(f"{org.name}{year}年的{appraisal.get_kind_display()}已经有方案了。", "year")
    count = _sync_subjects(appraisal)
    _event(appraisal, by=by, action="create", comment=f"评议对象 {count} 个")
    return appraisal


def _locked(appraisal: Appraisal) -> Appraisal:
    return (
        Appraisal.objects.select_for_update(of=("self",)).select_related("org").get(pk=appraisal.pk)
    )


@transaction.atomic
def appraisal_update(*, by, appraisal: Appraisal, today=None, **fields) -> Appraisal:
    today = today or timezone.localdate()
    appraisal = _locked(appraisal)
    _require_run(by, appraisal)
    _require_state(appraisal, AppraisalState.PLAN)
    _check_plan(appraisal, fields, today)
    values = _plan_values(fields)
    changed = [n for n in PLAN_FIELDS if getattr(appraisal, n) != values[n]]
    for name, value in values.items():
        setattr(appraisal, name, value)
    appraisal.save()
    count = _sync_subjects(appraisal)
    labels = [str(Appraisal._meta.get_field(n).verbose_name) for n in changed]
    _event(
        appraisal, by=by, action="edit", comment=f"{'、'.join(labels) or '无变化'}；对象 {count} 个"
    )
    return appraisal


def voting_date_refusal(appraisal: Appraisal, today: datetime.date) -> str:
    """Why voting may not open on `today` ("" if it may): the vote is taken at the meeting."""
    if today < appraisal.held_on:
        # the plan (and the roll it fixes for the meeting day) can change only before 公开述职
        advice = (
            "如日期有变，请先修改方案。"
            if appraisal.state == AppraisalState.PLAN
            else "请在评议当天开始评议。"
        )
        held = appraisal.held_on
        return f"评议日期为{held.year}年{held.month}月{held.day}日，不能提前开始评议；{advice}"
    return ""


@transaction.atomic
def appraisal_advance(*, by, appraisal: Appraisal, today: datetime.date | None = None) -> Appraisal:
    """确定方案 → 公开述职 → 组织评议 (voting opens, not before the planned meeting date)."""
    today = today or timezone.localdate()
    appraisal = _locked(appraisal)
    _require_run(by, appraisal)
    _require_state(appraisal, AppraisalState.PLAN, AppraisalState.STATEMENTS)
    if appraisal.state == AppraisalState.PLAN:
        appraisal.state = AppraisalState.STATEMENTS
    else:
        refusal = voting_date_refusal(appraisal, today)
        if refusal:
            _refuse(refusal)
        appraisal.subject_count = AppraisalSubject.objects.filter(appraisal=appraisal).count()
        if not appraisal.subject_count:
            _refuse("没有评议对象，不能开始评议。")
        appraisal.state = AppraisalState.VOTING
    appraisal.save(update_fields=["state", "subject_count", "updated_at"])
    _event(appraisal, by=by, action=appraisal.state)
    return appraisal


@transaction.atomic
def subject_exclude(*, by, subject: AppraisalSubject, reason: str) -> Appraisal:
    """暂缓评议: leave a subject out of this year's session, with the reason (plan step only)."""
    appraisal = _locked(subject.appraisal)
    _require_run(by, appraisal)
    _require_state(appraisal, AppraisalState.PLAN)
    reason = str(reason or "").replace("\x00", "").strip()
    if not reason:
        _refuse(f"请填写“{subject.name}”暂缓评议的原因。", "reason")
    key = f"m{subject.member_id}" if subject.member_id else f"o{subject.subject_org_id}"
    appraisal.excluded = {**appraisal.excluded, key: {"name": subject.name, "reason": reason[:200]}}
    appraisal.save(update_fields=["excluded", "updated_at"])
    _sync_subjects(appraisal)
    _event(appraisal, by=by, action="exclude", comment=f"{subject.name}：{reason[:200]}")
    return appraisal


@transaction.atomic
def subject_restore(*, by, appraisal: Appraisal, key: str) -> Appraisal:
    appraisal = _locked(appraisal)
    _require_run(by, appraisal)
    _require_state(appraisal, AppraisalState.PLAN)
    if key not in appraisal.excluded:
        _refuse("该对象不在暂缓评议名单中。")
    name = appraisal.excluded[key]["name"]
    appraisal.excluded = {k: v for k, v in appraisal.excluded.items() if k != key}
    appraisal.save(update_fields=["excluded", "updated_at"])
    _sync_subjects(appraisal)
    _event(appraisal, by=by, action="restore", comment=name)
    return appraisal


# ---------------------------------------------------------------- 公开述职


def may_state(user, subject: AppraisalSubject) -> bool:
    """Who may write a subject's 述职: the running secretary, the member, the subject's secretary."""
    appraisal = subject.appraisal
    if may_run(user, appraisal):
        return True
    if subject.member_id:
        return access.is_own_record(user, subject.member)
    return access.can(user, Action.EDIT, subject.subject_org)


@transaction.atomic
def statement_save(*, by, subject: AppraisalSubject, text: str) -> AppraisalSubject:
    appraisal = _locked(subject.appraisal)
    subject.appraisal = appraisal
    if not may_state(by, subject):
        _refuse("只有评议对象本人（本组织书记）或组织评议的书记可以填写述职。")
    _require_state(appraisal, AppraisalState.STATEMENTS, AppraisalState.VOTING)
    text = str(text or "").strip()
    if not text:
        _refuse("请填写述职内容。", "statement")
    if len(text) > 3000:
        _refuse("述职内容请控制在 3000 字以内。", "statement")
    subject.statement = text
    subject.statement_by = by
    subject.statement_at = timezone.now()
    subject.save(update_fields=["statement", "statement_by", "statement_at"])
    _event(appraisal, by=by, action="statement", comment=subject.name)
    return subject


# ---------------------------------------------------------------- slips (选票码)


@sensitive_variables()
@transaction.atomic
def slips_issue(
    *, by, appraisal: Appraisal, group: str, count: int, render=None
) -> list[tuple[int, str]] | Any:
    """Make `count` one-time codes for `group`. The codes exist only in what this returns (or in
    `render(issued)`'s result, e.g. the printed PDF, made before anything is saved: if printing
    fails, no slip is stored); only their hashes are kept. Ballots may be cast meanwhile."""
    _read_shared(appraisal.pk)  # closing waits for this; casting does not
    _serial_lock(appraisal.pk)  # two batches at once get distinct serials
    appraisal = Appraisal.objects.select_related("org").get(pk=appraisal.pk)
    _require_run(by, appraisal)
    _require_state(appraisal, AppraisalState.PLAN, AppraisalState.STATEMENTS, AppraisalState.VOTING)
    if not appraisal.uses_codes:
        _refuse("本次评议采用纸质评议表，不印制选票码。")
    if group not in {str(g) for g in appraisal.groups}:
        _refuse("请选择参加人员类别。", "group")
    if not 1 <= count <= MAX_BATCH:
        _refuse(f"每次印制 1 到 {MAX_BATCH} 张。", "count")
    last = Slip.objects.filter(appraisal=appraisal).aggregate(m=Max("serial"))["m"] or 0
    if last + count > codes.MAX_SERIAL:
        _refuse(f"本次评议最多印制 {codes.MAX_SERIAL} 张选票码。", "count")
    issued = []
    slips = []
    for serial in range(last + 1, last + count + 1):
        secret = codes.new_secret()
        issued.append((serial, codes.format_code(serial, secret)))
        slips.append(
            Slip(
                appraisal=appraisal,
                serial=serial,
                group=group,
                secret_hash=codes.secret_hash(appraisal.slip_salt, serial, secret),
            )
        )
    printed = render(issued) if render is not None else issued
    Slip.objects.bulk_create(slips, batch_size=1000)
    _event(
        appraisal,
        by=by,
        action="slips",
        comment=f"{Group(group).label} {count} 张，编号 {last + 1:04d}–{last + count:04d}",
    )
    return printed


def _serial_lock(appraisal_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7101, appraisal_id])


@transaction.atomic
def slips_void(*, by, appraisal: Appraisal, first: int, last: int) -> int:
    """Void the unused codes numbered first–last (a lost batch); used ones stay counted."""
    appraisal = _locked(appraisal)
    _require_run(by, appraisal)
    _require_state(appraisal, AppraisalState.PLAN, AppraisalState.STATEMENTS, AppraisalState.VOTING)
    if first < 1 or last < first:
        _refuse("请填写正确的编号范围。", "first")
    voided = Slip.objects.filter(
        appraisal=appraisal, serial__gte=first, serial__lte=last, used=False, voided=False
    ).update(voided=True)
    if not voided:
        _refuse("该编号范围内没有可作废的选票码（已使用的不能作废）。", "first")
    _event(appraisal, by=by, action="void", comment=f"编号 {first:04d}–{last:04d}，共 {voided} 张")
    return voided


# ---------------------------------------------------------------- casting a ballot


def _read_shared(appraisal_id: int):
    """The session's state, read under a share lock on PostgreSQL: closing takes the row
    exclusively, so a ballot is either in before the count or refused after it."""
    table = Appraisal._meta.db_table
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT state, subject_count, slip_salt, method FROM {table} WHERE id = %s{lock}",
            [appraisal_id],
        )
        return cursor.fetchone()


def _refuse_code():
    raise CodeRefused("选票码不正确，请核对后重新输入。", code="bad_code")


def closed_message(state: str) -> str:
    if state in (AppraisalState.PLAN, AppraisalState.STATEMENTS):
        return "评议尚未开始投票，请在主持人宣布开始后再提交。"
    return "评议投票已经结束，不再接受提交。"


@sensitive_variables()
def code_check(*, appraisal: Appraisal, code: str) -> Slip:
    """The unused slip behind `code`, for showing the ballot sheet (nothing is written)."""
    try:
        serial, secret = codes.parse(code)
    except codes.BadCode:
        _refuse_code()
    if appraisal.state != AppraisalState.VOTING or not appraisal.uses_codes:
        _refuse(closed_message(appraisal.state))
    slip = Slip.objects.filter(appraisal=appraisal, serial=serial).first()
    if slip is None or not codes.matches(slip.secret_hash, appraisal.slip_salt, serial, secret):
        _refuse_code()
    if slip.voided:
        _refuse("该选票码已作废，请向工作人员领取新的选票码。")
    if slip.used:
        _refuse("该选票码已经投过票，每张选票码只能提交一次。")
    return slip


@sensitive_variables()
def marks_text(marks: dict[int, int | None], subject_count: int) -> str:
    """Grades by subject position (1-based) as the stored string; blanks are "0"."""
    cells = ["0"] * subject_count
    for position, grade in marks.items():
        if not isinstance(position, int) or not 1 <= position <= subject_count:
            _refuse("评议表与本次评议的对象不符，请刷新页面后重新填写。")
        if grade in (None, "", 0):
            continue
        if grade not in GRADES:
            _refuse(f"第 {position} 项的评价无效。")
        cells[position - 1] = str(grade)
    return "".join(cells)


@sensitive_variables()
def ballot_cast(*, appraisal_id: int, code: str, marks: dict[int, int | None]) -> None:
    """Cast one ballot: lock the slip, check it is unused and the session open, mark it used and
    store the ballot, all in one transaction. Nothing records who or when."""
    try:
        serial, secret = codes.parse(code)
    except codes.BadCode:
        _refuse_code()
    # a wrong code is refused from a plain read: it never waits for, or holds up, a lock
    found = (
        Slip.objects.filter(appraisal_id=appraisal_id, serial=serial)
        .values_list("secret_hash", "appraisal__slip_salt")
        .first()
    )
    if found is None or not codes.matches(found[0], found[1], serial, secret):
        _refuse_code()
    with transaction.atomic():
        row = _read_shared(appraisal_id)
        if row is None:
            _refuse_code()
        state, subject_count, salt, method = row
        if state != AppraisalState.VOTING or method == VotingMethod.PAPER:
            _refuse(closed_message(state))
        slip = (
            Slip.objects.select_for_update()
            .filter(appraisal_id=appraisal_id, serial=serial)
            .first()
        )
        if slip is None or not codes.matches(slip.secret_hash, salt, serial, secret):
            _refuse_code()
        if slip.voided:
            _refuse("该选票码已作废，请向工作人员领取新的选票码。")
        if slip.used:
            _refuse("该选票码已经投过票，每张选票码只能提交一次。")
        text = marks_text(marks, subject_count)
        Slip.objects.filter(pk=slip.pk).update(used=True)
        Ballot.objects.create(appraisal_id=appraisal_id, group=slip.group, marks=text)


# ---------------------------------------------------------------- paper sheets (纸质评议表)


def _check_paper(appraisal: Appraisal, names: list[str], figures: dict) -> None:
    returned, blank, spoiled = (
        figures["sheets_returned"],
        figures["blank_sheets"],
        figures["spoiled_sheets"],
    )
    for field, label in (
        ("sheets_issued", "发出评议表"),
        ("sheets_returned", "收回评议表"),
        ("blank_sheets", "空白表"),
        ("spoiled_sheets", "废表"),
    ):
        if not isinstance(figures[field], int) or figures[field] < 0:
            _refuse(f"“{label}”应为不小于 0 的整数。", field)
    if returned > figures["sheets_issued"]:
        _refuse("收回的评议表不能多于发出的。", "sheets_returned")
    if blank + spoiled > returned:
        _refuse("空白表与废表之和不能多于收回的评议表。", "blank_sheets")
    valid = returned - blank - spoiled
    rows = figures["counts"]
    if len(rows) != len(names):
        _refuse("评议对象与本次评议不符，请刷新页面后重新录入。")
    scale = list(appraisal.scale) + ["弃权"]
    for i, (name, cells) in enumerate(zip(names, rows, strict=True), start=1):
        if len(cells) != 5 or any(not isinstance(c, int) or c < 0 for c in cells):
            _refuse(f"第 {i} 项“{name}”：票数应为不小于 0 的整数。", f"c{i}_0")
        if sum(cells) != valid:
            detail = "、".join(f"{label}{c}" for label, c in zip(scale, cells, strict=True))
            _refuse(
                f"第 {i} 项“{name}”：{detail}，合计 {sum(cells)}，"
                f"应等于有效评议表 {valid} 张（收回 {returned} − 空白 {blank} − 废表 {spoiled}）。",
                f"c{i}_0",
            )


def paper_differences(a: PaperEntry, b: PaperEntry, names: list[str]) -> list[str]:
    """Where two tellers' entries differ, by field and subject, without their figures."""
    diffs = []
    for field, label in (
        ("sheets_issued", "发出评议表"),
        ("sheets_returned", "收回评议表"),
        ("blank_sheets", "空白表"),
        ("spoiled_sheets", "废表"),
    ):
        if getattr(a, field) != getattr(b, field):
            diffs.append(label)
    for i, name in enumerate(names, start=1):
        if i > len(a.counts) or i > len(b.counts) or a.counts[i - 1] != b.counts[i - 1]:
            diffs.append(f"第 {i} 项“{name}”")
    return diffs


def may_count(user, appraisal: Appraisal) -> bool:
    """Who may open the tellers' page (计票人): the running organisation's secretary or deputy,
    or a member of it with a login (tellers are often members chosen at the meeting). Entering
    also needs a password of their own (`teller_refusal`)."""
    return may_run(user, appraisal) or any(
        g.role == Role.MEMBER and g.org_id == appraisal.org_id for g in access.grants_for(user)
    )


def teller_refusal(user, appraisal: Appraisal) -> str:
    """Why `user` may not enter a count as a teller of `appraisal` ("" if they may). An account
    whose password someone else set and its owner never changed (a login the secretary opened)
    may be used by that person too: the two entries would then be one person's."""
    if not may_count(user, appraisal):
        return f"只有{appraisal.org.name}的书记、副书记或本组织党员可以担任计票人。"
    if not password_is_own(user):
        return "您的账号密码由他人设置，本人尚未修改，不能担任计票人。请先修改密码。"
    return ""


def _teller_name(user) -> str:
    return user.get_full_name() or user.get_username()


def tellers_dependence(user, other) -> str:
    """Why `user` and `other` are not two independent tellers ("" if they are): the same account,
    the same member (one person's two member records, by name, birth and joining dates), or one of
    them set the other's password, directly or through logins whose passwords they set in turn
    (`password_setter_chain`), and so may hold that login too."""
    if user.pk == other.pk:
        return "两次录入须由两位不同的计票人完成。"
    members = list(
        Member.objects.filter(user_id__in=(user.pk, other.pk)).values_list(
            "name", "birth_date", "joined_on"
        )
    )
    if len(members) == 2 and members[0] == members[1]:
        return f"您与计票人“{_teller_name(other)}”是同一名党员的两个账号，不能共同计票。"
    chain = password_setter_chain(user=other, by=user)
    if len(chain) == 2:
        return (
            f"您曾为另一位计票人“{_teller_name(other)}”设置密码，可能掌握其账号，"
            "不能与其共同计票。请由其他党员录入。"
        )
    if chain:
        return (
            f"{_chain_text(chain)}（登录账号可能由为其设置密码的人使用），您可能掌握另一位计票人"
            f"“{_teller_name(other)}”的账号，不能与其共同计票。请由其他党员录入。"
        )
    chain = password_setter_chain(user=user, by=other)
    if len(chain) == 2:
        return (
            f"另一位计票人“{_teller_name(other)}”曾为您的账号设置密码，可能掌握您的账号，"
            "不能与其共同计票。请由其他党员录入。"
        )
    if chain:
        return (
            f"{_chain_text(chain)}（登录账号可能由为其设置密码的人使用），另一位计票人"
            f"“{_teller_name(other)}”可能掌握您的账号，不能与其共同计票。请由其他党员录入。"
        )
    return ""


def _chain_text(chain: list[int]) -> str:
    """A password-setter chain in words: “甲”为“乙”设置过密码，“乙”为“丙”设置过密码 (one query)."""
    users = get_user_model().objects.in_bulk(chain)
    names = [f"“{_teller_name(users[pk])}”" if pk in users else "已删除的账号" for pk in chain]
    return "，".join(f"{a}为{b}设置过密码" for a, b in zip(names, names[1:], strict=False))


def co_teller_refusal(user, appraisal: Appraisal, group: str) -> str:
    """Why `user` may not be a teller of `group` beside those who already entered it ("" if they
    may): the two entries must come from independent people (`tellers_dependence`)."""
    others = (
        PaperEntry.objects.filter(appraisal=appraisal, group=group)
        .exclude(teller=user)
        .select_related("teller")
    )
    for entry in others:
        why = tellers_dependence(user, entry.teller)
        if why:
            return why
    return ""


@transaction.atomic
def paper_enter(*, by, appraisal: Appraisal, group: str, figures: dict) -> dict:
    """A teller's count of one group's paper sheets. It counts once a second teller's entry
    agrees; until then either may re-enter theirs. Returns {"state": "waiting" | "mismatch" |
    "confirmed", "differences": [...]}."""
    appraisal = _locked(appraisal)
    refusal = teller_refusal(by, appraisal)
    if refusal:
        _refuse(refusal)
    _require_state(appraisal, AppraisalState.VOTING)
    if not appraisal.uses_paper:
        _refuse("本次评议采用手机扫码投票，没有纸质评议表。")
    if group not in {str(g) for g in appraisal.groups}:
        _refuse("请选择参加人员类别。", "group")
    if PaperCount.objects.filter(appraisal=appraisal, group=group).exists():
        _refuse(f"“{Group(group).label}”的纸质评议表已经两人核对一致并计票，不能再录入。")
    refusal = co_teller_refusal(by, appraisal, group)
    if refusal:
        _refuse(refusal)
    names = list(
        AppraisalSubject.objects.filter(appraisal=appraisal)
        .order_by("position")
        .values_list("name", flat=True)
    )
    _check_paper(appraisal, names, figures)
    entry, _ = PaperEntry.objects.update_or_create(
        appraisal=appraisal, group=group, teller=by, defaults=figures
    )
    _event(appraisal, by=by, action="paper", comment=Group(group).label)
    others = list(
        PaperEntry.objects.filter(appraisal=appraisal, group=group)
        .exclude(teller=by)
        .select_related("teller")
    )
    if not others:
        return {"state": "waiting", "differences": []}
    for other in others:
        if not password_is_own(other.teller):  # entered before someone else set its password
            continue
        if other.figures() == entry.figures():
            names_of = sorted(_teller_name(u) for u in (by, other.teller))
            PaperCount.objects.create(
                appraisal=appraisal, group=group, tellers="、".join(names_of), **figures
            )
            _event(appraisal, by=by, action="paper_confirm", comment=Group(group).label)
            return {"state": "confirmed", "differences": []}
    return {"state": "mismatch", "differences": paper_differences(entry, others[0], names)}


@transaction.atomic
def paper_discard(*, by, appraisal: Appraisal, group: str) -> int:
    """Clear a group's unconfirmed entries (a teller left, or the sheets are to be counted again)."""
    appraisal = _locked(appraisal)
    _require_run(by, appraisal)
    _require_state(appraisal, AppraisalState.VOTING)
    if PaperCount.objects.filter(appraisal=appraisal, group=group).exists():
        _refuse("已经核对一致的计票不能清除。")
    removed, _ = PaperEntry.objects.filter(appraisal=appraisal, group=group).delete()
    if not removed:
        _refuse("该类别没有待核对的录入。")
    _event(appraisal, by=by, action="paper_discard", comment=Group(group).label)
    return removed


# ---------------------------------------------------------------- closing and results


def _unlink_ballots(appraisal: Appraisal) -> None:
    """Cut what the storage itself could tell: a ballot and the slip it used were written by one
    transaction (PostgreSQL records it on both rows), in the order of casting. Rewriting the
    session's ballots in id order and touching every slip, inside the closing transaction, leaves
    all of them written by that one transaction, in an order unrelated to casting."""
    rows = list(
        Ballot.objects.filter(appraisal=appraisal)
        .order_by("id")
        .values_list("id", "group", "marks")
    )
    Ballot.objects.filter(appraisal=appraisal).delete()
    Ballot.objects.bulk_create(
        [Ballot(id=pk, appraisal=appraisal, group=g, marks=m) for pk, g, m in rows],
        batch_size=1000,
    )
    Slip.objects.filter(appraisal=appraisal).update(used=F("used"))


@transaction.atomic
def appraisal_close(*, by, appraisal: Appraisal) -> Appraisal:
    """End the voting: no ballot is accepted after this. Count, check the invariants, freeze the
    tally and its digest, and write each subject's counts and suggested grade."""
    appraisal = _locked(appraisal)  # waits for ballots being cast; later ones see "closed"
    _require_run(by, appraisal)
    _require_state(appraisal, AppraisalState.VOTING)
    confirmed = set(PaperCount.objects.filter(appraisal=appraisal).values_list("group", flat=True))
    pending = (
        set(PaperEntry.objects.filter(appraisal=appraisal).values_list("group", flat=True))
        - confirmed
    )
    if pending:
        labels = "、".join(Group(g).label for g in sorted(pending))
        _refuse(f"纸质评议表（{labels}）还没有两位计票人核对一致，请先完成核对再结束评议。")
    counted, digest = tally.count_and_digest(appraisal)
    if not counted["ok"]:
        broken = "；".join(i["label"] for i in counted["invariants"] if not i["ok"])
        _refuse(f"计票校验未通过：{broken}。请联系管理员核查。")
    if not any(counted["participants"].values()):
        _refuse("还没有任何评议票，不能结束评议。")
    _unlink_ballots(appraisal)
    transaction.on_commit(_vacuum_later, robust=True)  # the close stands even if this fails
    appraisal.tally = counted
    appraisal.digest = digest
    appraisal.state = AppraisalState.CLOSED
    appraisal.closed_at = timezone.now()
    appraisal.save(update_fields=["tally", "digest", "state", "closed_at", "updated_at"])
    thresholds = rules.thresholds_for(org=appraisal.org, year=appraisal.year)
    subjects = list(AppraisalSubject.objects.filter(appraisal=appraisal).order_by("position"))
    for subject, row in zip(subjects, counted["subjects"], strict=True):
        subject.counts = row["total"]
        if appraisal.kind == AppraisalKind.MEMBER:
            subject.suggested_grade = rules.suggest(row["total"], thresholds)
    AppraisalSubject.objects.bulk_update(subjects, ["counts", "suggested_grade"], batch_size=1000)
    _event(
        appraisal,
        by=by,
        action="close",
        comment=f"计票 {counted['ballots']} 张，摘要 {digest[:16]}",
    )
    return appraisal


def _vacuum_later() -> None:
    from reviews.tasks import vacuum_ballots

    vacuum_ballots.delay()


@transaction.atomic
def results_decide(*, by, appraisal: Appraisal, decisions: dict[int, tuple[str, str]]) -> int:
    """The branch committee's grades: {subject id: (grade, reason)}. A grade other than the
    suggested one needs a reason. All-or-nothing."""
    appraisal = _locked(appraisal)
    _require_run(by, appraisal)
    _require_state(appraisal, AppraisalState.CLOSED)
    if appraisal.kind != AppraisalKind.MEMBER:
        _refuse("评议党组织只公布满意度，不认定等次。")
    subjects = {s.pk: s for s in AppraisalSubject.objects.filter(appraisal=appraisal)}
    now = timezone.now()
    changed = []
    for pk, (grade, reason) in decisions.items():
        subject = subjects.get(pk)
        if subject is None:
            _refuse("评议对象与本次评议不符，请刷新页面后重试。")
        if not grade:
            continue
        if grade not in ResultGrade.values:
            _refuse(f"“{subject.name}”的评议结果无效。", f"grade_{pk}")
        reason = str(reason or "").replace("\x00", "").strip()[:500]
        if grade != subject.suggested_grade and not reason:
            if subject.suggested_grade:
                suggested = ResultGrade(subject.suggested_grade).label
                _refuse(
                    f"“{subject.name}”的认定结果与建议等次（{suggested}）不同，请填写理由。",
                    f"reason_{pk}",
                )
            _refuse(f"“{subject.name}”没有有效评价，请填写认定依据。", f"reason_{pk}")
        if subject.final_grade == grade and subject.override_reason == reason:
            continue
        subject.final_grade = grade
        subject.override_reason = reason if grade != subject.suggested_grade else ""
        subject.decided_by = by
        subject.decided_at = now
        changed.append(subject)
    AppraisalSubject.objects.bulk_update(
        changed, ["final_grade", "override_reason", "decided_by", "decided_at"]
    )
    if changed:
        _event(appraisal, by=by, action="decide", comment=f"{len(changed)} 名党员")
    return len(changed)


def turnout_warning(appraisal: Appraisal, thresholds: rules.Thresholds) -> str:
    """The warning publication gives when the turnout is below the rule's share; "" otherwise."""
    if not rules.turnout_low(appraisal, thresholds):
        return ""
    return (
        f"参加率 {appraisal.turnout_percent}%（应参加 {appraisal.expected_total} 人，"
        f"实际参加 {appraisal.participants} 人），低于 {thresholds.turnout_min}%："
        "公开后本次评议不推荐任何评先评优人选。"
    )


@transaction.atomic
def results_adopt_suggested(*, by, appraisal: Appraisal) -> int:
    """采用全部建议: every member not yet decided gets the suggested grade (those decided keep
    theirs; those without a suggestion stay undecided, since a grade for them needs a reason)."""
    appraisal = _locked(appraisal)
    _require_run(by, appraisal)
    _require_state(appraisal, AppraisalState.CLOSED)
    if appraisal.kind != AppraisalKind.MEMBER:
        _refuse("评议党组织只公布满意度，不认定等次。")
    adopted = (
        AppraisalSubject.objects.filter(appraisal=appraisal, final_grade="")
        .exclude(suggested_grade="")
        .update(
            final_grade=F("suggested_grade"),
            override_reason="",
            decided_by=by,
            decided_at=timezone.now(),
        )
    )
    if adopted:
        _event(appraisal, by=by, action="adopt", comment=f"{adopted} 名党员采用建议等次")
    return adopted


@transaction.atomic
def appraisal_publish(
    *, by, appraisal: Appraisal, low_turnout_confirmed: bool = False
) -> Appraisal:
    """公开结果. Below the rule's turnout the secretary must confirm, and the session is marked
    so that nobody from it is suggested for 评先评优."""
    appraisal = _locked(appraisal)
    _require_run(by, appraisal)
    _require_state(appraisal, AppraisalState.CLOSED)
    if appraisal.kind == AppraisalKind.MEMBER:
        undecided = AppraisalSubject.objects.filter(appraisal=appraisal, final_grade="").count()
        if undecided:
            _refuse(f"还有 {undecided} 名党员没有认定评议结果，请先由支部委员会认定。")
    thresholds = rules.thresholds_for(org=appraisal.org, year=appraisal.year)
    warning = turnout_warning(appraisal, thresholds)
    if warning and not low_turnout_confirmed:
        raise ValidationError(f"{warning}确认后才能公开。", code="low_turnout")
    appraisal.state = AppraisalState.PUBLISHED
    appraisal.published_at = timezone.now()
    appraisal.low_turnout = bool(warning)
    appraisal.save(update_fields=["state", "published_at", "low_turnout", "updated_at"])
    _event(
        appraisal,
        by=by,
        action="publish",
        comment=f"参加率 {appraisal.turnout_percent}%，低于 {thresholds.turnout_min}%，"
        "不推荐评先评优"
        if warning
        else "",
    )
    return appraisal


# ---------------------------------------------------------------- the grade rule


def rule_set(*, by, org: Organization, year: int, **values) -> OfficeSetting:
    """Set the grade rule for `org`'s subtree and `year` (office staff)."""
    thresholds = rules.Thresholds(**{name: values.get(name) for name in rules.FIELDS})
    return office_setting_set(by=by, key=rules.GRADE_RULE.key, org=org, year=year, value=thresholds)
