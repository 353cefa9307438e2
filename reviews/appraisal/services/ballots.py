"""Slips (选票码) and ballots: printing and voiding one-time codes, checking a code and casting the
ballot it allows. Casting leaves no event and records nobody and no moment."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.views.decorators.debug import sensitive_variables

from orgs.events import record_event
from orgs.refusals import refuse
from reviews.appraisal import codes
from reviews.appraisal.models import (
    GRADES,
    Appraisal,
    AppraisalEvent,
    AppraisalState,
    Ballot,
    Group,
    Slip,
    VotingMethod,
)
from reviews.appraisal.services.locks import (
    lock_session,
    read_shared,
    require_runner,
    require_state,
    serial_lock,
)

MAX_BATCH = 200  # slips per printing: the PDF is made while the session's row is share-locked


class CodeRefused(ValidationError):
    """A code that is not one of the session's (counts towards the rate limit)."""


@sensitive_variables()
@transaction.atomic
def slips_issue(
    *, by, appraisal: Appraisal, group: str, count: int, render=None
) -> list[tuple[int, str]] | Any:
    """Make `count` one-time codes for `group`. The codes exist only in what this returns (or in
    `render(issued)`'s result, e.g. the printed PDF, made before anything is saved: if printing
    fails, no slip is stored); only their hashes are kept. Ballots may be cast meanwhile."""
    read_shared(appraisal.pk)  # closing waits for this; casting does not
    serial_lock(appraisal.pk)  # two batches at once get distinct serials
    appraisal = Appraisal.objects.select_related("org").get(pk=appraisal.pk)
    require_runner(by, appraisal)
    require_state(appraisal, AppraisalState.PLAN, AppraisalState.STATEMENTS, AppraisalState.VOTING)
    if not appraisal.uses_codes:
        refuse("本次评议采用纸质评议表，不印制选票码。")
    if group not in {str(g) for g in appraisal.groups}:
        refuse("请选择参加人员类别。", "group")
    if not 1 <= count <= MAX_BATCH:
        refuse(f"每次印制 1 到 {MAX_BATCH} 张。", "count")
    last = Slip.objects.filter(appraisal=appraisal).aggregate(m=Max("serial"))["m"] or 0
    if last + count > codes.MAX_SERIAL:
        refuse(f"本次评议最多印制 {codes.MAX_SERIAL} 张选票码。", "count")
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
    record_event(
        AppraisalEvent,
        appraisal=appraisal,
        by=by,
        action="slips",
        comment=f"{Group(group).label} {count} 张，编号 {last + 1:04d}–{last + count:04d}",
    )
    return printed


@transaction.atomic
def slips_void(*, by, appraisal: Appraisal, first: int, last: int) -> int:
    """Void the unused codes numbered first–last (a lost batch); used ones stay counted."""
    appraisal = lock_session(appraisal)
    require_runner(by, appraisal)
    require_state(appraisal, AppraisalState.PLAN, AppraisalState.STATEMENTS, AppraisalState.VOTING)
    if first < 1 or last < first:
        refuse("请填写正确的编号范围。", "first")
    voided = Slip.objects.filter(
        appraisal=appraisal, serial__gte=first, serial__lte=last, used=False, voided=False
    ).update(voided=True)
    if not voided:
        refuse("该编号范围内没有可作废的选票码（已使用的不能作废）。", "first")
    record_event(
        AppraisalEvent,
        appraisal=appraisal,
        by=by,
        action="void",
        comment=f"编号 {first:04d}–{last:04d}，共 {voided} 张",
    )
    return voided


# ---------------------------------------------------------------- casting a ballot


def _refuse_code():
    raise CodeRefused("选票码不正确，请核对后重新输入。", code="bad_code")


def closed_message(state: str) -> str:
    """What the voting page says while the session in `state` takes no ballot."""
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
        refuse(closed_message(appraisal.state))
    slip = Slip.objects.filter(appraisal=appraisal, serial=serial).first()
    if slip is None or not codes.matches(slip.secret_hash, appraisal.slip_salt, serial, secret):
        _refuse_code()
    if slip.voided:
        refuse("该选票码已作废，请向工作人员领取新的选票码。")
    if slip.used:
        refuse("该选票码已经投过票，每张选票码只能提交一次。")
    return slip


@sensitive_variables()
def marks_text(marks: dict[int, int | None], subject_count: int) -> str:
    """Grades by subject position (1-based) as the stored string; blanks are "0"."""
    cells = ["0"] * subject_count
    for position, grade in marks.items():
        if not isinstance(position, int) or not 1 <= position <= subject_count:
            refuse("评议表与本次评议的对象不符，请刷新页面后重新填写。")
        if grade in (None, "", 0):
            continue
        if grade not in GRADES:
            refuse(f"第 {position} 项的评价无效。")
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
        row = read_shared(appraisal_id)
        if row is None:
            _refuse_code()
        state, subject_count, salt, method = row
        if state != AppraisalState.VOTING or method == VotingMethod.PAPER:
            refuse(closed_message(state))
        slip = (
            Slip.objects.select_for_update()
            .filter(appraisal_id=appraisal_id, serial=serial)
            .first()
        )
        if slip is None or not codes.matches(slip.secret_hash, salt, serial, secret):
            _refuse_code()
        if slip.voided:
            refuse("该选票码已作废，请向工作人员领取新的选票码。")
        if slip.used:
            refuse("该选票码已经投过票，每张选票码只能提交一次。")
        text = marks_text(marks, subject_count)
        Slip.objects.filter(pk=slip.pk).update(used=True)
        Ballot.objects.create(appraisal_id=appraisal_id, group=slip.group, marks=text)
