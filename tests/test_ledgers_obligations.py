"""The 写实簿 deadlines and their obligation rules: each gap counts exactly the members (the
organisations) the branch grid (the children's grid) shows with a section of that deadline not
signed, signing every slot removes it and a withdrawal brings it back, the rule keeps to the
organisations asked for in a fixed number of queries, and the reminders sweep carries it to the
branch's leaders.

The scene is tests/ledger_world.py: the year 2025 of the personas' province, read in January 2026
(`TODAY`), when every section of 2025 is due."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from ledgers import sections as S
from ledgers import services
from ledgers.assembly import SIGNED
from ledgers.models import LedgerKind, NoteKind, Signature
from ledgers.obligations import LEDGER_MEMBER, LEDGER_ORG
from ledgers.selectors import branch_grid, children_grid, kept_orgs
from orgs.deadlines import calendar_for, deadline_kind
from orgs.models import Membership, Organization, OrgKind, Reminder, Role
from orgs.periods import HALF, QUARTER, Period
from orgs.reminders import sweep
from tests.ledger_world import TODAY, YEAR, add_members, build_ledger_world
from tests.personas import make_member, make_org

Q = {n: Period.quarter(YEAR, n) for n in range(1, 5)}
H = {n: Period.half(YEAR, n) for n in (1, 2)}


@pytest.fixture
def lw(personas):
    return build_ledger_world(personas)


def gaps(key: str, period: Period, org_ids=None) -> dict:
    """The rule's answer by organisation (each organisation at most once, never empty)."""
    found = list(deadline_kind(key).gaps(period, org_ids))
    by_org = {gap.org_id: gap for gap in found}
    assert len(by_org) == len(found), "an organisation answered twice"
    assert all(gap.count > 0 for gap in found)
    return by_org


def count(found: dict, org: Organization) -> int:
    return found[org.pk].count if org.pk in found else 0


def sign(by, subject, section: str, slot: str, **extra):
    return services.ledger_sign(
        by=by, subject=subject, year=YEAR, section=section, slot=slot, today=TODAY, **extra
    )


def explain(by, subject, section: str):
    """The keeper's reason for a missing record, so that the section can be signed."""
    services.ledger_note_save(
        by=by, subject=subject, year=YEAR, section=section, kind=NoteKind.MISSING,
        text="记录在纸质材料中，经支部委员会核实。", today=TODAY,
    )  # fmt: skip


# ---------------------------------------------------------------- what the grids show


def members_unsigned(org: Organization, quarter: Period) -> int:
    """The members the branch grid shows on the roll at the quarter's end (the quarter's
    sections are the branch's) with a section of the quarter's deadline not signed."""
    specs = S.deadline_sections(LedgerKind.MEMBER, quarter)
    n = 0
    for view in branch_grid(org=org, year=quarter.year, today=TODAY):
        if view.section(f"q{quarter.number}").owner != org:
            continue
        if any(view.section(spec.key).state != SIGNED for spec in specs):
            n += 1
    return n


def children_unsigned(org: Organization, half: Period) -> int:
    specs = S.deadline_sections(LedgerKind.ORG, half)
    return sum(
        1
        for view in children_grid(org=org, year=half.year, today=TODAY)
        if any(view.section(spec.key).state != SIGNED for spec in specs)
    )


def agree(key: str, period: Period) -> dict:
    """The rule's count for every organisation equals its grid's (an organisation with no
    member in the year, or no basic-level child, has no grid and owes nothing)."""
    found = gaps(key, period)
    for org in Organization.objects.order_by("tree_id", "lft"):
        if key == LEDGER_MEMBER:
            held = Membership.objects.filter(org=org, start__lte=Period.whole_year(YEAR).end)
            shown = members_unsigned(org, period) if held.exists() else 0
        else:
            shown = children_unsigned(org, period) if kept_orgs(org=org) else 0
        assert count(found, org) == shown, f"{org.name} {period.label}"
    return found


# ---------------------------------------------------------------- the kinds


