"""The kept 公开承诺 figures (pledges/figures.py): every column equals a hand count after the
services have run, every service step leaves the kept figures equal to a recompute, the names
behind each figure are as many as the figure, and 需补课 agrees with the 补课 list and obligation.

The hand-built county (no demo province):

K 县委 ── T 镇党委 (member t1) ──┬── B1 党支部 (a elderly, b, c; e transferred in from B2 on 1 May)
                                  │     └── G 党小组
                                  ├── B2 党支部 (d; e until 1 May)
                                  └── C 社区党支部 (f)

2025: b's annual pledge, approved, due 30 June, never done.
2026: a's oral pledge (evaluated 已兑现); b's pledge (published, overdue, rectification closed);
c's draft; d's community pledge at C (approved, overdue); e's pledge (moved to B1 with the
transfer, returned); f's immediate pledge at C (evaluated 部分兑现); t1's pledge (withdrawn);
B1's own annual pledge (published, done) and immediate pledge (approved); T's term pledge
(approved, overdue, rectification open); B2's own pledge (submitted); none of C's own.
"""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from orgs import figures
from orgs import services as org_services
from orgs.models import Organization, OrgKind, Role, Sector
from orgs.periods import Period
from pledges import figures as pledge_figures
from pledges import obligations, selectors, services
from pledges.models import PledgeFigure, Progress
from reports.tables import PLEDGES
from tests.personas import make_member, make_org, make_user

pytestmark = pytest.mark.django_db

Y = 2026
YEAR, LAST_YEAR = Period.whole_year(Y), Period.whole_year(Y - 1)
IN_WINDOW = datetime.date(Y, 2, 1)
DEC = datetime.date(Y, 12, 15)
SINCE = datetime.date(Y - 1, 1, 1)  # on the rolls from 2025
COLUMNS = figures.columns(PledgeFigure)


def member_fields(**extra):
    return {
        "kind": "annual",
        "category": "serve_masses",
        "content": "每月走访困难群众一次",
        "target": "走访12次",
        "due_date": datetime.date(Y, 6, 30),
    } | extra


def org_fields(**extra):
    return {
        "kind": "annual",
        "category": "serve_people",
        "content": "年内修通村道两公里",
        "target": "村道2公里",
        "due_date": datetime.date(Y, 10, 31),
    } | extra


