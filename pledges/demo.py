"""Demo pledges for the demo province: every state of the lifecycle, some overdue, fulfilment
reports, rectifications and the secretaries' pledge letters. Written with bulk inserts (COPY on
PostgreSQL); at province scale only the pledges themselves (about two per member)."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.db.models import Max
from django.utils import timezone

from orgs.demo import bulk_copy, reset_sequences
from orgs.models import Member, Organization, Sector
from orgs.periods import QUARTER, Period
from pledges.models import (
    Fulfilment,
    Pledge,
    PledgeEvent,
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
    made: list[tuple[int, str, str, datetime.date, int]] = []  # id, status, progress, due, org
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
        pid = first
        for (org_id,) in orgs:
            for _ in range(rng.choice((1, 1, 2))):
                category, content, target = rng.choice(ORG_TEXTS)
                status, progress = _status_for(rng.random())
                month, day = rng.choice(DUE[1:])
                due = datetime.date(year, month, day)
                made.append((pid, status, progress, due, org_id))
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
                made.append((pid, status, progress, due, org_id))
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
    log(f"公开承诺 {len(made)} 项。")
    if scale != "small":
        return {"pledges": len(made)}
    _small_extras(made, year=year, today=today, now=now, rng=rng)
    return {"pledges": len(made)}


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
