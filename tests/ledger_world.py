"""The records a 写实簿 is assembled from, on top of the personas (tests/personas.py), for the year
2025 (over by the time the tests run, so every section is due by `TODAY`):

- B1's secretary is the member 王书记 (login "own"); T1's secretary the member 赵书记 (login
  "parent"), on T1's own roll. B1 has 3 入党积极分子 in 2025.
- m1 (李一, elderly, no login): an oral annual pledge ("oral"), an immediate pledge approved in
  Q3 ("immediate"), a draft that is never approved; fulfilment of the oral pledge for Q1, Q2 and
  Q4, nothing for Q3; own's signed reviews for Q1 and Q4, an exemption for Q2, nothing for Q3.
- m1b (李二, login "member_self"): an annual pledge of their own, fulfilment for every quarter,
  own's signed review for Q1.
- B1: an annual pledge approved by T1, fulfilment for H1 only; parent's signed review for H1.
- B1's 2025 member appraisal, published: m1 graded, m1b left out (暂缓评议) with a reason, six
  党员 and two 群众 ballots. T1's 2025 appraisal of B1 and B2, published, five 党员 and three
  群众 ballots.

Each builder returns the Personas with the objects in `extra`; `transfer_m2` moves m2 from B2 to
B1 mid-year; `add_members` grows B1 (for query bounds).
"""

from __future__ import annotations

import datetime

from orgs import services as org_services
from orgs.models import Role
from orgs.periods import Period
from pledges import services as pledge_services
from pledges.models import Pledge, Progress
from reviews import services as review_services
from reviews.appraisal import services as appraisal_services
from tests.appraisal_world import plan_fields
from tests.personas import Personas, make_member, make_user

YEAR = 2025
TODAY = datetime.date(2026, 1, 20)  # the year is over
IN_WINDOW = datetime.date(YEAR, 2, 10)
REVIEWED = datetime.date(2026, 1, 10)


def d(month: int, day: int) -> datetime.date:
    return datetime.date(YEAR, month, day)


def pledge(p: Personas, *, by, owner_member=None, owner_org=None, vetter, **fields):
    """An approved pledge of the year (annual ones submitted in the window)."""
    fields = {
        "kind": "annual",
        "category": "serve_masses" if owner_member else "serve_people",
        "content": "每月走访困难群众一次",
        "target": "走访12次",
        "due_date": d(12, 31),
    } | fields
    made = pledge_services.pledge_create(
        by=by, year=YEAR, owner_member=owner_member, owner_org=owner_org, **fields
    )
    pledge_services.pledge_submit(by=by, pledge=made, today=IN_WINDOW)
    return pledge_services.pledge_approve(by=vetter, pledge=made)


def fulfil(by, pledge_row, period: int, text: str, status=Progress.IN_PROGRESS):
    return pledge_services.fulfilment_record(
        by=by,
        pledge=pledge_row,
        year=YEAR,
        period=period,
        text=text,
        status=status,
        today=TODAY,
    )


def review(by, *, member=None, org=None, period: Period, **texts):
    fields = {
        "method": "individual",
        "reviewed_on": REVIEWED,
        "achievements": "带头走访群众",
        "shortcomings": "学习不够系统",
        "direction": "加强理论学习",
    } | texts
    made = review_services.review_create(
        by=by,
        subject_kind="member" if member else "org",
        subject_member=member,
        subject_org=org,
        period=period,
        today=TODAY,
        **fields,
    )
    return review_services.review_sign(by=by, review=made)


def run_appraisal(
    p: Personas, *, org: str, kind: str, by, member_ballots, mass_ballots, exclude=()
):
    """An appraisal of `org` for the year, voted by codes and published. Ballots are tuples of
    grades (1 好/满意 … 4 差/不满意) by subject position."""
    fields = plan_fields(
        held_on=d(12, 10),
        expected_member=len(member_ballots),
        expected_masses=len(mass_ballots),
    )
    appraisal = appraisal_services.appraisal_create(
        by=by, org=p.orgs[org], kind=kind, year=YEAR, today=TODAY, **fields
    )
    for subject, reason in exclude:
        found = appraisal.subjects.get(member=subject) if kind == "member" else None
        appraisal = appraisal_services.subject_exclude(by=by, subject=found, reason=reason)
    appraisal_services.appraisal_advance(by=by, appraisal=appraisal, today=TODAY)
    appraisal_services.appraisal_advance(by=by, appraisal=appraisal, today=TODAY)
    for group, ballots in (("member", member_ballots), ("masses", mass_ballots)):
        if not ballots:
            continue
        issued = appraisal_services.slips_issue(
            by=by, appraisal=appraisal, group=group, count=len(ballots)
        )
        for (_, code), grades in zip(issued, ballots, strict=True):
            marks = {i: g for i, g in enumerate(grades, start=1)}
            appraisal_services.ballot_cast(appraisal_id=appraisal.pk, code=code, marks=marks)
    appraisal = appraisal_services.appraisal_close(by=by, appraisal=appraisal)
    if kind == "member":
        appraisal_services.results_decide(
            by=by,
            appraisal=appraisal,
            decisions={
                s.pk: (s.suggested_grade or "pass", "" if s.suggested_grade else "支部委员会认定")
                for s in appraisal.subjects.all()
            },
        )
    return appraisal_services.appraisal_publish(
        by=by, appraisal=appraisal, low_turnout_confirmed=True
    )


