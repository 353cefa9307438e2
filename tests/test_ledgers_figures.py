"""The kept 写实簿 figures (ledgers/figures.py): each organisation's own counts per half-year, kept
by the ledger services' touches, against a hand count; the names behind each number; the
agreement with the county inspection (ledgers.selectors.inspection); a transfer that leaves a
past half-year as it was counted; refresh and check.

The county, made by hand for 2025 (over by `TODAY`), its ledgers signed through the services as
the secretaries would (a reason for each missing record, the members' paper signatures recorded
by their branch secretary, then the secretaries' own):

    K 县委 ──┬── T1 党委 ──┬── B11: 甲 乙 丙 (ledgers opened by the branch; 甲 signed the whole
             │             │        first half, 乙 the 承诺写实)
             │             └── B12: 丁 (the member's line of the 承诺写实 only), 戊 (moves to B11
             │                      on 15 August)
             └── T2 党委 ───── B21: 己, 庚 (joined on 10 May: no first quarter)

T1 keeps B11's and B12's ledgers (B11's first half signed), K keeps T1's and T2's, T2 B21's.
"""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model

from ledgers import figures as ledger_figures
from ledgers import sections as S
from ledgers import selectors, services
from ledgers.models import LedgerFigure, Signature
from ledgers.services import SignItem
from orgs import figures
from orgs import services as org_services
from orgs.models import Member, Membership, Organization, OrgKind, Role, Sector
from orgs.periods import Period
from tests.personas import make_user

pytestmark = pytest.mark.django_db

YEAR = 2025
H1, H2 = Period.half(YEAR, 1), Period.half(YEAR, 2)
TODAY = datetime.date(2026, 1, 20)
PAPER_ON = datetime.date(2025, 7, 10)
MOVED_ON = datetime.date(2025, 8, 15)
COLUMNS = figures.columns(LedgerFigure)
PAIRS = [
    ("member_owed", "member_open"),
    ("org_owed", "org_open"),
    *(
        (f"{who}_{kind}_due", f"{who}_{kind}_signed")
        for who in ("m", "o")
        for kind in ("pledges", "fulfilment", "review", "year")
    ),
]

# org code → its own figures for the half-year (columns left out are 0)
EXPECTED_H1 = {
    "P": {},
    "K": {"org_owed": 2, "o_pledges_due": 2, "o_fulfilment_due": 2, "o_review_due": 2},
    "T1": {
        "org_owed": 2,
        "org_open": 1,
        "o_pledges_due": 2,
        "o_pledges_signed": 1,
        "o_fulfilment_due": 2,
        "o_fulfilment_signed": 1,
        "o_review_due": 2,
        "o_review_signed": 1,
    },
    "T2": {"org_owed": 1, "o_pledges_due": 1, "o_fulfilment_due": 1, "o_review_due": 1},
    "B11": {
        "member_owed": 3,
        "member_open": 3,
        "m_pledges_due": 3,
        "m_pledges_signed": 2,
        "m_fulfilment_due": 6,
        "m_fulfilment_signed": 2,
        "m_review_due": 6,
        "m_review_signed": 2,
    },
    "B12": {  # 戊 counts where the first half ended
        "member_owed": 2,
        "member_open": 1,
        "m_pledges_due": 2,
        "m_fulfilment_due": 4,
        "m_review_due": 4,
    },
    "B21": {"member_owed": 2, "m_pledges_due": 2, "m_fulfilment_due": 3, "m_review_due": 3},
}
EXPECTED_H2 = {
    "P": {},
    "K": {"org_owed": 2, "o_fulfilment_due": 2, "o_review_due": 2, "o_year_due": 2},
    "T1": {
        "org_owed": 2,
        "org_open": 1,
        "o_fulfilment_due": 2,
        "o_review_due": 2,
        "o_year_due": 2,
    },
    "T2": {"org_owed": 1, "o_fulfilment_due": 1, "o_review_due": 1, "o_year_due": 1},
    "B11": {  # 戊 has moved in; his year's ledger is not opened
        "member_owed": 4,
        "member_open": 3,
        "m_fulfilment_due": 8,
        "m_review_due": 8,
        "m_year_due": 4,
    },
    "B12": {
        "member_owed": 1,
        "member_open": 1,
        "m_fulfilment_due": 2,
        "m_review_due": 2,
        "m_year_due": 1,
    },
    "B21": {"member_owed": 2, "m_fulfilment_due": 4, "m_review_due": 4, "m_year_due": 2},
}


class County:
    def __init__(self) -> None:
        self.orgs: dict = {}
        self.members: dict = {}
        self.secretaries: dict = {}

    def secretary(self, code: str):
        user = make_user(f"sec-{code}", Role.SECRETARY, self.orgs[code])
        user.first_name = f"书记{code}"
        user.save(update_fields=["first_name"])
        self.secretaries[code] = get_user_model().objects.get(pk=user.pk)


