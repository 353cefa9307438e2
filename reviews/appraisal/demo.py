"""Demo appraisals. Small scale: the demo village branch's member appraisal of last year, voted
by code and on paper, decided and published; this year's in the statement step; and the township
committee's appraisal of its branches last year, published. Written through the services, so the
slips, ballots, tellers' entries and history are what real use leaves.

Province scale (benchmarks): this year's sessions of a share of the organisations, written in
bulk (`seed_province`)."""

from __future__ import annotations

import datetime
import json

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Max, Q
from django.utils import timezone

from orgs.access import grants_for
from orgs.demo import bulk_copy, loading, reset_sequences
from orgs.models import MEMBER_HOLDING_KINDS, Membership, Organization, OrgKind, Role
from orgs.selectors import members_on
from reviews.appraisal import codes, rules, services
from reviews.appraisal import tally as counting
from reviews.appraisal.models import (
    Appraisal,
    AppraisalKind,
    AppraisalState,
    AppraisalSubject,
    PaperCount,
    ResultGrade,
    VotingMethod,
)

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
        return seed_province(rng=rng, today=today, log=log)
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


# ---------------------------------------------------------------- province scale, in bulk

SHARE = 0.25  # of the branches (their members) and of the committees and 党总支 (their branches)
# of those sessions: published, counted but not yet decided, still being planned
STATES = ((AppraisalState.PUBLISHED, 0.8), (AppraisalState.CLOSED, 0.1), (AppraisalState.PLAN, 0.1))
DEFERRED = 0.02  # members left out of a session (暂缓评议)
DEFER_REASON = "长期外出务工，本次暂缓评议。"
# how the valid sheets grade one subject: [1, 2, 3, 4, blank] shares, with how often each is drawn
MEMBER_PROFILES = (
    ((0.78, 0.15, 0.04, 0.01, 0.02), 25),  # mostly 好: 优秀
    ((0.55, 0.30, 0.10, 0.03, 0.02), 65),  # 合格
    ((0.25, 0.20, 0.35, 0.15, 0.05), 7),  # 基本合格
    ((0.15, 0.15, 0.25, 0.40, 0.05), 3),  # 不合格
)
ORG_PROFILES = (
    ((0.75, 0.20, 0.03, 0.01, 0.01), 50),  # 满意率 90% and above
    ((0.55, 0.30, 0.10, 0.04, 0.01), 30),  # 80%–90%
    ((0.40, 0.30, 0.20, 0.08, 0.02), 15),  # 60%–80%
    ((0.25, 0.25, 0.30, 0.18, 0.02), 5),  # below 60%
)
PLACE = {AppraisalKind.MEMBER: "党员活动室", AppraisalKind.ORG: "党委会议室"}
CONTENT = {
    AppraisalKind.MEMBER: "围绕争当“五带头”党员和公开承诺事项的落实情况，开展党员自评、互评和群众评议。",
    AppraisalKind.ORG: "围绕创建“五个好”基层党组织和公开承诺落实情况进行评议。",
}
CHUNK = 2000  # organisations per read and write
APPRAISAL_COLUMNS = [
    "id", "public_id", "kind", "org_id", "year", "state", "held_on", "place", "method", "content",
    "expected_member", "expected_masses", "expected_leader", "expected_recipient",
    "subject_count", "excluded", "slip_salt", "tally", "digest", "created_by_id", "created_at",
    "updated_at", "closed_at", "published_at", "low_turnout",
]  # fmt: skip
SUBJECT_COLUMNS = [
    "appraisal_id", "position", "member_id", "subject_org_id", "name", "statement",
    "statement_by_id", "statement_at", "counts", "suggested_grade", "final_grade",
    "override_reason", "decided_by_id", "decided_at",
]  # fmt: skip
PAPER_COLUMNS = [
    "appraisal_id", "group", "sheets_issued", "sheets_returned", "blank_sheets",
    "spoiled_sheets", "counts", "tellers", "confirmed_at",
]  # fmt: skip