class County:
    """The orgs, members and secretaries above, and the service calls that make the scene, one
    step at a time (so that a test can check the kept figures after each)."""

    def __init__(self):
        k = make_org("K", OrgKind.COUNTY, sector=Sector.ORGAN)
        t = make_org("T", OrgKind.COMMITTEE, k)
        b1, b2 = make_org("B1", OrgKind.BRANCH, t), make_org("B2", OrgKind.BRANCH, t)
        c = make_org("C", OrgKind.BRANCH, t, Sector.COMMUNITY)
        g = make_org("G", OrgKind.GROUP, b1)
        self.orgs = {o.code: Organization.objects.get(pk=o.pk) for o in (k, t, b1, b2, c, g)}
        born = iter(datetime.date(1960 + i, 1, 1) for i in range(20))
        self.members = {
            name: make_member(self.orgs[code], name, birth_date=next(born), since=SINCE, **extra)
            for name, code, extra in (
                ("a", "B1", {"is_elderly_infirm": True}),
                ("b", "B1", {}),
                ("c", "B1", {}),
                ("d", "B2", {}),
                ("e", "B2", {}),
                ("f", "C", {}),
                ("t1", "T", {}),
            )
        }
        self.sec = {
            code: make_user(f"sec_{code}", Role.SECRETARY, self.orgs[code])
            for code in ("K", "T", "B1", "B2", "C")
        }
        self.pledges = {}

    def org(self, code: str) -> Organization:
        return Organization.objects.get(code=code)

    def steps(self):
        """Each service call of the scene, as (what it does, a callable)."""
        s, m, p = self.sec, self.members, self.pledges

        def make(key, by, **kw):
            p[key] = services.pledge_create(by=by, **kw)

        def do(fn, key, **kw):
            p[key] = fn(pledge=p[key], **kw) or p[key]

        last = Y - 1
        yield "b 2025", lambda: make(
            "b25", s["B1"], year=last, owner_member=m["b"],
            **member_fields(due_date=datetime.date(last, 6, 30)),
        )  # fmt: skip
        yield (
            "b 2025 submit",
            lambda: do(services.pledge_submit, "b25", by=s["B1"], today=datetime.date(last, 2, 1)),
        )
        yield "b 2025 approve", lambda: do(services.pledge_approve, "b25", by=s["B1"])
        yield (
            "a oral",
            lambda: make(
                "a", s["B1"], year=Y, owner_member=m["a"], is_oral=True, **member_fields()
            ),
        )
        yield "a submit", lambda: do(services.pledge_submit, "a", by=s["B1"], today=IN_WINDOW)
        yield "a approve", lambda: do(services.pledge_approve, "a", by=s["B1"])
        yield "a publish", lambda: do(services.pledge_publish, "a", by=s["B1"])
        yield "a done", lambda: services.fulfilment_record(
            by=s["B1"], pledge=p["a"], year=Y, period=1, text="走访完毕", status=Progress.DONE,
            today=datetime.date(Y, 4, 10),
        )  # fmt: skip
        yield (
            "a evaluate",
            lambda: do(
                services.pledge_evaluate, "a", by=s["B1"], result="fulfilled", remark="", today=DEC
            ),
        )
        yield "b", lambda: make("b", s["B1"], year=Y, owner_member=m["b"], **member_fields())
        yield "b submit", lambda: do(services.pledge_submit, "b", by=s["B1"], today=IN_WINDOW)
        yield "b approve", lambda: do(services.pledge_approve, "b", by=s["B1"])
        yield "b publish", lambda: do(services.pledge_publish, "b", by=s["B1"])
        yield "b rectify", lambda: p.update(
            rb=services.rectification_issue(
                by=s["B1"], pledge=p["b"], requirement="八月底前补上走访",
                deadline=datetime.date(Y, 8, 31), today=datetime.date(Y, 7, 15),
            )
        )  # fmt: skip
        yield (
            "b respond",
            lambda: services.rectification_respond(
                by=s["B1"], rectification=p["rb"], response="已补走访"
            ),
        )
        yield "b close", lambda: services.rectification_close(by=s["B1"], rectification=p["rb"])
        yield "c draft", lambda: make("c", s["B1"], year=Y, owner_member=m["c"], **member_fields())
        yield "d community", lambda: make(
            "d", s["B2"], year=Y, owner_member=m["d"], community_org=self.org("C"),
            **member_fields(due_date=datetime.date(Y, 9, 30)),
        )  # fmt: skip
        yield "d submit", lambda: do(services.pledge_submit, "d", by=s["B2"], today=IN_WINDOW)
        yield "d approve", lambda: do(services.pledge_approve, "d", by=s["C"])
        yield "e", lambda: make("e", s["B2"], year=Y, owner_member=m["e"], **member_fields())
        yield "e submit", lambda: do(services.pledge_submit, "e", by=s["B2"], today=IN_WINDOW)
        yield (
            "e transfer",
            lambda: org_services.member_transfer(
                by=s["T"], member=m["e"], to_org=self.org("B1"), on=datetime.date(Y, 5, 1)
            ),
        )
        yield "e return", lambda: do(services.pledge_return, "e", by=s["B1"], comment="请具体化")
        yield "f immediate", lambda: make(
            "f", s["C"], year=Y, owner_member=m["f"],
            **member_fields(kind="immediate", immediate_reason="temporary"),
        )  # fmt: skip
        yield "f submit", lambda: do(services.pledge_submit, "f", by=s["C"])
        yield "f approve", lambda: do(services.pledge_approve, "f", by=s["C"])
        yield "f publish", lambda: do(services.pledge_publish, "f", by=s["C"])
        yield (
            "f evaluate",
            lambda: do(
                services.pledge_evaluate,
                "f",
                by=s["C"],
                result="partly",
                remark="只完成一半",
                today=DEC,
            ),
        )
        yield "t1", lambda: make("t1", s["T"], year=Y, owner_member=m["t1"], **member_fields())
        yield "t1 submit", lambda: do(services.pledge_submit, "t1", by=s["T"], today=IN_WINDOW)
        yield (
            "t1 withdraw",
            lambda: do(services.pledge_withdraw, "t1", by=s["T"], reason="内容要改"),
        )
        yield (
            "B1 annual",
            lambda: make("B1a", s["B1"], year=Y, owner_org=self.org("B1"), **org_fields()),
        )
        yield (
            "B1 annual submit",
            lambda: do(services.pledge_submit, "B1a", by=s["B1"], today=IN_WINDOW),
        )
        yield "B1 annual approve", lambda: do(services.pledge_approve, "B1a", by=s["T"])
        yield "B1 annual publish", lambda: do(services.pledge_publish, "B1a", by=s["B1"])
        yield "B1 annual done", lambda: services.fulfilment_record(
            by=s["B1"], pledge=p["B1a"], year=Y, period=1, text="已修通", status=Progress.DONE,
            today=datetime.date(Y, 7, 10),
        )  # fmt: skip
        yield "B1 immediate", lambda: make(
            "B1i", s["B1"], year=Y, owner_org=self.org("B1"),
            **org_fields(kind="immediate", immediate_reason="emergency",
                         due_date=datetime.date(Y + 1, 6, 30)),
        )  # fmt: skip
        yield "B1 immediate submit", lambda: do(services.pledge_submit, "B1i", by=s["B1"])
        yield "B1 immediate approve", lambda: do(services.pledge_approve, "B1i", by=s["T"])
        yield "T term", lambda: make(
            "T", s["T"], year=Y, owner_org=self.org("T"),
            **org_fields(kind="term", due_date=datetime.date(Y, 3, 31)),
        )  # fmt: skip
        yield "T term submit", lambda: do(services.pledge_submit, "T", by=s["T"])
        yield "T term approve", lambda: do(services.pledge_approve, "T", by=s["K"])
        yield "T rectify", lambda: services.rectification_issue(
            by=s["K"], pledge=p["T"], requirement="限期完成", deadline=datetime.date(Y, 12, 31),
            today=datetime.date(Y, 5, 1),
        )  # fmt: skip
        yield (
            "B2 own",
            lambda: make("B2", s["B2"], year=Y, owner_org=self.org("B2"), **org_fields()),
        )
        yield "B2 own submit", lambda: do(services.pledge_submit, "B2", by=s["B2"], today=IN_WINDOW)

    def play(self) -> County:
        for _what, step in self.steps():
            step()
        return self


