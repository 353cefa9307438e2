"""The pledge lifecycle (提诺 审诺 示诺 履诺 督诺 评诺). Each step checks who acts and the current
state, and refuses with a message a secretary understands; every change leaves a PledgeEvent.
Every step that changes what the statistics count (a pledge's state, progress, result,
organisation or rectifications) marks the kept figures stale (`touch_pledges`); a draft, created
or edited, is counted nowhere yet."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from orgs import figures
from orgs.calendar import SettingKind, office_setting_set, register_setting, setting_for
from orgs.events import actor_of, record_event
from orgs.locks import refuse_if_locked
from orgs.models import Member, Organization, Sector
from orgs.periods import Period, is_campaign_year
from orgs.rectifications import rectification_mark_closed, rectification_mark_reported
from orgs.refusals import refuse
from pledges import access
from pledges.figures import touch_pledges
from pledges.models import (
    MEMBER_CATEGORIES,
    ORG_CATEGORIES,
    Attachment,
    Category,
    EvaluationResult,
    Fulfilment,
    Pledge,
    PledgeEvent,
    PledgeKind,
    PledgeStatus,
    Progress,
    Rectification,
)

CONTENT_FIELDS = ("kind", "immediate_reason", "category", "content", "target", "due_date")
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS = 5
SIGNATURES = {  # by content, never by the name or the browser's word
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
    b"%PDF-": ("application/pdf", ".pdf"),
    b"GIF87a": ("image/gif", ".gif"),
    b"GIF89a": ("image/gif", ".gif"),
}


def _event(
    pledge: Pledge, *, by, action: str, before: str | None = None, comment: str = "", changes=None
) -> None:
    """Record an action; `before` is the status it moved from (None when it moved nothing)."""
    record_event(
        PledgeEvent,
        by=by,
        action=action,
        comment=comment,
        pledge=pledge,
        from_status=before or "",
        to_status=pledge.status if before is not None else "",
        changes=changes or {},
    )


def _text(value) -> str:
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def _today(today: datetime.date | None) -> datetime.date:
    return today or timezone.localdate()


# ---------------------------------------------------------------- the window


@dataclass(frozen=True)
class Window:
    start: datetime.date
    end: datetime.date


def _window_clean(window: Window, year: int) -> None:
    if window.end < window.start:
        refuse("截止日期不能早于开始日期。", "end")
    if window.start.year != year or window.end.year != year:
        refuse(f"承诺时间应在{year}年之内。", "start")


PLEDGE_WINDOW = register_setting(
    SettingKind(
        key="pledges.window",
        label="年度承诺时间",
        default=lambda year: Window(datetime.date(year, 1, 1), datetime.date(year, 3, 31)),
        load=lambda value: Window(
            datetime.date.fromisoformat(value["start"]), datetime.date.fromisoformat(value["end"])
        ),
        dump=lambda window: {"start": window.start.isoformat(), "end": window.end.isoformat()},
        clean=_window_clean,
    )
)


def window_for(*, org: Organization, year: int) -> tuple[datetime.date, datetime.date]:
    """The annual pledge window for `org`: set at the nearest ancestor, else 1 Jan – 31 Mar."""
    window = setting_for(key=PLEDGE_WINDOW.key, org=org, year=year).value
    return window.start, window.end


def window_set(*, by, org: Organization, year: int, start: datetime.date, end: datetime.date):
    """Set the annual pledge window for `org`'s subtree (office staff)."""
    return office_setting_set(
        by=by, key=PLEDGE_WINDOW.key, org=org, year=year, value=Window(start, end)
    )


# ---------------------------------------------------------------- 提诺


