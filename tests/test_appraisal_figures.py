"""The kept 民主评议 figures (reviews/appraisal/figures.py): each organisation's own counts for a
year, kept by the appraisal services' touches, against a hand count; the names behind each
number; the reminders' rule for what is owed; secrecy; refresh and check.

The year is 2025 in the personas' province (tests/personas.py), its sessions run through the
services as the secretaries would (tests/ledger_world.run_appraisal: codes, closed, the
suggested grades decided, published):

- K1 appraises T1: five ballots, T1 satisfied 2 of 5 (40%: band 4);
- T1 appraises B1 and B2: ten ballots (six 党员, four 群众), B1 8 of 10 (80%: band 2, its
  lowest edge), B2 6 of 10 (60%: band 3, its lowest edge);
- T2 appraises B3: ten ballots (seven, three), B3 9 of 10 (90%: band 1, its lowest edge);
- K2 appraises T2: three ballots — too few to count T2's grades anywhere;
- B1 appraises its members: 李一 优秀, 李二 合格, 李三 left out (暂缓评议); six and two ballots;
- B2's member appraisal is voting (held, not published); B3's is only planned.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse

from orgs import figures
from orgs.models import Role
from orgs.periods import Period
from reviews.appraisal import figures as appraisal_figures
from reviews.appraisal import services
from reviews.appraisal.models import AppraisalFigure
from reviews.obligations import appraisal_gaps
from tests.appraisal_world import open_appraisal, plan_fields
from tests.ledger_world import YEAR, run_appraisal
from tests.personas import make_member, make_user

PERIOD = Period.whole_year(YEAR)
COLUMNS = figures.columns(AppraisalFigure)
# columns whose items are sessions or appraised organisations carrying a number, not people
NUMBERED = {"voters_member", "voters_masses", "votes_1", "votes_2", "votes_3", "votes_4"}

# org code → its own figures (columns left out are 0)
EXPECTED = {
    "P": {},
    "C1": {},
    "K1": {
        "sessions_owed": 1,  # of T1, the basic-level organisation below it
        "sessions_held": 1,
        "sessions_published": 1,
        "voters_member": 3,
        "voters_masses": 2,
    },
    "T1": {
        "sessions_owed": 1,  # of B1 and B2 (nobody on its own roll)
        "sessions_held": 1,
        "sessions_published": 1,
        "voters_member": 6,
        "voters_masses": 4,
        "orgs_band_4": 1,
        "votes_1": 1,
        "votes_2": 1,
        "votes_3": 1,
        "votes_4": 2,
    },
    "B1": {
        "sessions_owed": 1,
        "sessions_held": 1,
        "sessions_published": 1,
        "voters_member": 6,
        "voters_masses": 2,
        "orgs_band_2": 1,
        "votes_1": 5,
        "votes_2": 3,
        "votes_3": 1,
        "votes_4": 1,
        "members_excellent": 1,
        "members_pass": 1,
        "members_deferred": 1,
        "members_commended": 1,  # the 优秀 of a session not below the turnout share
    },
    "B2": {
        "sessions_owed": 1,
        "sessions_held": 1,  # voting
        "orgs_band_3": 1,
        "votes_1": 3,
        "votes_2": 3,
        "votes_3": 2,
        "votes_4": 2,
    },
    "C2": {},
    "K2": {
        "sessions_owed": 1,
        "sessions_held": 1,
        "sessions_published": 1,
        "voters_member": 2,
        "voters_masses": 1,
    },
    "T2": {
        "sessions_owed": 1,
        "sessions_held": 1,
        "sessions_published": 1,
        "voters_member": 7,
        "voters_masses": 3,
    },  # its own three ballots are too few: no band, no votes
    "B3": {
        "sessions_owed": 1,
        "orgs_band_1": 1,
        "votes_1": 6,
        "votes_2": 3,
        "votes_4": 1,
    },  # its member appraisal is only planned
}


def _by_grades(*columns):
    """Ballots as tuples by subject position, from each subject's column of grades."""
    return list(zip(*columns, strict=True))