# the hand counts of 2026 (columns not named are 0; K and G have no figures at all)
EXPECTED = {
    "T": dict(
        orgs_owed=1, orgs_pledged=1, orgs_term=1, members_owed=1, makeup_members=1,
        items=1, items_approved=1, overdue=1, rect_open=1,
    ),
    "B1": dict(
        orgs_owed=1, orgs_pledged=1, orgs_annual=1, orgs_immediate=1,
        members_owed=4, members_pledged=2, members_oral=1, makeup_members=2,
        items=5, items_approved=4, items_published=3, fulfilled=1, overdue=1, rect_closed=1,
    ),
    "B2": dict(
        orgs_owed=1, makeup_orgs=1, members_owed=1, members_pledged=1, members_community=1,
        items=1,
    ),
    "C": dict(
        orgs_owed=1, makeup_orgs=1, members_owed=1, members_pledged=1,
        items=2, items_approved=2, items_published=1, partly=1, overdue=1,
    ),
}  # fmt: skip
EXPECTED_LAST_YEAR = {
    "T": dict(orgs_owed=1, makeup_orgs=1, members_owed=1, makeup_members=1),
    "B1": dict(
        orgs_owed=1,
        makeup_orgs=1,
        members_owed=3,
        members_pledged=1,
        makeup_members=2,
        items=1,
        items_approved=1,
        overdue=1,
    ),
    # e was still on B2's roll at the end of 2025: the transfer of 2026 leaves 2025 alone
    "B2": dict(orgs_owed=1, makeup_orgs=1, members_owed=2, makeup_members=2),
    "C": dict(orgs_owed=1, makeup_orgs=1, members_owed=1, makeup_members=1),
}


def full(values: dict[str, int]) -> dict[str, int]:
    return {c: values.get(c, 0) for c in COLUMNS}


def kept(county: County, period: Period) -> dict[str, dict[str, int]]:
    ids = {o.pk: code for code, o in county.orgs.items()}
    return {
        ids[org_id]: values
        for org_id, values in figures.own_figures("pledges", period, list(ids)).items()
    }


@pytest.fixture(autouse=True)
def only_pledge_figures(monkeypatch):
    """A touch refreshes the pledge figures alone: the other sources are their own tests' (and
    would make every step here recompute each quarter and half-year of the year)."""
    monkeypatch.setattr(figures, "_sources", {"pledges": figures.source("pledges")})


@pytest.fixture
def county(monkeypatch) -> County:
    """The scene played without refreshes, then its figures rebuilt once: the tests that read
    them need not pay a refresh per step (the touches have a test of their own)."""
    sources = figures._sources
    monkeypatch.setattr(figures, "_sources", {})
    built = County().play()
    monkeypatch.setattr(figures, "_sources", sources)
    figures.rebuild([YEAR, LAST_YEAR], keys=["pledges"])
    return built