def _check_content(fields: dict[str, Any], *, member: Member | None, year: int) -> None:
    kind = fields["kind"]
    allowed = MEMBER_CATEGORIES if member else ORG_CATEGORIES
    if fields["category"] not in allowed:
        refuse(
            f"“{Category(fields['category']).label}”不是{'党员' if member else '党组织'}承诺的类别。",
            "category",
        )
    if kind == PledgeKind.IMMEDIATE and not fields.get("immediate_reason"):
        refuse("即时承诺请注明起因：阶段性重点工作、临时性任务或突发性事件。", "immediate_reason")
    if kind != PledgeKind.IMMEDIATE:
        fields["immediate_reason"] = ""
    if kind == PledgeKind.TERM and member is not None:
        refuse("任期承诺只适用于党组织。", "kind")
    due = fields["due_date"]
    if due.year < year:
        refuse(f"完成时限不能早于{year}年。", "due_date")
    if kind == PledgeKind.ANNUAL and due.year != year:
        refuse(f"年度承诺的完成时限应在{year}年之内。", "due_date")
    if kind == PledgeKind.TERM and due.year > year + 5:
        refuse("任期承诺的完成时限不超过五年。", "due_date")
    if not fields["content"].strip():
        refuse("请填写承诺事项。", "content")
    if not fields["target"].strip():
        refuse("请填写可衡量的目标。", "target")


@transaction.atomic
def pledge_create(
    *,
    by,
    year: int,
    owner_org: Organization | None = None,
    owner_member: Member | None = None,
    is_oral: bool = False,
    community_org: Organization | None = None,
    previous: Pledge | None = None,
    **fields,
) -> Pledge:
    """提诺: a draft pledge of an organisation or a member."""
    if (owner_org is None) == (owner_member is None):
        raise TypeError("exactly one owner")
    fields = {name: fields.get(name, "") for name in CONTENT_FIELDS}
    _check_content(fields, member=owner_member, year=year)
    if owner_org is not None:
        if not access.can_create_org_pledge(by, owner_org):
            refuse("只有本组织的书记、副书记可以提出组织承诺。")
        if is_oral:
            refuse("口头承诺只适用于年老体弱、文化程度低的党员。", "is_oral")
        if community_org is not None:
            refuse("社区承诺只适用于在职党员。", "community_org")
        org = owner_org
    else:
        if not access.can_create_member_pledge(by, owner_member):
            refuse("只有党员本人或所在支部书记可以提出党员承诺。")
        if is_oral:
            if not owner_member.may_pledge_orally:
                refuse(
                    f"“{owner_member.name}”没有“年老体弱”或“文化程度低”标记，不能口头承诺。",
                    "is_oral",
                )
            if not access.can_record_oral_pledge(by, owner_member):
                refuse("口头承诺由支部书记代为记录。", "is_oral")
        org = owner_member.org
        if community_org is not None:
            if owner_member.is_retired:
                refuse("社区承诺是在职党员向居住地社区党组织作出的承诺。", "community_org")
            if community_org.sector != Sector.COMMUNITY or not community_org.holds_members:
                refuse(f"“{community_org.name}”不是社区党组织。", "community_org")
            if community_org.pk == owner_member.org_id:
                refuse("本人就在该社区党组织，请直接提出承诺。", "community_org")
            org = community_org
    if not org.is_active:
        refuse(f"“{org.name}”已停用。")
    pledge = Pledge.objects.create(
        owner_org=owner_org,
        owner_member=owner_member,
        org=org,
        is_community=community_org is not None,
        year=year,
        is_oral=is_oral,
        previous=previous,
        created_by=actor_of(by),
        **fields,
    )
    _event(pledge, by=by, action="repledge" if previous else "create", before="")
    return pledge


@transaction.atomic
def pledge_update(*, by, pledge: Pledge, **fields) -> Pledge:
    """Change a draft or returned pledge."""
    pledge = (
        Pledge.objects.select_for_update(of=("self",))
        .select_related("owner_member")
        .get(pk=pledge.pk)
    )
    if not pledge.is_editable:
        refuse(f"承诺已{pledge.get_status_display()}，不能再修改。")
    if not access.can_edit_pledge(by, pledge):
        refuse("您不能修改这项承诺。")
    merged = {name: fields.get(name, getattr(pledge, name)) for name in CONTENT_FIELDS}
    _check_content(merged, member=pledge.owner_member, year=pledge.year)
    changed = {
        name: [_text(getattr(pledge, name)), _text(merged[name])]
        for name in CONTENT_FIELDS
        if getattr(pledge, name) != merged[name]
    }
    if changed:
        for name in changed:
            setattr(pledge, name, merged[name])
        pledge.save(update_fields=[*changed, "updated_at"])
        _event(pledge, by=by, action="update", changes=changed)
    return pledge


