"""Paper sheets (纸质评议表): two independent tellers enter each group's count; it counts once
their entries agree."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from orgs.accounts import password_is_own, password_setter_chain
from orgs.events import record_event
from orgs.models import Member
from orgs.refusals import refuse
from reviews.appraisal.access import can_count_appraisal
from reviews.appraisal.models import (
    Appraisal,
    AppraisalEvent,
    AppraisalState,
    AppraisalSubject,
    Group,
    PaperCount,
    PaperEntry,
)
from reviews.appraisal.services.locks import lock_session, require_runner, require_state


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
            refuse(f"“{label}”应为不小于 0 的整数。", field)
    if returned > figures["sheets_issued"]:
        refuse("收回的评议表不能多于发出的。", "sheets_returned")
    if blank + spoiled > returned:
        refuse("空白表与废表之和不能多于收回的评议表。", "blank_sheets")
    valid = returned - blank - spoiled
    rows = figures["counts"]
    if len(rows) != len(names):
        refuse("评议对象与本次评议不符，请刷新页面后重新录入。")
    scale = list(appraisal.scale) + ["弃权"]
    for i, (name, cells) in enumerate(zip(names, rows, strict=True), start=1):
        if len(cells) != 5 or any(not isinstance(c, int) or c < 0 for c in cells):
            refuse(f"第 {i} 项“{name}”：票数应为不小于 0 的整数。", f"c{i}_0")
        if sum(cells) != valid:
            detail = "、".join(f"{label}{c}" for label, c in zip(scale, cells, strict=True))
            refuse(
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


def teller_refusal(user, appraisal: Appraisal) -> str:
    """Why `user` may not enter a count as a teller of `appraisal` ("" if they may). An account
    whose password someone else set and its owner never changed (a login the secretary opened)
    may be used by that person too: the two entries would then be one person's."""
    if not can_count_appraisal(user, appraisal):
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


WAITING, MISMATCH, CONFIRMED = "waiting", "mismatch", "confirmed"


@dataclass(frozen=True)
class PaperOutcome:
    """What became of a teller's entry: `state` is WAITING (no second entry yet), MISMATCH (the
    other teller's differs, at `differences`) or CONFIRMED (the two agree: it counts)."""

    state: str
    differences: list[str] = dataclasses.field(default_factory=list)

    @property
    def is_confirmed(self) -> bool:
        return self.state == CONFIRMED

    @property
    def is_mismatch(self) -> bool:
        return self.state == MISMATCH


@transaction.atomic
def paper_enter(*, by, appraisal: Appraisal, group: str, figures: dict) -> PaperOutcome:
    """A teller's count of one group's paper sheets. It counts once a second teller's entry
    agrees; until then either may re-enter theirs."""
    appraisal = lock_session(appraisal)
    refusal = teller_refusal(by, appraisal)
    if refusal:
        refuse(refusal)
    require_state(appraisal, AppraisalState.VOTING)
    if not appraisal.uses_paper:
        refuse("本次评议采用手机扫码投票，没有纸质评议表。")
    if group not in {str(g) for g in appraisal.groups}:
        refuse("请选择参加人员类别。", "group")
    if PaperCount.objects.filter(appraisal=appraisal, group=group).exists():
        refuse(f"“{Group(group).label}”的纸质评议表已经两人核对一致并计票，不能再录入。")
    refusal = co_teller_refusal(by, appraisal, group)
    if refusal:
        refuse(refusal)
    names = list(
        AppraisalSubject.objects.filter(appraisal=appraisal)
        .order_by("position")
        .values_list("name", flat=True)
    )
    _check_paper(appraisal, names, figures)
    entry, _ = PaperEntry.objects.update_or_create(
        appraisal=appraisal, group=group, teller=by, defaults=figures
    )
    record_event(
        AppraisalEvent, appraisal=appraisal, by=by, action="paper", comment=Group(group).label
    )
    others = list(
        PaperEntry.objects.filter(appraisal=appraisal, group=group)
        .exclude(teller=by)
        .select_related("teller")
    )
    if not others:
        return PaperOutcome(WAITING)
    for other in others:
        if not password_is_own(other.teller):  # entered before someone else set its password
            continue
        if other.figures() == entry.figures():
            names_of = sorted(_teller_name(u) for u in (by, other.teller))
            PaperCount.objects.create(
                appraisal=appraisal, group=group, tellers="、".join(names_of), **figures
            )
            record_event(
                AppraisalEvent,
                appraisal=appraisal,
                by=by,
                action="paper_confirm",
                comment=Group(group).label,
            )
            return PaperOutcome(CONFIRMED)
    return PaperOutcome(MISMATCH, paper_differences(entry, others[0], names))


@transaction.atomic
def paper_discard(*, by, appraisal: Appraisal, group: str) -> int:
    """Clear a group's unconfirmed entries (a teller left, or the sheets are to be counted again)."""
    appraisal = lock_session(appraisal)
    require_runner(by, appraisal)
    require_state(appraisal, AppraisalState.VOTING)
    if PaperCount.objects.filter(appraisal=appraisal, group=group).exists():
        refuse("已经核对一致的计票不能清除。")
    removed, _ = PaperEntry.objects.filter(appraisal=appraisal, group=group).delete()
    if not removed:
        refuse("该类别没有待核对的录入。")
    record_event(
        AppraisalEvent,
        appraisal=appraisal,
        by=by,
        action="paper_discard",
        comment=Group(group).label,
    )
    return removed