def build_ledger_world(p: Personas) -> Personas:
    own, parent = p.user("own_branch_secretary"), p.user("parent_committee_secretary")
    me = p.user("member_self")
    B1, T1 = p.orgs["B1"], p.orgs["T1"]
    m1, m1b = p.members["m1"], p.members["m1b"]

    secretary = make_member(B1, "王书记", birth_date=datetime.date(1968, 3, 1))
    org_services.member_update(by=None, member=secretary, user=own)
    org_services.organization_update(by=None, org=B1, secretary=secretary)
    upper = make_member(T1, "赵书记", birth_date=datetime.date(1966, 4, 1))
    org_services.member_update(by=None, member=upper, user=parent)
    org_services.organization_update(by=None, org=T1, secretary=upper)
    org_services.org_year_figure_set(by=own, org=B1, year=YEAR, activist_count=3)
    org_services.member_update(by=own, member=m1, is_elderly_infirm=True)
    m1.refresh_from_db()

    oral = pledge(
        p, by=own, owner_member=m1, vetter=own, is_oral=True, content="每周为邻里读报一次"
    )
    immediate = pledge(
        p, by=own, owner_member=m1, vetter=own, kind="immediate",
        immediate_reason="stage_task", content="汛期巡堤值守", target="值守10次",
        due_date=d(11, 30),
    )  # fmt: skip
    # approved in the third quarter (the rows' creation time is the clock's, not 2025's)
    Pledge.objects.filter(pk=immediate.pk).update(
        created_at=datetime.datetime(YEAR, 8, 10, 9, 0, tzinfo=datetime.UTC)
    )
    draft = pledge_services.pledge_create(
        by=own, year=YEAR, owner_member=m1, kind="annual", category="serve_masses",
        content="从未审定的承诺", target="无", due_date=d(12, 31),
    )  # fmt: skip
    own_pledge = pledge(p, by=me, owner_member=m1b, vetter=own, content="带头参加志愿服务")
    org_pledge = pledge(p, by=own, owner_org=B1, vetter=parent, content="年内修通村道两公里")

    fulfilled = {
        1: fulfil(own, oral, 1, "一季度读报12次"),
        2: fulfil(own, oral, 2, "二季度读报13次"),
        4: fulfil(own, oral, 4, "四季度读报12次", Progress.DONE),
    }
    fulfil(own, immediate, 4, "汛期值守10次", Progress.DONE)
    for n in range(1, 5):
        fulfil(me, own_pledge, n, f"第{n}季度参加志愿服务")
    org_h1 = fulfil(own, org_pledge, 1, "上半年修通一公里")

    q = {n: Period(YEAR, "Q", n) for n in range(1, 5)}
    reviews = {
        1: review(own, member=m1, period=q[1], achievements="读报坚持得好"),
        4: review(own, member=m1, period=q[4], achievements="全年坚持读报"),
    }
    exemption = review_services.exemption_grant(
        by=parent, period=q[2], subject_kind="member", subject_member=m1, reason="住院治疗"
    )
    review(own, member=m1b, period=q[1])
    org_review = review(
        parent, org=B1, period=Period(YEAR, "H", 1), method="central",
        achievements="村道工程推进有力", shortcomings="群众宣传不足", direction="加快进度",
    )  # fmt: skip

    members_appraisal = run_appraisal(
        p, org="B1", kind="member", by=own,
        member_ballots=[(1, 1), (1, 2), (2, 1), (1, 1), (3, 1), (1, 4)],
        mass_ballots=[(1, 1), (2, 2)],
        exclude=[(m1b, "长期外出务工")],
    )  # fmt: skip
    orgs_appraisal = run_appraisal(
        p, org="T1", kind="org", by=parent,
        member_ballots=[(1, 2), (1, 1), (2, 3), (1, 4), (4, 1)],
        mass_ballots=[(1, 1), (1, 2), (2, 2)],
    )  # fmt: skip
    for org in p.orgs.values():
        org.refresh_from_db()
    for member in (m1, m1b):
        member.refresh_from_db()
    p.members["secretary"] = secretary
    p.members["upper"] = upper
    p.extra.update(
        oral=oral,
        immediate=immediate,
        draft=draft,
        own_pledge=own_pledge,
        org_pledge=org_pledge,
        fulfilled=fulfilled,
        org_h1=org_h1,
        reviews=reviews,
        exemption=exemption,
        org_review=org_review,
        members_appraisal=members_appraisal,
        orgs_appraisal=orgs_appraisal,
    )
    return p


def transfer_m2(p: Personas, on: datetime.date | None = None):
    """m2 (王二) moves from B2 to B1 on `on`, by T1's secretary; B2's secretary reviews the second
    quarter, B1's the third."""
    parent = p.user("parent_committee_secretary")
    on = on or d(8, 15)
    m2 = p.members["m2"]
    review(p.user("sibling_branch_secretary"), member=m2, period=Period(YEAR, "Q", 2))
    org_services.member_transfer(by=parent, member=m2, to_org=p.orgs["B1"], on=on)
    review(p.user("own_branch_secretary"), member=m2, period=Period(YEAR, "Q", 3))
    m2.refresh_from_db()
    return m2


def add_members(p: Personas, n: int, *, org: str = "B1", prefix: str = "队员") -> list:
    """`n` more members of `org`, each with an approved pledge, a fulfilment report, a signed
    review and a login (so that each also has signatures to read)."""
    own = p.user("own_branch_secretary")
    made = []
    for i in range(n):
        member = make_member(
            p.orgs[org], f"{prefix}{i}", birth_date=datetime.date(1971, 1 + i % 12, 1)
        )
        user = make_user(f"{prefix}-{org}-{i}", Role.MEMBER, p.orgs[org])
        org_services.member_update(by=None, member=member, user=user)
        row = pledge(p, by=own, owner_member=member, vetter=own, content=f"承诺{i}")
        fulfil(own, row, 1, f"报告{i}")
        review(own, member=member, period=Period(YEAR, "Q", 1))
        made.append(member)
    return made
