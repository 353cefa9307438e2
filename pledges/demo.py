"""Demo pledges for the demo province: every state of the lifecycle, some overdue, fulfilment
reports, rectifications and the secretaries' pledge letters. Written with bulk inserts (COPY on
PostgreSQL). At province scale the pledges (about two per member), the year's fulfilment reports,
rectifications and the first evaluations (`seed_activity`), without history or letters."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.db.models import Case, DateField, Max, Min, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from orgs.demo import bulk_copy, loading, reset_sequences
from orgs.models import Member, Organization, Sector
from orgs.periods import HALF, QUARTER, Period
from pledges.models import (
    ACTIVE,
    EvaluationResult,
    Fulfilment,
    Pledge,
    PledgeEvent,
    PledgeKind,
    PledgeStatus,
    Progress,
    Rectification,
    SecretaryPledge,
    SecretaryPledgeStatus,
)

MEMBER_TEXTS = {
    Sector.RURAL: [
        ("prosperity", "带头发展特色种植，帮带困难户增收", "帮带2户，户均增收3000元"),
        ("serve_masses", "每月走访联系户，帮助解决实际困难", "走访12次"),
        ("duty", "带头参加环境整治义务劳动", "参加6次"),
    ],
    Sector.COMMUNITY: [
        ("serve_masses", "每月参加社区志愿服务", "不少于24小时"),
        ("community", "参与楼栋矛盾调解和邻里互助", "调解纠纷3起"),
        ("duty", "带头做好垃圾分类宣传", "覆盖所在楼栋全部住户"),
    ],
    Sector.PRIVATE_ENTERPRISE: [
        ("production", "全年本岗位无安全生产事故，提出合理化建议", "建议3条"),
        ("production", "带领班组完成生产任务，降低能耗", "能耗下降5%"),
    ],
    Sector.SCHOOL: [
        ("duty", "结对帮扶学习困难学生", "帮扶5名"),
        ("serve_masses", "每学期家访", "家访20户"),
    ],
    Sector.INSTITUTION: [
        ("service_quality", "窗口服务零投诉，推行预约服务", "群众满意率95%以上"),
        ("style", "办件按时办结", "按时办结率100%"),
    ],
    Sector.ORGAN: [
        ("style", "改进作风，提高办事效率", "按时办结率100%"),
        ("serve_masses", "联系基层群众，办实事", "为群众办实事4件"),
    ],
}
ORG_TEXTS = [
    ("serve_people", "年内硬化村内道路", "2公里"),
    ("org_building", "建成党群服务中心并规范运行", "每周开放不少于5天"),
    ("central_work", "推动集体经济增收", "集体收入增长10%"),
    ("serve_people", "为群众办实事好事", "10件"),
]
DUE = [(3, 31), (6, 30), (9, 30), (12, 31)]


def _status_for(roll: float) -> tuple[str, str]:
    """(status, progress) spread over the lifecycle."""
    if roll < 0.10:
        return PledgeStatus.DRAFT, Progress.NOT_STARTED
    if roll < 0.15:
        return PledgeStatus.RETURNED, Progress.NOT_STARTED
    if roll < 0.25:
        return PledgeStatus.SUBMITTED, Progress.NOT_STARTED
    if roll < 0.33:
        return PledgeStatus.APPROVED, Progress.IN_PROGRESS
    if roll < 0.60:
        return PledgeStatus.PUBLISHED, Progress.IN_PROGRESS
    if roll < 0.95:
        return PledgeStatus.PUBLISHED, Progress.DONE
    return PledgeStatus.PUBLISHED, Progress.NOT_STARTED


PLEDGE_COLUMNS = [
    "id", "owner_org_id", "owner_member_id", "org_id", "is_community", "year", "kind",
    "immediate_reason", "category", "content", "target", "due_date", "is_oral", "status",
    "progress", "published_on", "result", "result_remark", "previous_id", "created_by_id",
    "created_at", "updated_at",
]  # fmt: skip


def seed(*, scale: str, rng, today: datetime.date, log) -> dict:
    year = today.year
    now = timezone.now()
    first = (Pledge.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    sectors = dict(Organization.objects.values_list("id", "sector"))
    # id, status, progress, due, org: what the small demo's history is written from
    made: list[tuple[int, str, str, datetime.date, int]] = []
    keep = made.append if scale == "small" else (lambda item: None)
    written = 0
    log("公开承诺写入中…")

    # Read everything first: the connection is busy while COPY runs.
    orgs = list(
        Organization.objects.filter(kind__in=["committee", "general_branch", "branch"])
        .order_by("id")
        .values_list("id")
    )
    members = list(
        Member.objects.order_by("id").values_list(
            "id", "org_id", "is_elderly_infirm", "is_low_literacy"
        )
    )

    def rows():
        nonlocal written
        pid = first
        for (org_id,) in orgs:
            for _ in range(rng.choice((1, 1, 2))):
                category, content, target = rng.choice(ORG_TEXTS)
                status, progress = _status_for(rng.random())
                month, day = rng.choice(DUE[1:])
                due = datetime.date(year, month, day)
                keep((pid, status, progress, due, org_id))
                written += 1
                yield (
                    pid, org_id, None, org_id, False, year, "annual", "", category, content, target,
                    due, False, status, progress,
                    today.replace(month=4, day=1) if status == PledgeStatus.PUBLISHED else None,
                    "", "", None, None, now, now,
                )  # fmt: skip
                pid += 1
        for member_id, org_id, infirm, low in members:
            texts = MEMBER_TEXTS.get(sectors[org_id], MEMBER_TEXTS[Sector.ORGAN])
            count = 0 if rng.random() < 0.08 else rng.choice((1, 2, 2, 3))
            for n in range(count):
                category, content, target = rng.choice(texts)
                status, progress = _status_for(rng.random())
                immediate = n == 2
                month, day = rng.choice(DUE)
                due = datetime.date(year, month, day)
                keep((pid, status, progress, due, org_id))
                written += 1
                yield (
                    pid, None, member_id, org_id, False, year,
                    "immediate" if immediate else "annual",
                    "stage_task" if immediate else "", category, content, target, due,
                    bool((infirm or low) and n == 0), status, progress,
                    today.replace(month=4, day=1) if status == PledgeStatus.PUBLISHED else None,
                    "", "", None, None, now, now,
                )  # fmt: skip
                pid += 1

    bulk_copy(Pledge._meta.db_table, PLEDGE_COLUMNS, rows())
    reset_sequences([Pledge])
    log(f"公开承诺 {written} 项。")
    if scale != "small":
        return {"pledges": written, **seed_activity(rng=rng, today=today, log=log)}
    _small_extras(made, year=year, today=today, now=now, rng=rng)
    return {"pledges": written}


# ---------------------------------------------------------------- province scale: the year's activity

ACTIVITY_CHUNK = 100_000  # pledge ids read and written at a time
REPORT_TEXT = {
    Progress.NOT_STARTED: "尚未开始，已制定推进计划。",
    Progress.IN_PROGRESS: "已按计划推进。",
    Progress.DONE: "已全部完成。",
}
# each organisation's members report this share of the periods ended (the current one: a third
# of that): most branches keep up, some lag
DILIGENCE = (0.98, 0.95, 0.9, 0.9, 0.8, 0.6)
RECTIFIED = 0.06  # share of the overdue pledges set a rectification
EVALUATED = 0.08  # share of organisations whose pledges are evaluated (评诺) already
REQUIREMENT = "承诺已超过完成时限，请于期限内完成并报告整改情况。"
RESPONSE = "已落实整改，承诺事项已完成，请审核销号。"
REMARK = {
    EvaluationResult.PARTLY: "承诺事项完成了一部分，剩余部分列入下一年度承诺。",
    EvaluationResult.NOT_FULFILLED: "承诺事项未按期兑现，已责成说明原因并整改。",
}
FULFILMENT_COLUMNS = [
    "pledge_id", "org_id", "year", "period", "text", "status", "reason", "entered_by_id",
    "updated_at",
]  # fmt: skip
RECTIFICATION_COLUMNS = [
    "pledge_id", "org_id", "requirement", "deadline", "status", "response", "issued_by_id",
    "issued_at", "closed_at",
]  # fmt: skip


def _reported_periods(pledge, spans, today: datetime.date, rate: float, rng) -> list[int]:
    """The numbers of the periods a pledge's fulfilment is reported for: those begun by today
    (`spans`: number, start, end) that the pledge reports in (not after its due date; an
    immediate pledge — `made_on` set — from the period it was made in), a share of them; never
    none when its progress has moved (only a report moves it)."""
    _pid, _member, _org, due, progress, made_on = pledge
    eligible = [
        (number, end)
        for number, start, end in spans
        if due >= start and (made_on is None or made_on <= end)
    ]
    chosen = [n for n, end in eligible if rng.random() < (rate if end < today else rate / 3)]
    if not chosen and eligible and progress != Progress.NOT_STARTED:
        chosen = [eligible[-1][0]]
    return chosen


def seed_activity(*, rng, today: datetime.date, log) -> dict:
    """Province scale: the year's fulfilment reports (members quarterly, organisations
    half-yearly; the last report's progress is the pledge's), rectifications of a share of the
    overdue pledges (open, reported or closed; some past their deadline), and for a share of
    organisations the year-end evaluation (评诺, from 1 December; before then only of pledges
    done). Read and written a chunk of pledge ids at a time."""
    year = today.year
    now = timezone.now()
    spans = {
        kind: [(p.number, p.start, p.end) for p in Period.all_of(year, kind) if p.has_begun(today)]
        for kind in (QUARTER, HALF)
    }
    orgs = list(Organization.objects.order_by("id").values_list("id", flat=True))
    diligence = {org_id: rng.choice(DILIGENCE) for org_id in orgs}
    evaluating = sorted(org_id for org_id in orgs if rng.random() < EVALUATED)
    active = Pledge.objects.filter(year=year, status__in=ACTIVE)
    # the day an immediate pledge was made (it reports from that period on), as a date: reading
    # every pledge's creation time instead would cost most of this seeder's time
    made_on = Case(
        When(kind=PledgeKind.IMMEDIATE, then=TruncDate("created_at")), output_field=DateField()
    )
    # pledges reported on or rectified already (the small demo's, say) are left as they are
    reported = set(Fulfilment.objects.filter(year=year).values_list("pledge_id", flat=True))
    rectified_before = set(Rectification.objects.values_list("pledge_id", flat=True))
    bounds = active.aggregate(low=Min("id"), high=Max("id"))
    log("承诺兑现情况、整改写入中…")
    reports = rectified = 0
    with loading(Fulfilment._meta.db_table), loading(Rectification._meta.db_table):
        for start in range(bounds["low"] or 0, (bounds["high"] or -1) + 1, ACTIVITY_CHUNK):
            pledges = list(
                active.filter(id__gte=start, id__lt=start + ACTIVITY_CHUNK)
                .order_by("id")
                .annotate(made_on=made_on)
                .values_list("id", "owner_member_id", "org_id", "due_date", "progress", "made_on")
            )
            fulfilments, rectifications = [], []
            for pledge in pledges:
                pid, member_id, org_id, due, progress, _made_on = pledge
                if pid in reported:
                    continue
                kind = QUARTER if member_id else HALF
                chosen = _reported_periods(pledge, spans[kind], today, diligence[org_id], rng)
                for number in chosen:
                    status = progress if number == chosen[-1] else (
                        Progress.NOT_STARTED
                        if progress == Progress.NOT_STARTED
                        else Progress.IN_PROGRESS
                    )  # fmt: skip
                    fulfilments.append(
                        (pid, org_id, year, number, REPORT_TEXT[status], status, "", None, now)
                    )
                if (
                    due < today
                    and progress != Progress.DONE
                    and rng.random() < RECTIFIED
                    and pid not in rectified_before
                ):
                    rectifications.append(_rectification(pid, org_id, due, today, rng))
            bulk_copy(Fulfilment._meta.db_table, FULFILMENT_COLUMNS, fulfilments)
            bulk_copy(Rectification._meta.db_table, RECTIFICATION_COLUMNS, rectifications)
            reports += len(fulfilments)
            rectified += len(rectifications)
    evaluated = _evaluate(evaluating, year=year, today=today)
    log(f"承诺兑现情况 {reports} 份，整改 {rectified} 项，评诺 {evaluated} 项。")
    return {"fulfilments": reports, "rectifications": rectified, "evaluations": evaluated}


def _rectification(pid: int, org_id: int, due: datetime.date, today: datetime.date, rng):
    """One rectification of an overdue pledge, issued some days after its due date."""
    issued = min(due + datetime.timedelta(days=rng.randint(3, 30)), today)
    deadline = issued + datetime.timedelta(days=rng.randint(15, 60))
    roll = rng.random()
    if deadline < today:  # most are dealt with by their deadline, some are overdue
        status = "closed" if roll < 0.55 else "reported" if roll < 0.75 else "open"
    else:
        status = "closed" if roll < 0.1 else "reported" if roll < 0.4 else "open"
    closed_on = min(deadline, today) - datetime.timedelta(days=rng.randint(0, 5))
    return (
        pid, org_id, REQUIREMENT, deadline, status, "" if status == "open" else RESPONSE, None,
        _at(issued), _at(max(closed_on, issued)) if status == "closed" else None,
    )  # fmt: skip


def _at(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(10)))


def _evaluate(org_ids: list[int], *, year: int, today: datetime.date) -> int:
    """评诺 of the active pledges of `org_ids`: done ones fulfilled, the others partly (under
    way) or not fulfilled (not started) with the evaluator's remark. Before 1 December only the
    pledges done may be evaluated."""
    evaluated = 0
    year_end = today >= datetime.date(year, 12, 1)
    for start in range(0, len(org_ids), 5000):
        pledges = Pledge.objects.filter(
            year=year, status__in=ACTIVE, org_id__in=org_ids[start : start + 5000]
        )
        evaluated += pledges.filter(progress=Progress.DONE).update(
            status=PledgeStatus.EVALUATED, result=EvaluationResult.FULFILLED
        )
        if not year_end:
            continue
        for progress, result in (
            (Progress.IN_PROGRESS, EvaluationResult.PARTLY),
            (Progress.NOT_STARTED, EvaluationResult.NOT_FULFILLED),
        ):
            evaluated += pledges.filter(progress=progress).update(
                status=PledgeStatus.EVALUATED, result=result, result_remark=REMARK[result]
            )
    return evaluated


def _small_extras(made, *, year, today, now, rng) -> None:
    """History, fulfilment reports, rectifications and letters for the small demo."""
    events, fulfilments = [], []
    for pid, status, progress, _due, org_id in made:
        events.append(PledgeEvent(pledge_id=pid, action="create", to_status="draft"))
        if status != PledgeStatus.DRAFT:
            events.append(
                PledgeEvent(
                    pledge_id=pid, action="submit", from_status="draft", to_status="submitted"
                )
            )
        if status == PledgeStatus.RETURNED:
            events.append(
                PledgeEvent(pledge_id=pid, action="return", from_status="submitted", to_status="returned",
                            comment="目标不够具体，请写明数量和时间。")
            )  # fmt: skip
        if status in (PledgeStatus.APPROVED, PledgeStatus.PUBLISHED):
            events.append(
                PledgeEvent(
                    pledge_id=pid, action="approve", from_status="submitted", to_status="approved"
                )
            )
        if status == PledgeStatus.PUBLISHED:
            events.append(
                PledgeEvent(
                    pledge_id=pid, action="publish", from_status="approved", to_status="published"
                )
            )
            fulfilments.append(
                Fulfilment(
                    pledge_id=pid, org_id=org_id, year=year, period=1,
                    text="已按计划推进。" if progress != Progress.DONE else "已全部完成。",
                    status=progress,
                )
            )  # fmt: skip
    PledgeEvent.objects.bulk_create(events, batch_size=2000)
    Fulfilment.objects.bulk_create(fulfilments, batch_size=2000)
    overdue = [
        m for m in made if m[1] == PledgeStatus.PUBLISHED and m[2] != Progress.DONE and m[3] < today
    ]
    for pid, _, _, _, org_id in overdue[:: max(1, len(overdue) // 8)][:8]:
        Rectification.objects.create(
            pledge_id=pid, org_id=org_id, requirement="承诺已超过完成时限，请于期限内完成并报告整改情况。",
            deadline=today + datetime.timedelta(days=rng.randint(10, 40)),
        )  # fmt: skip
    _letters(year=year, today=today)


def _letters(*, year, today) -> None:
    """Secretaries' pledge letters for the demo logins that are secretaries."""
    User = get_user_model()
    for username, status in (
        ("zhibu_shuji", SecretaryPledgeStatus.APPROVED),
        ("zhen_shuji", SecretaryPledgeStatus.SUBMITTED),
        ("xian_shuji", SecretaryPledgeStatus.DRAFT),
    ):
        user = User.objects.filter(username=username).first()
        member = Member.objects.filter(user=user).select_related("org").first() if user else None
        org = Organization.objects.filter(secretary=member).first() if member else None
        if org is None:
            continue
        sp = SecretaryPledge.objects.create(
            org=org, member=member, year=year, post=f"{org.name}书记", term_start=datetime.date(year - 3, 1, 1),
            contact="0451-8000" + str(1000 + org.pk % 9000), status=status,
            content="一、带头走访联系群众，每月不少于4户；\n二、推动集体经济增收10%；\n三、抓好党员队伍建设，发展党员2名。",
            signed_on=datetime.date(year, 1, 20) if status != SecretaryPledgeStatus.DRAFT else None,
        )  # fmt: skip
        if sp.is_approved:
            SecretaryPledge.objects.filter(pk=sp.pk).update(
                upper_opinion="同意。", upper_on=datetime.date(year, 1, 28)
            )
            # every quarter begun by today (the demo's year is today's)
            for period in Period.all_of(year, QUARTER):
                if not period.has_begun(today):
                    break
                sp.reports.create(
                    quarter=period.number, text=f"{period.short_label}走访群众16户，协调解决困难3件。",
                    measures=f"{period.end:%m月%d日}前完成本季度走访。",
                )  # fmt: skip
