"""Closing the vote and the results: the count frozen with its digest, the committee's grades,
publication, and the grade rule an office sets."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from orgs.calendar import office_setting_set
from orgs.events import record_event
from orgs.models import OfficeSetting, Organization
from orgs.refusals import refuse
from reviews.appraisal import rules, tally
from reviews.appraisal.figures import touch_session
from reviews.appraisal.models import (
    Appraisal,
    AppraisalEvent,
    AppraisalState,
    AppraisalSubject,
    Ballot,
    Group,
    PaperCount,
    PaperEntry,
    ResultGrade,
    Slip,
)
from reviews.appraisal.services.locks import lock_session, require_runner, require_state


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
    appraisal = lock_session(appraisal)  # waits for ballots being cast; later ones see "closed"
    require_runner(by, appraisal)
    require_state(appraisal, AppraisalState.VOTING)
    confirmed = set(PaperCount.objects.filter(appraisal=appraisal).values_list("group", flat=True))
    pending = (
        set(PaperEntry.objects.filter(appraisal=appraisal).values_list("group", flat=True))
        - confirmed
    )
    if pending:
        labels = "、".join(Group(g).label for g in sorted(pending))
        refuse(f"纸质评议表（{labels}）还没有两位计票人核对一致，请先完成核对再结束评议。")
    counted, digest = tally.count_and_digest(appraisal)
    if not counted["ok"]:
        broken = "；".join(i["label"] for i in counted["invariants"] if not i["ok"])
        refuse(f"计票校验未通过：{broken}。请联系管理员核查。")
    if not any(counted["participants"].values()):
        refuse("还没有任何评议票，不能结束评议。")
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
        if appraisal.appraises_members:
            subject.suggested_grade = rules.suggest(row["total"], thresholds)
    AppraisalSubject.objects.bulk_update(subjects, ["counts", "suggested_grade"], batch_size=1000)
    touch_session(appraisal)
    record_event(
        AppraisalEvent,
        appraisal=appraisal,
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
    appraisal = lock_session(appraisal)
    require_runner(by, appraisal)
    require_state(appraisal, AppraisalState.CLOSED)
    if not appraisal.appraises_members:
        refuse("评议党组织只公布满意度，不认定等次。")
    subjects = {s.pk: s for s in AppraisalSubject.objects.filter(appraisal=appraisal)}
    now = timezone.now()
    changed = []
    for pk, (grade, reason) in decisions.items():
        subject = subjects.get(pk)
        if subject is None:
            refuse("评议对象与本次评议不符，请刷新页面后重试。")
        if not grade:
            continue
        if grade not in ResultGrade.values:
            refuse(f"“{subject.name}”的评议结果无效。", f"grade_{pk}")
        reason = str(reason or "").replace("\x00", "").strip()[:500]
        if grade != subject.suggested_grade and not reason:
            if subject.suggested_grade:
                suggested = ResultGrade(subject.suggested_grade).label
                refuse(
                    f"“{subject.name}”的认定结果与建议等次（{suggested}）不同，请填写理由。",
                    f"reason_{pk}",
                )
            refuse(f"“{subject.name}”没有有效评价，请填写认定依据。", f"reason_{pk}")
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
        touch_session(appraisal)
        record_event(
            AppraisalEvent,
            appraisal=appraisal,
            by=by,
            action="decide",
            comment=f"{len(changed)} 名党员",
        )
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
    appraisal = lock_session(appraisal)
    require_runner(by, appraisal)
    require_state(appraisal, AppraisalState.CLOSED)
    if not appraisal.appraises_members:
        refuse("评议党组织只公布满意度，不认定等次。")
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
        touch_session(appraisal)
        record_event(
            AppraisalEvent,
            appraisal=appraisal,
            by=by,
            action="adopt",
            comment=f"{adopted} 名党员采用建议等次",
        )
    return adopted


@transaction.atomic
def appraisal_publish(
    *, by, appraisal: Appraisal, low_turnout_confirmed: bool = False
) -> Appraisal:
    """公开结果. Below the rule's turnout the secretary must confirm, and the session is marked
    so that nobody from it is suggested for 评先评优."""
    appraisal = lock_session(appraisal)
    require_runner(by, appraisal)
    require_state(appraisal, AppraisalState.CLOSED)
    if appraisal.appraises_members:
        undecided = AppraisalSubject.objects.filter(appraisal=appraisal, final_grade="").count()
        if undecided:
            refuse(f"还有 {undecided} 名党员没有认定评议结果，请先由支部委员会认定。")
    thresholds = rules.thresholds_for(org=appraisal.org, year=appraisal.year)
    warning = turnout_warning(appraisal, thresholds)
    if warning and not low_turnout_confirmed:
        raise ValidationError(f"{warning}确认后才能公开。", code="low_turnout")
    appraisal.state = AppraisalState.PUBLISHED
    appraisal.published_at = timezone.now()
    appraisal.low_turnout = bool(warning)
    appraisal.save(update_fields=["state", "published_at", "low_turnout", "updated_at"])
    touch_session(appraisal, subjects=True)
    record_event(
        AppraisalEvent,
        appraisal=appraisal,
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