def test_the_two_deadlines_fall_a_fortnight_after_their_periods(lw):
    member, org = deadline_kind(LEDGER_MEMBER), deadline_kind(LEDGER_ORG)
    assert (member.period_kind, org.period_kind) == (QUARTER, HALF)
    assert [member.default_due(q) for q in Q.values()] == [
        datetime.date(YEAR, 4, 15),
        datetime.date(YEAR, 7, 15),
        datetime.date(YEAR, 10, 15),
        datetime.date(YEAR + 1, 1, 15),
    ]
    assert [org.default_due(h) for h in H.values()] == [
        datetime.date(YEAR, 7, 15),
        datetime.date(YEAR + 1, 1, 15),
    ]
    assert member.roles == org.roles == (Role.SECRETARY, Role.DEPUTY)
    assert member.gaps is not None and org.gaps is not None
    on_calendar = {
        (r.kind.key, r.period.slug)
        for r in calendar_for(org=lw.orgs["B1"], year=YEAR)
        if r.kind.key in (LEDGER_MEMBER, LEDGER_ORG)
    }
    assert len(on_calendar) == 4 + 2


# ---------------------------------------------------------------- members


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_member_gaps_are_the_members_the_branch_grid_shows_unsigned(lw, n):
    found = agree(LEDGER_MEMBER, Q[n])
    b1 = lw.orgs["B1"]
    # m1, m1b and the secretary 王书记; T1 has its own secretary on its roll
    assert count(found, b1) == 3
    assert count(found, lw.orgs["B2"]) == count(found, lw.orgs["T1"]) == 1
    gap = found[b1.pk]
    assert gap.text == f"3 名党员的写实簿{Q[n].short_label}未签字"
    assert gap.url == reverse("ledgers:branch", kwargs={"pk": b1.pk, "year": YEAR})


def test_signing_every_slot_of_the_first_quarters_sections_takes_the_member_off(lw):
    own, me = lw.user("own_branch_secretary"), lw.user("member_self")
    b1, m1b = lw.orgs["B1"], lw.members["m1b"]
    # the 承诺写实 is in the first quarter's deadline: its lower slot alone does not do
    sign(me, m1b, "pledge", S.MEMBER_SELF)
    sign(me, m1b, "q1", S.MEMBER_SELF)
    sign(own, m1b, "q1r", S.BRANCH)
    assert count(agree(LEDGER_MEMBER, Q[1]), b1) == 3
    upper = sign(own, m1b, "pledge", S.BRANCH)
    assert count(agree(LEDGER_MEMBER, Q[1]), b1) == 2
    # the second quarter's sections are still to sign
    assert count(agree(LEDGER_MEMBER, Q[2]), b1) == 3
    # a withdrawn signature is no signature
    services.signature_withdraw(by=own, signature=upper, reason="承诺内容核对有误")
    assert count(agree(LEDGER_MEMBER, Q[1]), b1) == 3


def test_a_later_quarter_needs_only_its_own_two_sections(lw):
    own, me = lw.user("own_branch_secretary"), lw.user("member_self")
    b1, m1b = lw.orgs["B1"], lw.members["m1b"]
    sign(me, m1b, "q2", S.MEMBER_SELF)
    explain(own, m1b, "q2r")  # m1b was reviewed in the first quarter only
    sign(own, m1b, "q2r", S.BRANCH)
    assert count(agree(LEDGER_MEMBER, Q[2]), b1) == 2
    assert count(agree(LEDGER_MEMBER, Q[1]), b1) == 3
    # the fourth quarter's deadline carries the 年度写实 as well
    sign(me, m1b, "q4", S.MEMBER_SELF)
    explain(own, m1b, "q4r")
    sign(own, m1b, "q4r", S.BRANCH)
    assert count(agree(LEDGER_MEMBER, Q[4]), b1) == 3