def test_every_service_step_keeps_the_figures_current_and_they_equal_the_hand_count():
    county = County()
    for what, step in county.steps():
        step()
        # the kept figures equal a recompute (those of 2025 move in its own steps only)
        period = LAST_YEAR if what.startswith("b 2025") else YEAR
        assert figures.check([period], keys=["pledges"]) == [], what
    assert figures.check([YEAR, LAST_YEAR], keys=["pledges"]) == []
    assert kept(county, YEAR) == {code: full(values) for code, values in EXPECTED.items()}


def test_a_past_year_counts_its_own_roll_and_overdue_by_its_end(county):
    assert kept(county, LAST_YEAR) == {
        code: full(values) for code, values in EXPECTED_LAST_YEAR.items()
    }


def test_the_figures_roll_up_to_the_county(county):
    total = figures.rollup("pledges", county.org("K"), YEAR).total
    assert total == {c: sum(v.get(c, 0) for v in EXPECTED.values()) for c in COLUMNS}


def test_compute_keeps_to_the_organisations_asked_in_six_queries(county, django_assert_num_queries):
    b1 = county.orgs["B1"].pk
    # the organisations, their own pledges, the rolls, the pledges kept, the overdue ones and the
    # rectifications
    with django_assert_num_queries(6):
        computed = pledge_figures.compute(YEAR, [b1])
    assert list(computed) == [b1]
    with django_assert_num_queries(6):
        pledge_figures.compute(YEAR, [o.pk for o in county.orgs.values()])
    assert pledge_figures.compute(YEAR, [county.orgs["G"].pk, county.orgs["K"].pk]) == {}


def test_names_are_as_many_as_each_figure(county, django_assert_max_num_queries):
    for code, org in county.orgs.items():
        values = full(EXPECTED.get(code, {}))
        for column in COLUMNS:
            with django_assert_max_num_queries(2):  # the rows; members: whether each pledged
                listed = pledge_figures.names(YEAR, org, column)
            assert len(listed) == values[column], (code, column)


def test_each_drill_of_the_table_lists_the_number_behind_it(county):
    for code, org in county.orgs.items():
        values = full(EXPECTED.get(code, {}))
        for col in PLEDGES.cols:
            listed = pledge_figures.names(YEAR, org, col.drill)
            if col.rate_of:
                done, owed = col.rate_of
                assert len(listed) == values[owed] - values[done], (code, col.key)
            else:
                assert len(listed) == values[col.key], (code, col.key)


def test_owed_but_not_done_are_those_who_need_a_makeup(county):
    b1 = county.orgs["B1"]
    gap = pledge_figures.names(YEAR, b1, "members_owed-members_pledged")
    assert [n.label for n in gap] == ["c", "e"]
    assert gap == pledge_figures.names(YEAR, b1, "makeup_members")
    assert [n.label for n in pledge_figures.names(YEAR, county.orgs["B2"], "makeup_orgs")] == [
        "组织B2"
    ]
    assert pledge_figures.names(YEAR, county.orgs["B2"], "orgs_owed-orgs_pledged") == (
        pledge_figures.names(YEAR, county.orgs["B2"], "makeup_orgs")
    )


def test_names_link_to_the_records(county):
    b1 = county.orgs["B1"]
    (late,) = pledge_figures.names(YEAR, b1, "overdue")
    assert late.url == reverse("pledges:detail", args=[county.pledges["b"].pk])
    assert late.label.startswith("b：")
    (closed,) = pledge_figures.names(YEAR, b1, "rect_closed")
    assert closed.url == reverse("pledges:rectification", args=[county.pledges["rb"].pk])
    (oral,) = pledge_figures.names(YEAR, b1, "members_oral")
    assert (oral.label, oral.detail) == ("a", "已承诺")
    assert oral.url == reverse("orgs:member_detail", args=[county.members["a"].pk])


def test_an_unknown_column_or_a_pair_of_different_things_is_refused(county):
    for column in ("nonsense", "members_owed-items"):
        with pytest.raises(KeyError):
            pledge_figures.names(YEAR, county.orgs["B1"], column)