@transaction.atomic
def pledge_submit(*, by, pledge: Pledge, today: datetime.date | None = None) -> Pledge:
    """Send a draft (or a revised returned pledge) for vetting; annual ones only in the window."""
    pledge = Pledge.objects.select_for_update(of=("self",)).get(pk=pledge.pk)
    if not pledge.is_editable:
        refuse(f"承诺当前为“{pledge.get_status_display()}”，不能提交。")
    if not access.can_edit_pledge(by, pledge):
        refuse("您不能提交这项承诺。")
    today = _today(today)
    if pledge.kind == PledgeKind.ANNUAL:
        start, end = window_for(org=pledge.org, year=pledge.year)
        if not start <= today <= end:
            refuse(
                f"{pledge.year}年度承诺的提交时间为{start:%Y年%m月%d日}至{end:%Y年%m月%d日}，"
                "现在不在此期间。如因阶段性工作、临时任务或突发事件需要承诺，请改为即时承诺。"
            )
    before = pledge.status
    pledge.status = PledgeStatus.SUBMITTED
    pledge.save(update_fields=["status", "updated_at"])
    _event(pledge, by=by, action="submit", before=before)
    touch_pledges([pledge])
    return pledge


# A step back in the lifecycle (withdraw: submitted → draft; reopen: approved → submitted)
STEPS_BACK = {
    "withdraw": (PledgeStatus.SUBMITTED, PledgeStatus.DRAFT),
    "reopen": (PledgeStatus.APPROVED, PledgeStatus.SUBMITTED),
}


def _step_back(pledge: Pledge, *, by, reason: str, step: str, action: str) -> Pledge:
    """The common end of withdraw and reopen, once the caller has checked state and actor: a
    reason is required, and the step is recorded with it."""
    if not reason.strip():
        refuse(f"{step}时请写明原因。", "reason")
    before, after = STEPS_BACK[action]
    pledge.status = after
    pledge.save(update_fields=["status", "updated_at"])
    _event(pledge, by=by, action=action, before=before, comment=reason)
    touch_pledges([pledge])
    return pledge


@transaction.atomic
def pledge_withdraw(*, by, pledge: Pledge, reason: str) -> Pledge:
    """Take a submitted pledge back to draft before it is vetted (only its submitter)."""
    pledge = Pledge.objects.select_for_update(of=("self",)).get(pk=pledge.pk)
    if not pledge.is_awaiting_vetting:
        hint = "；如需修改，请审核人先撤销审定" if pledge.is_awaiting_publication else ""
        refuse(f"只有待审核的承诺可以撤回，这项承诺当前为“{pledge.get_status_display()}”{hint}。")
    if not access.can_withdraw_pledge(by, pledge):
        refuse(
            "只有提交这项承诺的人（组织承诺为本组织书记、副书记）可以撤回；"
            "审核人如需修改，请用“退回修改”并写明意见。"
        )
    return _step_back(pledge, by=by, reason=reason, step="撤回", action="withdraw")


# ---------------------------------------------------------------- 审诺


def _lock_for_vetting(by, pledge: Pledge) -> Pledge:
    pledge = (
        Pledge.objects.select_for_update(of=("self",))
        .select_related("org", "owner_org", "owner_member")
        .get(pk=pledge.pk)
    )
    if not pledge.is_awaiting_vetting:
        refuse(
            f"“{pledge.owner_name}”的承诺当前为“{pledge.get_status_display()}”，不在待审核状态。"
        )
    if not access.can_vet_pledge(by, pledge):
        refuse(
            "审核组织承诺由上级党组织书记进行，审核党员承诺由所在支部书记进行（不能审核本人的承诺）。"
        )
    return pledge