def test_a_paper_signature_counts_for_a_member_without_a_login(lw):
    own, b1, m1 = lw.user("own_branch_secretary"), lw.orgs["B1"], lw.members["m1"]
    day = datetime.date(YEAR, 10, 20)
    explain(own, m1, "q3")  # m1 reported nothing and has no review for the third quarter
    explain(own, m1, "q3r")
    sign(own, m1, "q3", S.MEMBER_SELF, paper_on=day)
    sign(own, m1, "q3r", S.BRANCH)
    assert count(agree(LEDGER_MEMBER, Q[3]), b1) == 2


# ---------------------------------------------------------------- organisations


@pytest.mark.parametrize("n", [1, 2])
def test_org_gaps_are_the_children_the_grid_shows_unsigned(lw, n):
    found = agree(LEDGER_ORG, H[n])
    t1 = lw.orgs["T1"]
    assert count(found, t1) == 2  # B1 and B2
    assert count(found, lw.orgs["K1"]) == 1  # T1 is a basic-level committee under the county
    assert count(found, lw.orgs["B1"]) == 0
    gap = found[t1.pk]
    assert gap.text == f"2 个下级党组织的写实簿{H[n].short_label}未签字"
    assert gap.url == reverse("ledgers:children", kwargs={"pk": t1.pk, "year": YEAR})


def test_signing_a_childs_half_year_takes_it_off_its_parents_count(lw):
    own, parent = lw.user("own_branch_secretary"), lw.user("parent_committee_secretary")
    b1, t1 = lw.orgs["B1"], lw.orgs["T1"]
    sign(own, b1, "pledge", S.ORG_SELF)
    sign(own, b1, "h1", S.ORG_SELF)
    sign(parent, b1, "h1r", S.UPPER)
    assert count(agree(LEDGER_ORG, H[1]), t1) == 2  # the upper slot of the 承诺写实 is open
    sign(parent, b1, "pledge", S.UPPER)
    assert count(agree(LEDGER_ORG, H[1]), t1) == 1
    assert count(agree(LEDGER_ORG, H[2]), t1) == 2


# ---------------------------------------------------------------- scope and cost


@pytest.mark.parametrize("key,period", [(LEDGER_MEMBER, Q[1]), (LEDGER_ORG, H[1])])
def test_org_ids_keep_to_those_organisations(lw, key, period):
    own, me = lw.user("own_branch_secretary"), lw.user("member_self")
    sign(me, lw.members["m1b"], "q1", S.MEMBER_SELF)  # a signature that does not complete it
    sign(own, lw.orgs["B1"], "pledge", S.ORG_SELF)
    everything = gaps(key, period)
    assert everything
    o = lw.orgs
    for codes in ({"B1"}, {"T1"}, {"B1", "B3", "T2"}, {"K1", "K2"}, {"P"}):
        ids = {o[c].pk for c in codes}
        assert gaps(key, period, ids) == {k: g for k, g in everything.items() if k in ids}
    assert gaps(key, period, set()) == {}


@pytest.mark.parametrize("key,period", [(LEDGER_MEMBER, Q[1]), (LEDGER_ORG, H[1])])
def test_gaps_cost_one_query_whatever_the_size(lw, key, period, django_assert_num_queries):
    some = {lw.orgs["B1"].pk, lw.orgs["T1"].pk}
    with django_assert_num_queries(0):
        assert gaps(key, period, set()) == {}
    # the roll (the children) less the ledgers whose sections of the deadline are complete,
    # grouped by branch (by parent)
    with django_assert_num_queries(1):
        small = gaps(key, period)
    with django_assert_num_queries(1):
        gaps(key, period, some)
    add_members(lw, 4)  # with pledges, reports, reviews and logins
    for i in range(3):
        make_member(lw.orgs["B3"], f"村民{i}", birth_date=datetime.date(1960, 1 + i, 1))
    make_org("B4", OrgKind.BRANCH, lw.orgs["T2"])
    with django_assert_num_queries(1):
        large = gaps(key, period)
    with django_assert_num_queries(1):
        gaps(key, period, some | {lw.orgs["B3"].pk})
    grown = 7 if key == LEDGER_MEMBER else 1
    assert sum(g.count for g in large.values()) == sum(g.count for g in small.values()) + grown


