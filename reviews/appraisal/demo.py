"""Demo appraisals (small scale): the demo village branch's member appraisal of last year, voted
by code and on paper, decided and published; this year's in the statement step; and the township
committee's appraisal of its branches last year, published. Written through the services, so the
slips, ballots, tellers' entries and history are what real use leaves."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from orgs.access import grants_for
from orgs.models import Organization, Role
from orgs.selectors import members_on
from reviews.appraisal import services

WEIGHTS = (55, 30, 10, 5)  # 好 较好 一般 差 — most members are well regarded


def _org_of(user, role=Role.SECRETARY) -> Organization | None:
    grant = next((g for g in grants_for(user) if g.role == role), None)
    return Organization.objects.get(pk=grant.org_id) if grant else None


def _grades(rng, n: int) -> dict[int, int | None]:
    return {
        i: (None if rng.random() < 0.05 else rng.choices((1, 2, 3, 4), WEIGHTS)[0])
        for i in range(1, n + 1)
    }


def _paper(rng, n: int, valid: int) -> list[list[int]]:
    rows = []
    for _ in range(n):
        cells = [0] * 5
        for _ in range(valid):
            cells[rng.choices((0, 1, 2, 3, 4), (*WEIGHTS, 4))[0]] += 1
        rows.append(cells)
    return rows


def _run(appraisal, *, by, teller, rng, groups: dict[str, int], paper_group: str | None):
    services.appraisal_advance(by=by, appraisal=appraisal)
    for subject in appraisal.subjects.all()[:3]:
        services.statement_save(
            by=by,
            subject=subject,
            text="全年按时履行承诺事项，带头参加志愿服务，联系群众 10 余户。",
        )
    appraisal = services.appraisal_advance(by=by, appraisal=appraisal)
    n = appraisal.subject_count
    for group, count in groups.items():
        for _, code in services.slips_issue(by=by, appraisal=appraisal, group=group, count=count):
            services.ballot_cast(appraisal_id=appraisal.pk, code=code, marks=_grades(rng, n))
    if paper_group:
        valid = 12
        figures = {
            "sheets_issued": 15,
            "sheets_returned": valid + 2,
            "blank_sheets": 1,
            "spoiled_sheets": 1,
            "counts": _paper(rng, n, valid),
        }
        for who in (by, teller):
            services.paper_enter(by=who, appraisal=appraisal, group=paper_group, figures=figures)
    return services.appraisal_close(by=by, appraisal=appraisal)


def seed(*, scale: str, rng, today: datetime.date, log) -> dict:
    if scale != "small":
        return {}
    User = get_user_model()
    users = {
        u.username: u
        for u in User.objects.filter(username__in=["zhibu_shuji", "zhibu_fushuji", "zhen_shuji"])
    }
    if len(users) < 3:
        return {}
    secretary, deputy, town_secretary = (
        users["zhibu_shuji"],
        users["zhibu_fushuji"],
        users["zhen_shuji"],
    )
    branch, town = _org_of(secretary), _org_of(town_secretary)
    last = today.year - 1
    plan = {
        "place": "村党群服务中心会议室",
        "content": "围绕争当“五带头”党员和公开承诺事项的落实情况，开展党员自评、互评和群众评议。",
    }
    made = 0
    try:
        held_last = datetime.date(last, 12, 20)
        roll = members_on(org=branch, day=held_last).values("pk").distinct().count()
        appraisal = services.appraisal_create(
            by=secretary, org=branch, kind="member", year=last, today=today,
            held_on=held_last, method="both", expected_member=max(roll, 1),
            expected_masses=15, **plan,
        )  # fmt: skip
        n = appraisal.subjects.count()
        appraisal = _run(
            appraisal, by=secretary, teller=deputy, rng=rng, groups={"member": max(n - 2, 1)},
            paper_group="masses",
        )  # fmt: skip
        services.results_decide(
            by=secretary,
            appraisal=appraisal,
            decisions={
                s.pk: (s.suggested_grade or "pass", "" if s.suggested_grade else "支部委员会认定")
                for s in appraisal.subjects.all()
            },
        )
        services.appraisal_publish(by=secretary, appraisal=appraisal)
        made += 1
        held_on = min(today + datetime.timedelta(days=10), datetime.date(today.year, 12, 31))
        current = services.appraisal_create(
            by=secretary, org=branch, kind="member", year=today.year, today=today,
            held_on=held_on, method="code", expected_member=30, expected_masses=10, **plan,
        )  # fmt: skip
        services.appraisal_advance(by=secretary, appraisal=current)
        made += 1
        town_appraisal = services.appraisal_create(
            by=town_secretary, org=town, kind="org", year=last, today=today,
            held_on=datetime.date(last, 12, 28), method="code", expected_member=20,
            expected_masses=10, expected_leader=8, expected_recipient=5,
            place="镇党委会议室", content="围绕创建“五个好”基层党组织和公开承诺落实情况进行评议。",
        )  # fmt: skip
        town_appraisal = _run(
            town_appraisal, by=town_secretary, teller=None, rng=rng,
            groups={"member": 20, "masses": 10, "leader": 8, "recipient": 5}, paper_group=None,
        )  # fmt: skip
        services.appraisal_publish(by=town_secretary, appraisal=town_appraisal)
        made += 1
    except ValidationError as error:  # a demo tree without the expected shape: say so, go on
        log(f"民主评议演示数据未完整生成：{'；'.join(error.messages)}")
    log(f"民主评议 {made} 次。")
    return {"appraisals": made}