@transaction.atomic
def pledge_approve(*, by, pledge: Pledge, comment: str = "") -> Pledge:
    """审定通过 (the pages ask for a confirmation first; it may be reopened until published)."""
    pledge = _lock_for_vetting(by, pledge)
    pledge.status = PledgeStatus.APPROVED
    pledge.save(update_fields=["status", "updated_at"])
    _event(pledge, by=by, action="approve", before=PledgeStatus.SUBMITTED, comment=comment)
    touch_pledges([pledge])
    return pledge


@transaction.atomic
def pledge_return(*, by, pledge: Pledge, comment: str) -> Pledge:
    """退回修改 with the vetter's reason, shown to the submitter above the edit form."""
    if not comment.strip():
        refuse("退回修改时请写明意见。", "comment")
    pledge = _lock_for_vetting(by, pledge)
    pledge.status = PledgeStatus.RETURNED
    pledge.save(update_fields=["status", "updated_at"])
    _event(pledge, by=by, action="return", before=PledgeStatus.SUBMITTED, comment=comment)
    touch_pledges([pledge])
    return pledge


@transaction.atomic
def pledge_bulk_approve(*, by, pledges: list[Pledge], comment: str = "") -> int:
    """Approve several pledges at once; any refusal stops all of them."""
    for pledge in pledges:
        pledge_approve(by=by, pledge=pledge, comment=comment)
    return len(pledges)


@transaction.atomic
def pledge_reopen(*, by, pledge: Pledge, reason: str) -> Pledge:
    """Take an approval back before publication: the pledge is submitted again (the vetter)."""
    pledge = (
        Pledge.objects.select_for_update(of=("self",))
        .select_related("org", "owner_org", "owner_member")
        .get(pk=pledge.pk)
    )
    if not pledge.is_awaiting_publication:
        refuse(
            "只有已审定、尚未公示的承诺可以撤销审定，"
            f"这项承诺当前为“{pledge.get_status_display()}”。"
        )
    member = pledge.owner_member
    if member is not None and not pledge.is_community and member.org_id != pledge.org_id:
        # it would go back to a branch that no longer holds the member: its open pledges moved
        # with the member at the transfer (see pledge_follow_transfer); this one stays as approved
        refuse(f"“{member.name}”已转出本组织，不能撤销审定；审定结果保留。")
    if not access.can_vet_pledge(by, pledge):
        refuse(
            "撤销审定由审核人进行：组织承诺为上级党组织书记，党员承诺为所在支部书记"
            "（不能审核本人的承诺）。"
        )
    refuse_if_locked("pledge", [pledge.pk])  # back to 待审核: out of the signed 承诺写实
    return _step_back(pledge, by=by, reason=reason, step="撤销审定", action="reopen")


@transaction.atomic
def pledge_follow_transfer(
    *, member: Member, from_org: Organization, to_org: Organization, on: datetime.date, by
) -> int:
    """A member's pledges not yet approved, of the transfer's year and later, move to the new
    branch, which vets them now (the orgs transfer hook; it runs in the transfer's transaction
    and follows its decision). Approved pledges stay with the branch that vetted them; community
    pledges stay with their community."""
    moving = list(
        Pledge.objects.select_for_update()
        .filter(
            owner_member=member,
            org=from_org,
            is_community=False,
            year__gte=on.year,
        )
        .unvetted()
        .order_by("pk")
    )
    for pledge in moving:
        pledge.org = to_org
        pledge.save(update_fields=["org", "updated_at"])
        _event(
            pledge,
            by=by,
            action="transfer",
            comment=f"随组织关系转接至“{to_org.name}”（原“{from_org.name}”），由转入组织审核",
        )
    for year in sorted({pledge.year for pledge in moving}):
        figures.touch_period([from_org.pk, to_org.pk], Period.whole_year(year), keys=("pledges",))
    return len(moving)