def seed_province(*, rng, today: datetime.date, log) -> dict:
    """This year's appraisals of a share of the branches (of their members) and of the
    committees and 党总支 (of the basic-level organisations below them), by paper sheets: most
    published with the committee's grades, some counted and waiting for them, some still being
    planned. Each counted session's tally and digest are what closing it would freeze (the same
    count over the same records, so appraisal_verify agrees); the subjects carry their counts,
    suggested and decided grades. Written with COPY, a chunk of organisations at a time."""
    year = today.year
    kinds = {
        AppraisalKind.MEMBER: [OrgKind.BRANCH],
        AppraisalKind.ORG: [OrgKind.COMMITTEE, OrgKind.GENERAL_BRANCH],
    }
    taken = set(Appraisal.objects.filter(year=year).values_list("org_id", "kind"))
    chosen = [
        (kind, org_id)
        for kind, org_kinds in kinds.items()
        for org_id in Organization.objects.filter(is_active=True, kind__in=org_kinds)
        .order_by("pk")
        .values_list("pk", flat=True)
        if rng.random() < SHARE and (org_id, kind) not in taken
    ]
    log("民主评议写入中…")
    next_id = (Appraisal.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    made = subjects = 0
    with loading(Appraisal._meta.db_table), loading(AppraisalSubject._meta.db_table):
        for start in range(0, len(chosen), CHUNK):
            batch = _Batch(chosen[start : start + CHUNK], year=year, today=today, rng=rng)
            batch.build(first_id=next_id)
            bulk_copy(Appraisal._meta.db_table, APPRAISAL_COLUMNS, batch.appraisals)
            bulk_copy(AppraisalSubject._meta.db_table, SUBJECT_COLUMNS, batch.subjects)
            bulk_copy(PaperCount._meta.db_table, PAPER_COLUMNS, batch.paper)
            next_id += len(batch.appraisals)
            made += len(batch.appraisals)
            subjects += len(batch.subjects)
    reset_sequences([Appraisal, AppraisalSubject, PaperCount])
    log(f"民主评议 {made} 次，评议对象 {subjects} 个。")
    return {"appraisals": made, "appraisal_subjects": subjects}


class _Batch:
    """The rows of the sessions of one chunk of organisations."""

    def __init__(self, chosen, *, year: int, today: datetime.date, rng):
        self.chosen, self.year, self.today, self.rng = chosen, year, today, rng
        self.appraisals: list[tuple] = []
        self.subjects: list[tuple] = []
        self.paper: list[tuple] = []

    def _held_on(self, state: str) -> datetime.date:
        first, last = datetime.date(self.year, 1, 1), datetime.date(self.year, 12, 31)
        if state == AppraisalState.PLAN:
            return min(self.today + datetime.timedelta(days=self.rng.randint(5, 25)), last)
        return max(self.today - datetime.timedelta(days=self.rng.randint(3, 40)), first)

    def build(self, *, first_id: int) -> None:
        rng = self.rng
        states = [state for state, _ in STATES]
        weights = [weight for _, weight in STATES]
        plans = [(kind, org_id, rng.choices(states, weights)[0]) for kind, org_id in self.chosen]
        plans = [(kind, org_id, state, self._held_on(state)) for kind, org_id, state in plans]
        rolls = self._rolls(plans)
        now = timezone.now()
        for n, (kind, org_id, state, held_on) in enumerate(plans):
            roll = rolls.get((kind, org_id), [])
            if not roll:
                continue  # nobody to appraise: no session
            self._session(first_id + n, kind, org_id, state, held_on, roll, now)

    def _rolls(self, plans) -> dict[tuple[str, int], list[tuple]]:
        """Each session's candidates, in the order the service lists them: a branch's members
        on the day (by name), the basic-level organisations below a committee (tree order)."""
        rolls: dict[tuple[str, int], list[tuple]] = {}
        held = {(kind, org_id): day for kind, org_id, _, day in plans}
        branches = [org_id for kind, org_id, _, _ in plans if kind == AppraisalKind.MEMBER]
        earliest = min((day for day in held.values()), default=self.today)
        stays = (
            Membership.objects.filter(org_id__in=branches)
            .filter(Q(end__isnull=True) | Q(end__gt=earliest))
            .order_by("member__name", "member_id")
            .values_list("org_id", "member_id", "member__name", "start", "end")
        )
        for org_id, member_id, name, start, end in stays:
            day = held[(AppraisalKind.MEMBER, org_id)]
            if start <= day and (end is None or end > day):
                rolls.setdefault((AppraisalKind.MEMBER, org_id), []).append((member_id, None, name))
        committees = [org_id for kind, org_id, _, _ in plans if kind == AppraisalKind.ORG]
        below = (
            Organization.objects.filter(
                parent_id__in=committees, is_active=True, kind__in=MEMBER_HOLDING_KINDS
            )
            .order_by("lft")
            .values_list("parent_id", "pk", "name")
        )
        for parent_id, pk, name in below:
            rolls.setdefault((AppraisalKind.ORG, parent_id), []).append((None, pk, name))
        return rolls

    def _session(self, pk, kind, org_id, state, held_on, roll, now) -> None:
        rng = self.rng
        excluded = {}
        if kind == AppraisalKind.MEMBER and len(roll) > 3:
            for member_id, _, name in roll:
                if rng.random() < DEFERRED:
                    excluded[f"m{member_id}"] = {"name": name, "reason": DEFER_REASON}
            roll = [r for r in roll if f"m{r[0]}" not in excluded]
        if kind == AppraisalKind.MEMBER:
            expected = {"member": len(roll) + len(excluded), "masses": rng.randint(8, 20)}
        else:
            expected = {
                "member": rng.randint(20, 40),
                "masses": rng.randint(10, 20),
                "leader": len(roll),
                "recipient": rng.randint(5, 10),
            }
        appraisal = Appraisal(
            kind=kind, public_id=codes.new_public_id(), state=state, method=VotingMethod.PAPER
        )
        counted = state != AppraisalState.PLAN
        subjects = [(n, name, member_id, org) for n, (member_id, org, name) in enumerate(roll, 1)]
        tally: dict = {}
        digest = ""
        totals: list[list[int]] = [[] for _ in subjects]
        if counted:
            records = {
                "subjects": subjects,
                "ballots": [],
                "paper": self._paper(appraisal, expected, len(subjects)),
                "slips_issued": 0,
                "slips_used": 0,
            }
            tally = counting.count(appraisal, records)
            digest = counting.digest(
                appraisal, json.loads(json.dumps(records)), json.loads(json.dumps(tally))
            )
            totals = [row["total"] for row in tally["subjects"]]
            for figures in records["paper"]:
                self.paper.append(
                    (pk, figures["group"], figures["sheets_issued"], figures["sheets_returned"],
                     figures["blank_sheets"], figures["spoiled_sheets"],
                     json.dumps(figures["counts"]), "计票人甲、计票人乙", now)
                )  # fmt: skip
        decided = state == AppraisalState.PUBLISHED and kind == AppraisalKind.MEMBER
        closed_at = _at(held_on, 17) if counted else None
        for (position, name, member_id, org), total in zip(subjects, totals, strict=True):
            suggested = (
                rules.suggest(total, rules.DEFAULT)
                if counted and kind == AppraisalKind.MEMBER
                else ""
            )
            final = (suggested or ResultGrade.PASS) if decided else ""
            reason = "支部委员会认定" if decided and not suggested else ""
            self.subjects.append(
                (pk, position, member_id, org, name, "", None, None, json.dumps(total),
                 suggested, final, reason, None, closed_at if decided else None)
            )  # fmt: skip
        participants = (
            tally.get("party_participants", 0) + tally.get("mass_participants", 0)
            if tally
            else None
        )
        total_expected = sum(expected.values())
        turnout = (
            (participants * 200 + total_expected) // (2 * total_expected)
            if participants is not None and total_expected
            else None
        )
        published = state == AppraisalState.PUBLISHED
        published_at = (
            min(_at(held_on + datetime.timedelta(days=rng.randint(1, 7)), 10), now)
            if published
            else None
        )
        self.appraisals.append(
            (pk, appraisal.public_id, kind, org_id, self.year, state, held_on, PLACE[kind],
             VotingMethod.PAPER, CONTENT[kind], expected.get("member", 0),
             expected.get("masses", 0), expected.get("leader", 0), expected.get("recipient", 0),
             len(subjects) if counted else 0, json.dumps(excluded, ensure_ascii=False),
             codes.new_salt(), json.dumps(tally, ensure_ascii=False), digest, None, now, now,
             closed_at, published_at,
             published and turnout is not None and turnout < rules.DEFAULT.turnout_min)
        )  # fmt: skip

    def _paper(self, appraisal, expected: dict[str, int], n: int) -> list[dict]:
        """Each group's paper sheets as two tellers agreed them: issued to those expected, most
        returned, a few blank or spoiled; each subject's grades by a profile."""
        rng = self.rng
        profiles = MEMBER_PROFILES if appraisal.kind == AppraisalKind.MEMBER else ORG_PROFILES
        shapes = [p for p, _ in profiles]
        weights = [w for _, w in profiles]
        drawn = [rng.choices(shapes, weights)[0] for _ in range(n)]
        found = []
        for group in sorted(str(g) for g in appraisal.groups):
            issued = expected.get(group, 0)
            if not issued:
                continue
            returned = max(1, round(issued * rng.uniform(0.6, 1.0)))
            blank = 1 if returned > 10 and rng.random() < 0.3 else 0
            spoiled = 1 if returned > 10 and rng.random() < 0.2 else 0
            valid = returned - blank - spoiled
            counts = []
            for shape in drawn:
                cells = [int(valid * share) for share in shape]
                cells[1] += valid - sum(cells)
                counts.append(cells)
            found.append(
                {
                    "group": group,
                    "sheets_issued": issued,
                    "sheets_returned": returned,
                    "blank_sheets": blank,
                    "spoiled_sheets": spoiled,
                    "counts": counts,
                }
            )
        return found


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))