def _missing(by, subject, sections) -> None:
    for section in sections:
        services.ledger_note_save(
            by=by, subject=subject, year=YEAR, section=section, kind="missing",
            text="本期无此记录（测试）", today=TODAY,
        )  # fmt: skip


def _sign_member(county: County, name: str, own=(), branch=()) -> None:
    """The member's slots in `own` on paper, recorded by the branch secretary, then the branch
    secretary's slots in `branch`."""
    member = county.members[name]
    secretary = county.secretaries[member.org.code]
    _missing(secretary, member, dict.fromkeys([*own, *branch]))
    if own:
        services.ledger_sign_many(
            by=secretary, year=YEAR, paper_on=PAPER_ON, today=TODAY,
            items=[SignItem(member, s, S.MEMBER_SELF) for s in own],
        )  # fmt: skip
    if branch:
        services.ledger_sign_many(
            by=secretary, year=YEAR, today=TODAY,
            items=[SignItem(member, s, S.BRANCH) for s in branch],
        )  # fmt: skip


def _org(code: str, kind: str, parent=None, name: str = "") -> Organization:
    return Organization.objects.create(
        code=code, name=name or code, kind=kind, sector=Sector.RURAL, parent=parent
    )


def _member(org: Organization, name: str, since: datetime.date) -> Member:
    member = Member.objects.create(
        org=org, name=name, gender="男", birth_date=datetime.date(1970, 5, 1),
        joined_on=datetime.date(1995, 7, 1), education="高中",
    )  # fmt: skip
    Membership.objects.create(member=member, org=org, start=since)
    return member


@pytest.fixture
def county() -> County:
    """The tree and the roll are written directly and counted by a rebuild, as the nightly one
    would (through the services each would refresh every period since its date); from there
    on, the ledger services' touches keep the figures."""
    c = County()
    c.orgs["P"] = _org("XP", OrgKind.PROVINCE, name="某省委")
    c.orgs["K"] = _org("XK", OrgKind.COUNTY, c.orgs["P"], name="某县委")
    for code, parent in (("T1", "K"), ("T2", "K")):
        c.orgs[code] = _org(code, OrgKind.COMMITTEE, c.orgs[parent], name=f"{code}党委")
    for code, parent in (("B11", "T1"), ("B12", "T1"), ("B21", "T2")):
        c.orgs[code] = _org(code, OrgKind.BRANCH, c.orgs[parent], name=f"{code}党支部")
    for org in c.orgs.values():
        org.refresh_from_db()
    for code in ("T1", "T2", "B11", "B12", "B21"):
        c.secretary(code)
    since = datetime.date(YEAR, 1, 1)
    for name, code in (("甲", "B11"), ("乙", "B11"), ("丙", "B11"), ("丁", "B12"), ("戊", "B12")):
        c.members[name] = _member(c.orgs[code], f"党员{name}", since)
    c.members["己"] = _member(c.orgs["B21"], "党员己", since)
    c.members["庚"] = _member(c.orgs["B21"], "党员庚", datetime.date(YEAR, 5, 10))
    figures.rebuild([H1, H2], keys=["ledgers"])

    services.ledgers_open(by=c.secretaries["B11"], org=c.orgs["B11"], year=YEAR, today=TODAY)
    _sign_member(c, "甲", own=("pledge", "q1", "q2"), branch=("pledge", "q1r", "q2r"))
    _sign_member(c, "乙", own=("pledge",), branch=("pledge",))
    _sign_member(c, "丁", own=("pledge",))
    b11 = c.orgs["B11"]
    _missing(c.secretaries["T1"], b11, ("pledge", "h1", "h1r"))
    services.ledger_sign_many(
        by=c.secretaries["B11"], year=YEAR, today=TODAY,
        items=[SignItem(b11, "pledge", S.ORG_SELF), SignItem(b11, "h1", S.ORG_SELF)],
    )  # fmt: skip
    services.ledger_sign_many(
        by=c.secretaries["T1"], year=YEAR, today=TODAY,
        items=[SignItem(b11, "pledge", S.UPPER), SignItem(b11, "h1r", S.UPPER)],
    )  # fmt: skip
    org_services.member_transfer(
        by=c.secretaries["T1"], member=c.members["戊"], to_org=c.orgs["B11"], on=MOVED_ON
    )
    for member in c.members.values():
        member.refresh_from_db()
    return c


def _kept(county: County, half: Period) -> dict[str, dict[str, int]]:
    by_pk = figures.own_figures("ledgers", half, [o.pk for o in county.orgs.values()])
    return {
        code: {c: v for c, v in by_pk.get(org.pk, {}).items() if v}
        for code, org in county.orgs.items()
    }


def test_the_kept_figures_equal_the_hand_count(county):
    assert _kept(county, H1) == EXPECTED_H1
    assert _kept(county, H2) == EXPECTED_H2