# ---------------------------------------------------------------- 示诺


@transaction.atomic
def pledge_publish(*, by, pledge: Pledge, on: datetime.date | None = None) -> Pledge:
    """示诺: an approved pledge goes on the notice board (its vetter or its owner organisation)."""
    pledge = (
        Pledge.objects.select_for_update(of=("self",))
        .select_related("org", "owner_org")
        .get(pk=pledge.pk)
    )
    if not pledge.is_awaiting_publication:
        refuse(
            f"只有已审定的承诺才能公示；“{pledge.owner_name}”的承诺当前为“{pledge.get_status_display()}”。"
        )
    if not access.can_publish_pledge(by, pledge):
        refuse("您不能公示这项承诺。")
    pledge.status = PledgeStatus.PUBLISHED
    pledge.published_on = on or timezone.localdate()
    pledge.save(update_fields=["status", "published_on", "updated_at"])
    _event(pledge, by=by, action="publish", before=PledgeStatus.APPROVED)
    touch_pledges([pledge])
    return pledge


@transaction.atomic
def pledges_publish_approved(*, by, org: Organization, year: int) -> int:
    """Publish every approved pledge of the organisation and its members for the year (the
    branch's secretary); any refusal publishes none. Returns how many were published."""
    if not access.can_publish_org_pledges(by, org):
        refuse("只有本组织的书记、副书记可以公示本组织的承诺。")
    if not is_campaign_year(year):
        refuse("年度有误。")
    approved = Pledge.objects.filter(org=org, year=year).awaiting_publication().order_by("pk")
    count = 0
    for pledge in approved:
        pledge_publish(by=by, pledge=pledge)
        count += 1
    return count


# ---------------------------------------------------------------- 履诺


def _sniff(upload) -> tuple[str, str]:
    head = upload.read(16)
    upload.seek(0)
    for signature, kind in SIGNATURES.items():
        if head.startswith(signature):
            return kind
    refuse(f"“{upload.name}”不是图片（JPG、PNG、GIF）或 PDF 文件。", "files")