@pytest.fixture
def year(personas):
    p = personas
    own, parent = p.user("own_branch_secretary"), p.user("parent_committee_secretary")
    k2 = make_user("k2-secretary", Role.SECRETARY, p.orgs["K2"])
    p.members["m1c"] = make_member(p.orgs["B1"], "李三", since=datetime.date(YEAR, 1, 1))
    run_appraisal(
        p, org="K1", kind="org", by=p.user("county_secretary"),
        member_ballots=[(1,), (2,), (4,)], mass_ballots=[(3,), (4,)],
    )  # fmt: skip
    b1 = (1, 1, 1, 2, 2, 1, 1, 2, 3, 4)
    b2 = (1, 2, 2, 1, 2, 1, 3, 3, 4, 4)
    ballots = _by_grades(b1, b2)
    run_appraisal(
        p, org="T1", kind="org", by=parent, member_ballots=ballots[:6], mass_ballots=ballots[6:]
    )
    b3 = _by_grades((1, 1, 1, 1, 1, 1, 2, 2, 2, 4))
    run_appraisal(
        p, org="T2", kind="org", by=p.user("unrelated_committee_secretary"),
        member_ballots=b3[:7], mass_ballots=b3[7:],
    )  # fmt: skip
    run_appraisal(p, org="K2", kind="org", by=k2, member_ballots=[(1,), (2,)], mass_ballots=[(1,)])
    li_yi, li_er = (1,) * 8, (1, 2, 2, 2, 3, 1, 2, 2)  # 优秀; 合格 (好 25%, 好与较好 87.5%)
    ballots = _by_grades(li_yi, li_er)
    p.extra["members"] = run_appraisal(
        p, org="B1", kind="member", by=own, member_ballots=ballots[:6],
        mass_ballots=ballots[6:], exclude=[(p.members["m1c"], "长期外出务工")],
    )  # fmt: skip
    open_appraisal(p, org="B2", year=YEAR, by=p.user("sibling_branch_secretary"))
    services.appraisal_create(
        by=make_user("b3-secretary", Role.SECRETARY, p.orgs["B3"]), org=p.orgs["B3"],
        kind="member", year=YEAR, **plan_fields(held_on=datetime.date(YEAR, 11, 20)),
    )  # fmt: skip
    return p


def _kept(p) -> dict[str, dict[str, int]]:
    by_pk = figures.own_figures("appraisal", PERIOD, [o.pk for o in p.orgs.values()])
    return {
        code: {c: v for c, v in by_pk.get(org.pk, {}).items() if v} for code, org in p.orgs.items()
    }


def test_the_kept_figures_equal_the_hand_count(year):
    assert _kept(year) == EXPECTED


def test_a_recompute_equals_the_kept_figures_and_a_refresh_changes_nothing(year):
    ids = [o.pk for o in year.orgs.values()]
    fresh = appraisal_figures.compute(PERIOD, ids)
    assert {
        code: {c: v for c, v in fresh.get(org.pk, {}).items() if v}
        for code, org in year.orgs.items()
    } == EXPECTED
    before = list(AppraisalFigure.objects.filter(period=PERIOD.slug).values("org_id", *COLUMNS))
    figures.refresh("appraisal", PERIOD, ids)
    figures.refresh("appraisal", PERIOD, ids)
    after = list(AppraisalFigure.objects.filter(period=PERIOD.slug).values("org_id", *COLUMNS))
    assert sorted(after, key=lambda r: r["org_id"]) == sorted(before, key=lambda r: r["org_id"])
    assert figures.check([PERIOD], keys=["appraisal"]) == []


def test_each_figure_has_as_many_names_and_the_numbered_ones_add_up(year):
    for code, org in year.orgs.items():
        for column in COLUMNS:
            found = appraisal_figures.names(PERIOD, org, column)
            expected = EXPECTED[code].get(column, 0)
            if column in NUMBERED:
                numbers = [re.search(r"(\d+) [人票]$", n.detail) for n in found]
                assert sum(int(m.group(1)) for m in numbers) == expected, (code, column)
            else:
                assert len(found) == expected, (code, column)