# ---------------------------------------------------------------- the reminders sweep


def _reminders(key: str, period: Period, user) -> list[Reminder]:
    return list(Reminder.objects.filter(kind=key, period=period.slug, user=user))


def test_the_day_before_the_date_the_branch_leaders_are_reminded(lw):
    b1 = lw.orgs["B1"]
    own, deputy = lw.user("own_branch_secretary"), lw.user("own_branch_deputy")
    due = deadline_kind(LEDGER_MEMBER).default_due(Q[1])
    sweep(today=due - datetime.timedelta(days=1))
    mine = _reminders(LEDGER_MEMBER, Q[1], own)
    assert [(r.step, r.due_on) for r in mine] == [("-1", due)]
    items = [i for i in mine[0].items if i["org"] == b1.pk]
    gap = gaps(LEDGER_MEMBER, Q[1], {b1.pk})[b1.pk]
    assert [(i["text"], i["url"], i["count"]) for i in items] == [(gap.text, gap.url, 3)]
    assert _reminders(LEDGER_MEMBER, Q[1], deputy)
    sibling = _reminders(LEDGER_MEMBER, Q[1], lw.user("sibling_branch_secretary"))
    assert b1.pk not in {i["org"] for r in sibling for i in r.items}
    # a second sweep the same day queues nothing more
    sweep(today=due - datetime.timedelta(days=1))
    assert len(_reminders(LEDGER_MEMBER, Q[1], own)) == 1


def test_the_parent_is_reminded_of_its_childrens_ledgers(lw):
    t1, parent = lw.orgs["T1"], lw.user("parent_committee_secretary")
    due = deadline_kind(LEDGER_ORG).default_due(H[1])
    sweep(today=due - datetime.timedelta(days=1))
    (reminder,) = _reminders(LEDGER_ORG, H[1], parent)
    assert reminder.step == "-1"
    assert [(i["org"], i["count"]) for i in reminder.items] == [(t1.pk, 2)]
    # the branch's own secretary keeps no organisation ledger
    assert not _reminders(LEDGER_ORG, H[1], lw.user("own_branch_secretary"))


def test_no_reminder_once_every_member_is_signed(lw):
    """Every member of B1 signed for the first quarter: nothing to remind B1's leaders of."""
    own, me = lw.user("own_branch_secretary"), lw.user("member_self")
    deputy = lw.user("own_branch_deputy")
    m1, m1b, secretary = lw.members["m1"], lw.members["m1b"], lw.members["secretary"]
    paper = datetime.date(YEAR, 4, 10)
    sign(own, m1, "pledge", S.MEMBER_SELF, paper_on=paper)
    sign(own, m1, "q1", S.MEMBER_SELF, paper_on=paper)
    sign(me, m1b, "pledge", S.MEMBER_SELF)
    sign(me, m1b, "q1", S.MEMBER_SELF)
    # the secretary has no pledge and is not reviewed by their own branch: the reasons written
    for key in ("pledge", "q1", "q1r"):
        explain(own, secretary, key)
    sign(own, secretary, "pledge", S.MEMBER_SELF)
    sign(own, secretary, "q1", S.MEMBER_SELF)
    for member in (m1, m1b, secretary):
        # the deputy signs for the branch on the secretary's own ledger
        by = deputy if member == secretary else own
        sign(by, member, "pledge", S.BRANCH)
        sign(by, member, "q1r", S.BRANCH)
    assert Signature.objects.filter(withdrawn_at__isnull=True).count() == 3 * 4
    assert lw.orgs["B1"].pk not in agree(LEDGER_MEMBER, Q[1])
    due = deadline_kind(LEDGER_MEMBER).default_due(Q[1])
    sweep(today=due - datetime.timedelta(days=1))
    assert not _reminders(LEDGER_MEMBER, Q[1], own)