def test_a_recompute_equals_the_kept_figures_and_a_refresh_changes_nothing(county):
    ids = [o.pk for o in county.orgs.values()]
    for half, expected in ((H1, EXPECTED_H1), (H2, EXPECTED_H2)):
        fresh = ledger_figures.compute(half, ids)
        assert {
            code: {c: v for c, v in fresh.get(org.pk, {}).items() if v}
            for code, org in county.orgs.items()
        } == expected
        figures.refresh("ledgers", half, ids)
        figures.refresh("ledgers", half, ids)
        assert _kept(county, half) == expected
    # the transfer on 15 August left the first half-year as it was counted
    assert figures.check([H1, H2], keys=["ledgers"]) == []


def test_the_figures_agree_with_the_county_inspection(county):
    for half in (H1, H2):
        rows = selectors.inspection(county=county.orgs["K"], half=half)
        assert [r.org.code for r in rows] == ["T1", "T2"]
        for row in rows:
            total = figures.subtree_total("ledgers", row.org, half)
            assert (total["member_owed"], total["org_owed"]) == (row.members, row.orgs)
            unsigned = selectors.unsigned_members(within=row.org, half=half)
            assert row.members_open == unsigned.count()
    [t1, t2] = selectors.inspection(county=county.orgs["K"], half=H1)
    assert (t1.members, t1.members_complete, t1.orgs, t1.orgs_complete) == (5, 1, 2, 1)
    assert (t2.members, t2.members_complete, t2.orgs, t2.orgs_complete) == (2, 0, 1, 0)
    # 戊 is on the first half's drill-down of T1 (B12's then), and on the second's (B11's now)
    moved = county.members["戊"]
    assert moved in selectors.unsigned_members(within=county.orgs["B12"], half=H1)
    assert moved not in selectors.unsigned_members(within=county.orgs["B12"], half=H2)
    assert moved in selectors.unsigned_members(within=county.orgs["B11"], half=H2)


def test_each_figure_has_as_many_names_and_owed_less_done_names_the_rest(county):
    for half, expected in ((H1, EXPECTED_H1), (H2, EXPECTED_H2)):
        for code, org in county.orgs.items():
            figures_of = expected[code]
            for column in COLUMNS:
                found = ledger_figures.names(half, org, column)
                assert len(found) == figures_of.get(column, 0), (half, code, column)
            for owed, done in PAIRS:
                found = ledger_figures.names(half, org, f"{owed}-{done}")
                gap = figures_of.get(owed, 0) - figures_of.get(done, 0)
                assert len(found) == gap, (half, code, owed)


def test_the_names_are_the_members_and_organisations_with_their_sections(county):
    B11, B21, T1 = county.orgs["B11"], county.orgs["B21"], county.orgs["T1"]
    unsigned = ledger_figures.names(H1, B11, "m_review_due-m_review_signed")
    assert sorted((n.label, n.detail) for n in unsigned) == [
        ("党员丙", "第一季度领导点评"),
        ("党员丙", "第二季度领导点评"),
        ("党员乙", "第一季度领导点评"),
        ("党员乙", "第二季度领导点评"),
    ]
    # 庚 joined in May: the second quarter only
    due = ledger_figures.names(H1, B21, "m_fulfilment_due")
    assert sorted((n.label, n.detail) for n in due) == [
        ("党员己", "第一季度承诺兑现情况"),
        ("党员己", "第二季度承诺兑现情况"),
        ("党员庚", "第二季度承诺兑现情况"),
    ]
    [not_open] = ledger_figures.names(H1, T1, "org_owed-org_open")
    assert not_open.label == "B12党支部"
    assert not_open.url.endswith(f"/{county.orgs['B12'].pk}/{YEAR}/")
    with pytest.raises(LookupError):
        ledger_figures.names(H1, B11, "m_unknown_due")


def test_a_withdrawn_signature_leaves_the_figures(county):
    branch = Signature.objects.get(
        ledger__member=county.members["甲"], section="q2r", withdrawn_at__isnull=True
    )
    services.signature_withdraw(by=county.secretaries["B11"], signature=branch, reason="内容有误")
    kept = _kept(county, H1)["B11"]
    assert (kept["m_review_due"], kept["m_review_signed"]) == (6, 1)
    assert kept["m_fulfilment_signed"] == 2  # the member's own line stays
    [t1, _] = selectors.inspection(county=county.orgs["K"], half=H1)
    assert t1.members_complete == 0


def test_the_figures_cost_two_queries_for_any_number_of_organisations(
    county, django_assert_max_num_queries
):
    ids = [o.pk for o in county.orgs.values()]
    # the members grouped by the branch they count at; the organisations grouped by parent
    with django_assert_max_num_queries(2):
        ledger_figures.compute(H1, ids)
    with django_assert_max_num_queries(2):
        ledger_figures.compute(H1, ids[-1:])
