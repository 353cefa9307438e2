"""党组织书记公开承诺书 (豫创组发〔2010〕22号 附件2): the secretary writes and signs the letter, the
upper organisation's secretary gives the 审定意见, and the secretary reports each quarter before
it ends. Every step checks the actor (pledges.access) and the letter's state, and leaves a
SecretaryPledgeEvent."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from orgs.events import record_event
from orgs.models import Organization
from orgs.periods import Period
from orgs.refusals import refuse
from pledges import access
from pledges.models import (
    SecretaryPledge,
    SecretaryPledgeEvent,
    SecretaryPledgeStatus,
    SecretaryReport,
)


def _letter_event(sp: SecretaryPledge, *, by, action: str, before: str = "", comment: str = ""):
    """Record a step; `before` is the status it moved from (empty when it moved nothing)."""
    record_event(
        SecretaryPledgeEvent,
        by=by,
        action=action,
        comment=comment,
        letter=sp,
        from_status=before,
        to_status=sp.status if before else "",
    )


@transaction.atomic
def secretary_pledge_save(*, by, org: Organization, year: int, **fields) -> SecretaryPledge:
    """The secretary's own pledge letter: written by the organisation's secretary."""
    member = org.secretary
    if member is None:
        refuse(f"“{org.name}”尚未设定书记。")
    if not access.can_write_letter(by, org):
        refuse("书记公开承诺书由书记本人填写。")
    sp = SecretaryPledge.objects.select_for_update(of=("self",)).filter(org=org, year=year).first()
    if sp is not None and not sp.is_editable:
        refuse(f"承诺书已{sp.get_status_display()}，不能再修改。")
    if not fields.get("content", "").strip():
        refuse("请填写公开承诺事项。", "content")
    if sp is None:
        sp = SecretaryPledge.objects.create(org=org, member=member, year=year, **fields)
    else:
        for name, value in fields.items():
            setattr(sp, name, value)
        sp.member = member
        sp.save()
    _letter_event(sp, by=by, action="save", comment=fields["content"])
    return sp


@transaction.atomic
def secretary_pledge_submit(*, by, sp: SecretaryPledge) -> SecretaryPledge:
    """Sign the letter and send it to the upper organisation (the secretary in person)."""
    sp = (
        SecretaryPledge.objects.select_for_update(of=("self",))
        .select_related("member")
        .get(pk=sp.pk)
    )
    if not access.can_sign_letter(by, sp):
        refuse("承诺书由书记本人签字提交。")
    if not sp.is_editable:
        refuse(f"承诺书当前为“{sp.get_status_display()}”，不能提交。")
    before = sp.status
    sp.status, sp.signed_on = SecretaryPledgeStatus.SUBMITTED, timezone.localdate()
    sp.save(update_fields=["status", "signed_on", "updated_at"])
    _letter_event(sp, by=by, action="submit", before=before)
    return sp


@transaction.atomic
def secretary_pledge_review(
    *, by, sp: SecretaryPledge, approve: bool, opinion: str
) -> SecretaryPledge:
    """The upper organisation's 审定意见: approve, or return for revision."""
    sp = (
        SecretaryPledge.objects.select_for_update(of=("self",))
        .select_related("org", "member")
        .get(pk=sp.pk)
    )
    if not access.can_review_letter(by, sp):
        refuse("审定意见由上一级党组织书记填写（不能审定本人的承诺书）。")
    if not sp.is_awaiting_review:
        refuse(f"承诺书当前为“{sp.get_status_display()}”，不在待审定状态。")
    if not opinion.strip():
        refuse("请填写审定意见。", "opinion")
    sp.status = SecretaryPledgeStatus.APPROVED if approve else SecretaryPledgeStatus.RETURNED
    sp.upper_opinion, sp.upper_by, sp.upper_on = opinion, by, timezone.localdate()
    sp.save(update_fields=["status", "upper_opinion", "upper_by", "upper_on", "updated_at"])
    action = "approve" if approve else "return"
    _letter_event(sp, by=by, action=action, before=SecretaryPledgeStatus.SUBMITTED, comment=opinion)
    return sp


@transaction.atomic
def secretary_report_save(
    *,
    by,
    sp: SecretaryPledge,
    quarter: int,
    text: str,
    measures: str,
    today: datetime.date | None = None,
) -> SecretaryReport:
    """The quarterly report upward, due before the quarter ends (a later one is marked late)."""
    today = today or timezone.localdate()
    sp = SecretaryPledge.objects.select_related("member").get(pk=sp.pk)
    if not access.can_sign_letter(by, sp):
        refuse("季度落实情况由书记本人报送。")
    if not sp.is_approved:
        refuse("承诺书经上级审定后才能报送落实情况。")
    if quarter not in range(1, 5) or not Period.quarter(sp.year, quarter).has_begun(today):
        refuse("该季度尚未开始。", "quarter")
    if not text.strip() or not measures.strip():
        refuse("请填写落实推进情况和践诺措施。", "text")
    period = Period.quarter(sp.year, quarter)
    late = today > period.end
    report, _ = SecretaryReport.objects.update_or_create(
        pledge=sp,
        quarter=quarter,
        defaults={"text": text, "measures": measures, "submitted_by": by, "is_late": late},
    )
    note = "（逾期报送）" if late else ""
    comment = f"{period.short_label}{note}：{text}\n践诺措施：{measures}"
    _letter_event(sp, by=by, action="report", comment=comment)
    return report