def test_the_names_are_the_members_the_organisations_and_the_sessions(year):
    B1, B2, T1 = year.orgs["B1"], year.orgs["B2"], year.orgs["T1"]
    excellent = appraisal_figures.names(PERIOD, B1, "members_excellent")
    assert [(n.label, n.detail) for n in excellent] == [("李一", "优秀")]
    [deferred] = appraisal_figures.names(PERIOD, B1, "members_deferred")
    assert (deferred.label, deferred.detail) == ("李三", "长期外出务工")
    assert deferred.url == reverse("appraisal:results", args=[year.extra["members"].pk])
    [band] = appraisal_figures.names(PERIOD, B2, "orgs_band_3")
    assert band.label == B2.name and "满意率 60.0%" in band.detail
    [held] = appraisal_figures.names(PERIOD, B2, "sessions_held")
    assert held.detail == "组织评议"
    [open_one] = appraisal_figures.names(PERIOD, B2, "sessions_owed-sessions_published")
    assert open_one.label.endswith("民主评议党员") and open_one.detail == "组织评议"
    assert appraisal_figures.names(PERIOD, T1, "sessions_owed-sessions_published") == []
    [planned] = appraisal_figures.names(PERIOD, year.orgs["B3"], "sessions_owed-sessions_held")
    assert planned.detail == "确定方案"
    # T2's three ballots are too few to show its grades: no band, no votes, nobody behind them
    assert appraisal_figures.names(PERIOD, year.orgs["T2"], "votes_1") == []
    with pytest.raises(LookupError):
        appraisal_figures.names(PERIOD, B1, "members_unknown")


def test_owed_less_published_is_what_the_reminders_chase(year):
    ids = {o.pk for o in year.orgs.values()}
    kept = figures.own_figures("appraisal", PERIOD, ids)
    chased = {gap.org_id: gap.count for gap in appraisal_gaps(PERIOD, ids)}
    assert chased == {
        pk: row["sessions_owed"] - row["sessions_published"]
        for pk, row in kept.items()
        if row["sessions_owed"] > row["sessions_published"]
    }
    assert set(chased) == {year.orgs["B2"].pk, year.orgs["B3"].pk}


def test_results_count_only_once_published(personas):
    """Closed and decided, not published: held, but no grade, band, vote or participant."""
    own = personas.user("own_branch_secretary")
    appraisal = open_appraisal(personas, org="B1", year=YEAR, expected_masses=0)
    codes = services.slips_issue(by=own, appraisal=appraisal, group="member", count=5)
    for _, code in codes:
        services.ballot_cast(appraisal_id=appraisal.pk, code=code, marks={1: 1, 2: 1})
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    services.results_adopt_suggested(by=own, appraisal=appraisal)
    B1 = personas.orgs["B1"]
    kept = figures.own_figures("appraisal", PERIOD, [B1.pk])[B1.pk]
    assert {c: v for c, v in kept.items() if v} == {"sessions_owed": 1, "sessions_held": 1}
    services.appraisal_publish(by=own, appraisal=appraisal, low_turnout_confirmed=True)
    kept = figures.own_figures("appraisal", PERIOD, [B1.pk])[B1.pk]
    assert {c: v for c, v in kept.items() if v} == {
        "sessions_owed": 1,
        "sessions_held": 1,
        "sessions_published": 1,
        "voters_member": 5,
        "members_excellent": 2,
        "members_commended": 2,
    }


def test_the_figures_cost_the_same_queries_for_any_number_of_organisations(
    year, django_assert_max_num_queries
):
    ids = [o.pk for o in year.orgs.values()]
    # owed (one), the sessions grouped (one), the appraised organisations' bands and votes
    # (one), the members' grades (one), the members left out (one)
    with django_assert_max_num_queries(5):
        appraisal_figures.compute(PERIOD, ids)
    with django_assert_max_num_queries(5):
        appraisal_figures.compute(PERIOD, ids[:1])