def test_makeup_figures_equal_the_obligation_and_the_makeup_list(county):
    ids = {o.pk for o in county.orgs.values()}
    own = figures.own_figures("pledges", YEAR, ids)
    members = {g.org_id: g.count for g in obligations.members_without_pledge_gaps(YEAR, ids)}
    orgs = {g.org_id: g.count for g in obligations.orgs_without_pledge_gaps(YEAR, ids)}
    assert members == {i: v["makeup_members"] for i, v in own.items() if v["makeup_members"]}
    assert orgs == {i: v["makeup_orgs"] for i, v in own.items() if v["makeup_orgs"]}
    reader, k = county.sec["K"], county.orgs["K"]
    listed = selectors.members_without_pledge(user=reader, within=k, year=Y)
    assert sorted(m.name for m in listed) == sorted(
        n.label
        for o in county.orgs.values()
        for n in pledge_figures.names(YEAR, o, "makeup_members")
    )
    listed_orgs = selectors.orgs_without_pledge(user=reader, within=k, year=Y)
    assert {o.pk for o in listed_orgs} == {i for i, v in own.items() if v["makeup_orgs"]}


def test_refresh_is_idempotent(county):
    ids = [o.pk for o in county.orgs.values()]
    before = kept(county, YEAR)
    assert figures.refresh("pledges", YEAR, ids) == len(EXPECTED)
    assert figures.refresh("pledges", YEAR, ids) == len(EXPECTED)
    assert kept(county, YEAR) == before
    assert PledgeFigure.objects.filter(period=YEAR.slug).count() == len(EXPECTED)


def test_overdue_is_counted_as_of_today_and_a_past_year_as_of_its_end(county, monkeypatch):
    assert pledge_figures.overdue_cutoff(Y, datetime.date(Y, 5, 1)) == datetime.date(Y, 5, 1)
    assert pledge_figures.overdue_cutoff(Y - 1, datetime.date(Y, 5, 1)) == datetime.date(Y, 1, 1)
    monkeypatch.setattr("pledges.figures.timezone.localdate", lambda *args: datetime.date(Y, 5, 1))
    computed = pledge_figures.compute(YEAR, [o.pk for o in county.orgs.values()])
    # on 1 May only T's term pledge (due 31 March) was late; b's and d's were due later
    assert {
        c: v["overdue"] for c, v in kept_names(county, computed).items() if v.get("overdue")
    } == {"T": 1}
    assert len(pledge_figures.names(YEAR, county.orgs["T"], "overdue")) == 1
    assert pledge_figures.names(YEAR, county.orgs["B1"], "overdue") == []
    last = pledge_figures.compute(LAST_YEAR, [county.orgs["B1"].pk])
    assert last[county.orgs["B1"].pk]["overdue"] == 1


def kept_names(county: County, computed: dict[int, dict[str, int]]) -> dict[str, dict[str, int]]:
    ids = {o.pk: code for code, o in county.orgs.items()}
    return {ids[i]: v for i, v in computed.items()}


def test_a_deactivated_organisation_has_no_figures(county, django_assert_num_queries):
    c = county.orgs["C"]
    Organization.objects.filter(pk=c.pk).update(is_active=False)
    with django_assert_num_queries(1):  # the organisations asked: none active
        assert pledge_figures.compute(YEAR, [c.pk]) == {}
    assert all(pledge_figures.names(YEAR, c, column) == [] for column in COLUMNS)


def test_moving_a_pledge_with_a_transfer_touches_both_branches_for_its_year(county):
    b1, b2 = county.org("B1"), county.org("B2")
    own = figures.own_figures("pledges", YEAR, [b1.pk, b2.pk])
    assert own[b2.pk]["items"] == 1 and own[b1.pk]["items"] == 5
    d = county.members["d"]
    nxt = services.pledge_create(
        by=county.sec["B2"], year=Y + 1, owner_member=d,
        **member_fields(kind="immediate", immediate_reason="temporary",
                        due_date=datetime.date(Y + 1, 6, 30)),
    )  # fmt: skip
    services.pledge_submit(by=county.sec["B2"], pledge=nxt)
    org_services.member_transfer(
        by=county.sec["T"], member=d, to_org=b1, on=datetime.date(Y, 11, 1)
    )
    assert figures.check([YEAR], keys=["pledges"]) == []
    # a later year is kept only where something touched it: there, as a recompute says
    following = Period.whole_year(Y + 1)
    moved = figures.own_figures("pledges", following, [b1.pk, b2.pk])
    recomputed = pledge_figures.compute(following, [b1.pk, b2.pk])
    assert moved == {i: full(v) for i, v in recomputed.items()}
    assert moved[b1.pk]["items"] == 1 and moved[b2.pk]["items"] == 0