@transaction.atomic
def fulfilment_record(
    *,
    by,
    pledge: Pledge,
    year: int,
    period: int,
    text: str,
    status: str,
    reason: str = "",
    files=(),
    undo_done: bool = False,
    today: datetime.date | None = None,
) -> Fulfilment:
    """履诺: the progress report of one period; a second report for the period replaces the text
    (the earlier one stays in the history). A report that would turn a pledge already reported
    done back into not done needs `undo_done` (the reporter's explicit confirmation)."""
    pledge = (
        Pledge.objects.select_for_update(of=("self",))
        .select_related("org", "owner_member")
        .get(pk=pledge.pk)
    )
    if not pledge.is_active:
        refuse(f"承诺当前为“{pledge.get_status_display()}”，审定后才能填报兑现情况。")
    if not access.can_edit_pledge(by, pledge):
        refuse("兑现情况由党员本人或支部书记填报。")
    begun = {(p.year, p.number) for p in pledge.reporting_periods(_today(today))}
    if (year, period) not in begun:
        refuse("该期次尚未开始或不属于承诺年度。", "period")
    if not text.strip():
        refuse("请填写兑现情况。", "text")
    if status == Progress.CANNOT and not reason.strip():
        refuse("选择“无法完成”时请说明原因。", "reason")
    if status not in Progress.values:
        refuse("请选择进度。", "status")
    files = list(files)
    kinds = []
    for upload in files:
        if upload.size > MAX_ATTACHMENT_BYTES:
            refuse(f"“{upload.name}”超过 5 MB。", "files")
        kinds.append(_sniff(upload))
    fulfilment = Fulfilment.objects.filter(pledge=pledge, year=year, period=period).first()
    kept_reason = reason if status == Progress.CANNOT else ""
    if fulfilment is not None and (fulfilment.text, fulfilment.status, fulfilment.reason) != (
        text, status, kept_reason,
    ):  # fmt: skip
        refuse_if_locked("fulfilment", [fulfilment.pk])
    replaced = {}
    if fulfilment is not None and (fulfilment.text, fulfilment.status) != (text, status):
        replaced = {"text": [fulfilment.text, text], "progress": [fulfilment.status, status]}
    if fulfilment is not None and fulfilment.attachments.count() + len(files) > MAX_ATTACHMENTS:
        refuse(f"每期最多 {MAX_ATTACHMENTS} 个附件。", "files")
    if fulfilment is None and len(files) > MAX_ATTACHMENTS:
        refuse(f"每期最多 {MAX_ATTACHMENTS} 个附件。", "files")
    reports = {(f.year, f.period): f.status for f in pledge.fulfilments.all()}
    done_in = [key for key, value in reports.items() if value == Progress.DONE]
    reports[(year, period)] = status
    progress_after = reports[max(reports)]
    undone = pledge.is_done and progress_after != Progress.DONE
    if undone:
        when = ""
        if done_in:
            done_year, done_number = max(done_in)
            when = f"（{Period(done_year, pledge.period_kind, done_number)}）"
        undone_note = (
            f"这项承诺已报告“已完成”{when}；本次填报“{Progress(progress_after).label}”"
            "会把承诺改回未完成（超过完成时限的将列为超期未完成）。"
        )
        if not undo_done:
            refuse(undone_note + "如确属尚未完成，请勾选“确认承诺尚未完成”后再保存。", "undo_done")
    if fulfilment is None:
        fulfilment = Fulfilment.objects.create(
            pledge=pledge, org=pledge.org, year=year, period=period, text=text, status=status,
            reason=reason if status == Progress.CANNOT else "", entered_by=by,
        )  # fmt: skip
    else:
        fulfilment.text, fulfilment.status, fulfilment.entered_by = text, status, by
        fulfilment.reason = kept_reason
        fulfilment.save()
    for upload, (content_type, extension) in zip(files, kinds, strict=True):
        stored = f"{uuid.uuid4().hex}{extension}"
        attachment = Attachment(
            fulfilment=fulfilment, stored_name=stored, original_name=upload.name[:200],
            content_type=content_type, size=upload.size, uploaded_by=by,
        )  # fmt: skip
        attachment.file.save(stored, upload, save=False)
        attachment.save()
    latest = pledge.fulfilments.order_by("-year", "-period").first()
    if latest is not None and pledge.progress != latest.status:
        pledge.progress = latest.status
        pledge.save(update_fields=["progress", "updated_at"])
    label = Period(year, pledge.period_kind, period).label
    comment = f"{label}：{Progress(status).label}。{text[:800]}"
    _event(pledge, by=by, action="fulfil", comment=comment, changes=replaced)
    if undone:
        _event(
            pledge, by=by, action="undo_done", comment=undone_note + "填报人已确认承诺尚未完成。"
        )
    touch_pledges([pledge])
    return fulfilment


# ---------------------------------------------------------------- 督诺


@transaction.atomic
def rectification_issue(
    *, by, pledge: Pledge, requirement: str, deadline: datetime.date, today=None
) -> Rectification:
    """整改: the vetting secretary sets a deadline on an overdue pledge."""
    today = _today(today)
    pledge = (
        Pledge.objects.select_for_update(of=("self",))
        .select_related("org", "owner_org", "owner_member")
        .get(pk=pledge.pk)
    )
    if not access.can_vet_pledge(by, pledge):
        refuse("整改由上级党组织（党员承诺由所在支部）书记提出。")
    if not pledge.is_overdue(today):
        refuse("只有超过完成时限仍未完成的承诺才需要整改。")
    if not requirement.strip():
        refuse("请写明整改要求。", "requirement")
    if deadline <= today:
        refuse("整改期限应晚于今天。", "deadline")
    if pledge.rectifications.open().exists():
        refuse("这项承诺已有未销号的整改。")
    rectification = Rectification.objects.create(
        pledge=pledge, org=pledge.org, requirement=requirement, deadline=deadline, issued_by=by
    )
    _event(pledge, by=by, action="rectify", comment=f"整改期限 {deadline:%Y-%m-%d}：{requirement}")
    touch_pledges([pledge], rectification=rectification)
    return rectification


def _lock_rectification(rectification: Rectification) -> Rectification:
    return (
        Rectification.objects.select_for_update(of=("self",))
        .select_related("pledge", "pledge__org", "pledge__owner_org", "pledge__owner_member")
        .get(pk=rectification.pk)
    )


@transaction.atomic
def rectification_respond(*, by, rectification: Rectification, response: str) -> Rectification:
    """Report what was done about a rectification (whoever writes the pledge)."""
    rectification = _lock_rectification(rectification)
    pledge = rectification.pledge
    if rectification.is_closed:
        refuse("该整改已销号。")
    if not access.can_respond_rectification(by, rectification):
        refuse("整改情况由承诺人（或所在组织书记）报告。")
    rectification_mark_reported(rectification, response=response)
    _event(pledge, by=by, action="rectify_report", comment=response[:500])
    touch_pledges([pledge], rectification=rectification)
    return rectification


@transaction.atomic
def rectification_close(*, by, rectification: Rectification, reopen: bool = False) -> Rectification:
    """销号 a reported rectification, or reopen a closed one (the pledge's vetter)."""
    rectification = _lock_rectification(rectification)
    pledge = rectification.pledge
    if not access.can_close_rectification(by, rectification):
        refuse("整改由提出整改的一方销号。")
    if not reopen and not rectification.is_reported:
        refuse("承诺人报告整改情况后才能销号。")
    rectification_mark_closed(rectification, reopen=reopen)
    _event(pledge, by=by, action="rectify_reopen" if reopen else "rectify_close")
    touch_pledges([pledge], rectification=rectification)
    return rectification


# ---------------------------------------------------------------- 评诺


@transaction.atomic
def pledge_evaluate(*, by, pledge: Pledge, result: str, remark: str, today=None) -> Pledge:
    """评诺: the year-end result of a pledge (fulfilled / partly / not fulfilled)."""
    today = _today(today)
    pledge = (
        Pledge.objects.select_for_update(of=("self",))
        .select_related("org", "owner_org", "owner_member")
        .get(pk=pledge.pk)
    )
    if not pledge.is_active:
        refuse(f"承诺当前为“{pledge.get_status_display()}”，不能评诺。")
    if not access.can_vet_pledge(by, pledge):
        refuse("评诺由上级党组织（党员承诺由所在支部）书记进行。")
    if result not in EvaluationResult.values:
        refuse("请选择评诺结果。", "result")
    year_end = datetime.date(pledge.year, 12, 1)
    if today < year_end and pledge.progress not in (Progress.DONE, Progress.CANNOT):
        refuse(
            f"评诺在年底（{year_end:%Y年%m月%d日}起）进行；承诺已完成或确认无法完成的可提前评诺。"
        )
    if result != EvaluationResult.FULFILLED and not remark.strip():
        refuse("评为“部分兑现”或“未兑现”时请写明意见。", "remark")
    before = pledge.status
    pledge.status, pledge.result, pledge.result_remark = PledgeStatus.EVALUATED, result, remark
    pledge.save(update_fields=["status", "result", "result_remark", "updated_at"])
    _event(
        pledge,
        by=by,
        action="evaluate",
        before=before,
        comment=f"{EvaluationResult(result).label}。{remark}",
    )
    touch_pledges([pledge])
    return pledge


def pledge_repledge(*, by, previous: Pledge, year: int, **fields) -> Pledge:
    """承诺—践诺—评诺—再承诺: a follow-up pledge linked to a fulfilled one."""
    if not previous.may_repledge:
        refuse("只有已完成或评为已兑现的承诺才能再承诺。")
    community = previous.org if previous.is_community else None
    return pledge_create(
        by=by, year=year, owner_org=previous.owner_org, owner_member=previous.owner_member,
        community_org=community, previous=previous, **fields,
    )  # fmt: skip
