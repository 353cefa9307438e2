"""The reviews app's deadlines and obligation rules: each gap counts exactly the names its page
lists, done work removes it, the reminders sweep carries it to the right people."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orgs import services as org_services
from orgs.deadlines import calendar_for, deadline_kind
from orgs.models import Membership, Organization, OrgKind, Role
from orgs.periods import HALF, QUARTER, YEAR, Period
from orgs.reminders import send_due, sweep
from orgs.selectors import members_on
from reviews import selectors, services
from reviews.appraisal import selectors as appraisal_selectors
from reviews.appraisal import services as appraisal_services
from reviews.appraisal.models import Appraisal, AppraisalKind
from reviews.models import LeaderReview, ReviewStatus
from reviews.obligations import APPRAISAL, MEMBER_REVIEW, ORG_REVIEW
from tests.personas import make_member, make_org, make_user
from tests.review_world import H1, Q3, TODAY, review_fields

Q4, H2 = Period(2026, QUARTER, 4), Period(2026, HALF, 2)
Y2026, Y2025 = Period.whole_year(2026), Period.whole_year(2025)


def _gaps(kind: str, period: Period, org_ids=None) -> dict:
    """The rule's answer, by organisation (each organisation at most once)."""
    found = list(deadline_kind(kind).gaps(period, org_ids))
    by_org = {gap.org_id: gap for gap in found}
    assert len(by_org) == len(found), "an organisation answered twice"
    assert all(gap.count > 0 for gap in found)
    return by_org


def _count(gaps: dict, org: Organization) -> int:
    return gaps[org.pk].count if org.pk in gaps else 0


def _fresh(world, code: str) -> Organization:
    return Organization.objects.get(pk=world.orgs[code].pk)


def _all_orgs() -> list[Organization]:
    return list(Organization.objects.order_by("tree_id", "lft"))


# ---------------------------------------------------------------- the pages' lists


def _missing_children(org: Organization, half: Period) -> set[int]:
    """The children the half-year page lists with their organisation or secretary still owed."""
    return {r.subject.pk for r in selectors.half_year(org=org, period=half) if r.awaits_review}


def _appraisals_owed(org: Organization, year: Period) -> list[str]:
    """The appraisals the appraisal pages would have `org` run (kinds_for; of members only with
    members on the roll, as appraisal_create refuses an empty roll) and not yet published."""
    if not org.is_active:
        return []
    published = set(
        appraisal_selectors.org_appraisals(org=org)
        .filter(year=year.year)
        .published()
        .values_list("kind", flat=True)
    )
    owed = []
    for kind in appraisal_selectors.kinds_for(org):
        if kind == AppraisalKind.MEMBER and not members_on(org=org, day=year.end).exists():
            continue
        if kind not in published:
            owed.append(kind)
    return owed


def _member_gaps_agree(quarter: Period) -> dict:
    gaps = _gaps(MEMBER_REVIEW, quarter)
    for org in _all_orgs():
        listed = (
            selectors.missing_members(branch=org, period=quarter)
            if org.holds_members and org.is_active
            else []
        )
        assert _count(gaps, org) == len(listed), f"{org.name} {quarter.label}"
    return gaps


def _org_gaps_agree(half: Period) -> dict:
    gaps = _gaps(ORG_REVIEW, half)
    for org in _all_orgs():
        listed = _missing_children(org, half) if org.is_active else set()
        assert _count(gaps, org) == len(listed), f"{org.name} {half.label}"
    return gaps


def _appraisal_gaps_agree(year: Period) -> dict:
    gaps = _gaps(APPRAISAL, year)
    for org in _all_orgs():
        assert _count(gaps, org) == len(_appraisals_owed(org, year)), f"{org.name} {year.label}"
    return gaps


# ---------------------------------------------------------------- the kinds


def test_the_three_deadlines_fall_on_the_circulars_dates(world):
    member, org, appraisal = (deadline_kind(k) for k in (MEMBER_REVIEW, ORG_REVIEW, APPRAISAL))
    assert (member.period_kind, org.period_kind, appraisal.period_kind) == (QUARTER, HALF, YEAR)
    assert [member.default_due(q) for q in Period.all_of(2026, QUARTER)] == [
        datetime.date(2026, 3, 31),
        datetime.date(2026, 6, 30),
        datetime.date(2026, 9, 30),
        datetime.date(2026, 12, 31),
    ]
    # a stage review before 七一, a full one at the year's end
    assert [org.default_due(h) for h in Period.all_of(2026, HALF)] == [
        datetime.date(2026, 6, 30),
        datetime.date(2026, 12, 31),
    ]
    assert appraisal.default_due(Y2026) == datetime.date(2026, 12, 31)
    assert "每季度" in member.source and "每半年" in org.source and "七·一" in org.source
    assert (
        "黑创先办[2010]12号 三" in appraisal.source and "兵创先组发〔2011〕3号" in appraisal.source
    )
    assert member.roles == org.roles == appraisal.roles == (Role.SECRETARY, Role.DEPUTY)
    on_calendar = {
        (r.kind.key, r.period.slug): r.due_on
        for r in calendar_for(org=world.orgs["B1"], year=2026)
        if r.kind.key in (MEMBER_REVIEW, ORG_REVIEW, APPRAISAL)
    }
    assert on_calendar[(MEMBER_REVIEW, "2026Q3")] == datetime.date(2026, 9, 30)
    assert on_calendar[(ORG_REVIEW, "2026H1")] == datetime.date(2026, 6, 30)
    assert on_calendar[(APPRAISAL, "2026Y1")] == datetime.date(2026, 12, 31)
    assert len(on_calendar) == 4 + 2 + 1


# ---------------------------------------------------------------- 党员季度点评


def test_the_member_gap_counts_the_names_the_quarter_page_lists(world):
    b1 = _fresh(world, "B1")
    for quarter in Period.all_of(2026, QUARTER):
        _member_gaps_agree(quarter)
    q3 = _gaps(MEMBER_REVIEW, Q3)
    # m1 is reviewed and signed; m1b is not; the secretary (王书记) is reviewed half-yearly
    assert [m.name for m in selectors.missing_members(branch=b1, period=Q3)] == ["李二"]
    gap = q3[b1.pk]
    assert (gap.count, gap.text) == (1, "1 名党员未点评")
    assert gap.url == reverse("reviews:quarter", args=[b1.pk, "2026Q3"])
    assert {org.code for org in Organization.objects.filter(pk__in=q3)} == {"B1", "B2", "B3"}
    assert _gaps(MEMBER_REVIEW, Q4)[b1.pk].count == 2


def test_a_draft_still_counts_and_signing_removes_the_member(world):
    own, b1, m1b = world.user("own_branch_secretary"), _fresh(world, "B1"), world.members["m1b"]
    draft = services.review_create(
        by=own, subject_kind="member", subject_member=m1b, period=Q3, today=TODAY,
        **review_fields(),
    )  # fmt: skip
    assert _member_gaps_agree(Q3)[b1.pk].count == 1  # the page lists a draft as still owed
    services.review_sign(by=own, review=draft)
    assert b1.pk not in _member_gaps_agree(Q3)
    assert world.orgs["B2"].pk in _gaps(MEMBER_REVIEW, Q3)  # the sibling still owes m2's


def test_an_exemption_removes_the_member(world):
    parent, b1, m1b = (
        world.user("parent_committee_secretary"),
        _fresh(world, "B1"),
        world.members["m1b"],
    )
    assert _gaps(MEMBER_REVIEW, Q3)[b1.pk].count == 1
    services.exemption_grant(
        by=parent, period=Q3, subject_kind="member", subject_member=m1b, reason="长期病休"
    )
    assert b1.pk not in _member_gaps_agree(Q3)
    assert _member_gaps_agree(Q4)[b1.pk].count == 2  # for that quarter only


def test_a_members_review_of_themselves_meets_nothing(world):
    """A signed review m1b wrote of herself, kept from before the service refused them."""
    b1, m1b = _fresh(world, "B1"), world.members["m1b"]
    LeaderReview.objects.create(
        reviewer=world.user("member_self"), reviewer_name="李二", reviewer_post="党员",
        reviewer_org=b1, subject_kind="member", subject_member=m1b, org=b1, year=2026,
        period_kind=QUARTER, period=3, status=ReviewStatus.SIGNED, signed_at=timezone.now(),
        by_subject=True, **review_fields(),
    )  # fmt: skip
    assert _member_gaps_agree(Q3)[b1.pk].count == 1


def test_members_who_left_and_inactive_branches_owe_nothing(world):
    b1, b2 = _fresh(world, "B1"), _fresh(world, "B2")
    org_services.member_transfer(
        by=None, member=world.members["m1b"], to_org=b2, on=datetime.date(2026, 9, 1)
    )
    gaps = _member_gaps_agree(Q3)
    assert b1.pk not in gaps and gaps[b2.pk].count == 2  # m1b is owed by the branch she joined
    # m2 leaves the roll (the membership closed, none opened)
    Membership.objects.filter(member=world.members["m2"], end=None).update(
        end=datetime.date(2026, 8, 1)
    )
    assert _member_gaps_agree(Q3)[b2.pk].count == 1
    org_services.organization_update(by=None, org=b2, is_active=False)
    assert b2.pk not in _member_gaps_agree(Q3)


def test_a_review_by_another_branch_does_not_meet_the_branchs(world):
    """m1's review was signed by B1; moved to B2 before the quarter's end, m1 is owed by B2."""
    b1, b2 = _fresh(world, "B1"), _fresh(world, "B2")
    assert world.extra["rm"].org_id == b1.pk and b1.pk in _gaps(MEMBER_REVIEW, Q3)
    org_services.member_transfer(
        by=None, member=world.members["m1"], to_org=b2, on=datetime.date(2026, 9, 1)
    )
    gaps = _member_gaps_agree(Q3)
    assert gaps[b1.pk].count == 1 and gaps[b2.pk].count == 2  # B1: m1b; B2: m2 and m1


# ---------------------------------------------------------------- 党组织及书记半年点评


def test_the_org_gap_counts_the_children_the_half_year_page_lists(world):
    t1 = _fresh(world, "T1")
    for half in (H1, H2):
        _org_gaps_agree(half)
    gaps = _gaps(ORG_REVIEW, H1)
    # B1: the organisation in draft, its secretary not reviewed; B2: not reviewed (no secretary)
    assert _missing_children(t1, H1) == {world.orgs["B1"].pk, world.orgs["B2"].pk}
    gap = gaps[t1.pk]
    assert (gap.count, gap.text) == (2, "2 个下级党组织、1 名下级党组织书记未点评")
    assert gap.url == reverse("reviews:half", args=[t1.pk, "2026H1"])
    # the county owes T1's review, the town T2 owes B3's; cities and the province owe none
    owing = {org.code: gaps[org.pk].count for org in Organization.objects.filter(pk__in=gaps)}
    assert owing == {"T1": 2, "K1": 1, "T2": 1, "K2": 1}


def test_only_the_parents_signed_review_or_an_exemption_meets_it(world):
    parent, t1 = world.user("parent_committee_secretary"), _fresh(world, "T1")
    b1, b2 = _fresh(world, "B1"), _fresh(world, "B2")
    services.review_sign(by=parent, review=world.extra["ro"])  # B1, the organisation
    gap = _org_gaps_agree(H1)[t1.pk]
    assert (gap.count, gap.text) == (2, "1 个下级党组织、1 名下级党组织书记未点评")
    secretary = services.review_create(
        by=parent, subject_kind="secretary", subject_org=b1, period=H1, today=TODAY,
        **review_fields(),
    )  # fmt: skip
    services.review_sign(by=parent, review=secretary)
    assert _org_gaps_agree(H1)[t1.pk].count == 1  # B2 left
    services.exemption_grant(
        by=world.user("county_secretary"), period=H1, subject_kind="org", subject_org=b2,
        reason="支部改建中",
    )  # fmt: skip
    assert t1.pk not in _org_gaps_agree(H1)
    assert _org_gaps_agree(H2)[t1.pk].count == 2  # for that half-year only


def test_a_review_by_another_leader_does_not_meet_the_parents(world):
    t1, b2 = _fresh(world, "T1"), _fresh(world, "B2")
    linked = make_user("linked_b2", Role.CONTACT, b2)  # B2's contact leader (联系点领导)
    review = services.review_create(
        by=linked, subject_kind="org", subject_org=b2, period=H1, today=TODAY,
        **review_fields(method="onsite"),
    )  # fmt: skip
    services.review_sign(by=linked, review=review)
    assert b2.pk in _missing_children(t1, H1)
    assert _org_gaps_agree(H1)[t1.pk].count == 2


def test_inactive_children_and_parents_owe_nothing(world):
    org_services.organization_update(by=None, org=_fresh(world, "B2"), is_active=False)
    gaps = _org_gaps_agree(H1)
    assert gaps[world.orgs["T1"].pk].count == 1
    org_services.organization_update(by=None, org=_fresh(world, "T2"), is_active=False)
    gaps = _org_gaps_agree(H1)
    assert world.orgs["T2"].pk not in gaps  # owes B3's review no more
    assert world.orgs["K2"].pk not in gaps  # is owed nothing about T2


# ---------------------------------------------------------------- 年度民主评议


def test_the_appraisal_gap_names_each_appraisal_not_yet_published(world):
    gaps = _appraisal_gaps_agree(Y2026)
    owing = {org.code: gaps[org.pk].count for org in Organization.objects.filter(pk__in=gaps)}
    # branches appraise their members; T1/T2 (no members of their own) their branches; the
    # counties their 基层党委; cities and the province run none
    assert owing == {"B1": 1, "B2": 1, "B3": 1, "T1": 1, "T2": 1, "K1": 1, "K2": 1}
    b1 = world.orgs["B1"]
    assert gaps[b1.pk].text == "2026年民主评议党员尚未公开结果"  # B1's session is still voting
    assert gaps[b1.pk].url == reverse("appraisal:list", args=[b1.pk]) + "?year=2026"
    assert gaps[world.orgs["T1"].pk].text == "2026年民主评议基层党组织尚未公开结果"
    # 2025: B1 published its results
    assert b1.pk not in _appraisal_gaps_agree(Y2025)


def test_publishing_the_results_meets_the_appraisal_and_closing_does_not(world):
    own, b1 = world.user("own_branch_secretary"), world.orgs["B1"]
    appraisal = appraisal_services.appraisal_close(by=own, appraisal=world.extra["ap_open"])
    assert b1.pk in _appraisal_gaps_agree(Y2026)
    appraisal_services.results_decide(
        by=own,
        appraisal=appraisal,
        decisions={s.pk: ("pass", "支部委员会认定") for s in appraisal.subjects.all()},
    )
    appraisal_services.appraisal_publish(by=own, appraisal=appraisal, low_turnout_confirmed=True)
    assert Appraisal.objects.get(pk=appraisal.pk).is_published
    assert b1.pk not in _appraisal_gaps_agree(Y2026)


def test_a_committee_with_members_of_its_own_owes_both_appraisals(world):
    t1 = _fresh(world, "T1")
    make_member(t1, "赵委员")
    gap = _appraisal_gaps_agree(Y2026)[t1.pk]
    assert (gap.count, gap.text) == (2, "2026年民主评议党员、民主评议基层党组织尚未公开结果")
    org_services.organization_update(by=None, org=t1, is_active=False)
    assert t1.pk not in _appraisal_gaps_agree(Y2026)


# ---------------------------------------------------------------- restriction and cost


PERIODS = {MEMBER_REVIEW: Q3, ORG_REVIEW: H1, APPRAISAL: Y2026}


@pytest.mark.parametrize("kind", [MEMBER_REVIEW, ORG_REVIEW, APPRAISAL])
def test_org_ids_restrict_the_answer_to_those_organisations(world, kind, django_assert_num_queries):
    period = PERIODS[kind]
    everywhere = _gaps(kind, period)
    assert len(everywhere) >= 3
    wanted = {world.orgs[code].pk for code in ("B1", "T1", "K2", "C1")}
    assert _gaps(kind, period, wanted) == {
        pk: gap for pk, gap in everywhere.items() if pk in wanted
    }
    other = {world.orgs["B3"].pk, world.orgs["T2"].pk}
    assert set(_gaps(kind, period, other)) == other & set(everywhere)
    with django_assert_num_queries(0):
        assert _gaps(kind, period, set()) == {}


def _grow(world) -> None:
    """A second township under K1: five branches of four members, secretaries with logins, some
    reviews signed and an exemption, so every rule has more rows of every kind to read."""
    town = make_org("T9", OrgKind.COMMITTEE, _fresh(world, "K1"))
    branches = [make_org(f"T9B{b}", OrgKind.BRANCH, town) for b in range(5)]
    members = [
        [make_member(branch, f"成员{b}{i}") for i in range(4)] for b, branch in enumerate(branches)
    ]
    # the logins after the tree is built: a login's grants keep the ranges they were read with
    town_secretary = make_user("t9_secretary", Role.SECRETARY, town)
    for b, branch in enumerate(branches):
        secretary = make_user(f"t9b{b}_secretary", Role.SECRETARY, branch)
        review = services.review_create(
            by=secretary, subject_kind="member", subject_member=members[b][0], period=Q3,
            today=TODAY, **review_fields(),
        )  # fmt: skip
        services.review_sign(by=secretary, review=review)
        if b == 0:
            continue
        review = services.review_create(
            by=town_secretary, subject_kind="org", subject_org=branch, period=H1, today=TODAY,
            **review_fields(method="central"),
        )  # fmt: skip
        if b % 2:
            services.review_sign(by=town_secretary, review=review)
    services.exemption_grant(
        by=make_user("k1_secretary_2", Role.SECRETARY, _fresh(world, "K1")), period=H1,
        subject_kind="org", subject_org=branches[0], reason="支部改建中",
    )  # fmt: skip


# each rule: the organisations with their open obligations, grouped (one query)
QUERIES = {MEMBER_REVIEW: 1, ORG_REVIEW: 1, APPRAISAL: 1}


@pytest.mark.parametrize("kind", [MEMBER_REVIEW, ORG_REVIEW, APPRAISAL])
def test_the_rules_cost_a_fixed_number_of_queries(world, kind, django_assert_num_queries):
    period = PERIODS[kind]
    with django_assert_num_queries(QUERIES[kind]):
        small = _gaps(kind, period)
    _grow(world)
    with django_assert_num_queries(QUERIES[kind]):
        bigger = _gaps(kind, period)
    assert len(bigger) > len(small)
    with django_assert_num_queries(QUERIES[kind]):
        _gaps(kind, period, set(bigger))
    agree = {MEMBER_REVIEW: _member_gaps_agree, ORG_REVIEW: _org_gaps_agree}
    if kind in agree:
        agree[kind](period)
    else:
        _appraisal_gaps_agree(period)


# ---------------------------------------------------------------- reminders


def _reminders(user, kind: str, period: Period, step: str | None = None):
    found = user.reminders.filter(kind=kind, period=period.slug)
    return list(found.filter(step=step) if step else found)


def _items(reminder) -> dict[int, dict]:
    return {item["org"]: item for item in reminder.items}


def test_a_day_before_the_owing_leaders_are_reminded_and_nobody_else(world):
    b1, t1 = world.orgs["B1"], world.orgs["T1"]
    sweep(today=datetime.date(2026, 12, 30))
    own, deputy = world.user("own_branch_secretary"), world.user("own_branch_deputy")
    for user in (own, deputy):
        (reminder,) = _reminders(user, MEMBER_REVIEW, Q4)
        assert reminder.step == "-1" and reminder.due_on == datetime.date(2026, 12, 31)
        item = _items(reminder)[b1.pk]
        assert (item["count"], item["text"]) == (2, "2 名党员未点评")
        assert item["url"] == reverse("reviews:quarter", args=[b1.pk, "2026Q4"])
        assert set(_items(reminder)) == {b1.pk}
    (appraisal,) = _reminders(own, APPRAISAL, Y2026, "-1")
    assert set(_items(appraisal)) == {b1.pk}
    (half,) = _reminders(world.user("parent_committee_secretary"), ORG_REVIEW, H2, "-1")
    assert _items(half)[t1.pk]["count"] == 2
    for name in (
        "unrelated_committee_secretary",
        "office_outside",
        "office_inside",
        "parent_committee_secretary",
    ):
        assert _reminders(world.user(name), MEMBER_REVIEW, Q4) == [], name
    # T2's secretary runs T2's appraisal of B3, and hears nothing of B1's
    (other,) = _reminders(world.user("unrelated_committee_secretary"), APPRAISAL, Y2026)
    assert set(_items(other)) == {world.orgs["T2"].pk}


def test_a_day_late_the_gaps_go_to_the_parents_secretary(world):
    b1, b2, t1 = world.orgs["B1"], world.orgs["B2"], world.orgs["T1"]
    sweep(today=datetime.date(2026, 10, 1))
    (late,) = _reminders(world.user("own_branch_secretary"), MEMBER_REVIEW, Q3)
    assert late.step == "+1" and set(_items(late)) == {b1.pk}
    (up,) = _reminders(world.user("parent_committee_secretary"), MEMBER_REVIEW, Q3)
    assert up.step == "up1"
    items = _items(up)
    assert set(items) == {b1.pk, b2.pk}  # T1's children, not B3
    assert (items[b1.pk]["count"], items[b1.pk]["late"]) == (1, 1)
    for name in ("county_secretary", "office_inside"):
        assert _reminders(world.user(name), MEMBER_REVIEW, Q3) == [], name
    (beside,) = _reminders(world.user("unrelated_committee_secretary"), MEMBER_REVIEW, Q3)
    assert set(_items(beside)) == {world.orgs["B3"].pk}  # T2 hears of its own branch only
    # the half-year: T1 owes its branches' reviews, so K1's secretary and office hear of it
    sweep(today=datetime.date(2026, 7, 1))
    for name in ("county_secretary", "office_inside"):
        (up,) = _reminders(world.user(name), ORG_REVIEW, H1, "up1")
        assert _items(up)[t1.pk]["count"] == 2, name
    (beside,) = _reminders(world.user("office_outside"), ORG_REVIEW, H1, "up1")
    assert set(_items(beside)) == {world.orgs["T2"].pk}  # K2's office: T2's gap, not T1's


def test_a_week_late_the_gaps_reach_the_grandparents_office_only(world):
    b1, b2, b3 = world.orgs["B1"], world.orgs["B2"], world.orgs["B3"]
    sweep(today=datetime.date(2026, 10, 7))
    (up,) = _reminders(world.user("office_inside"), MEMBER_REVIEW, Q3)
    assert up.step == "up2" and set(_items(up)) == {b1.pk, b2.pk}
    assert _items(up)[b1.pk]["late"] == 7
    (other,) = _reminders(world.user("office_outside"), MEMBER_REVIEW, Q3)
    assert other.step == "up2" and set(_items(other)) == {b3.pk}
    for name in ("county_secretary", "parent_committee_secretary"):
        assert _reminders(world.user(name), MEMBER_REVIEW, Q3, "up2") == [], name


def test_reviews_signed_after_the_reminder_cancel_its_e_mail(world):
    own, b1 = world.user("own_branch_secretary"), world.orgs["B1"]
    own.email = "own@example.org"
    own.save(update_fields=["email"])
    sweep(today=datetime.date(2026, 12, 30))
    (reminder,) = _reminders(own, MEMBER_REVIEW, Q4)
    assert _items(reminder)[b1.pk]["count"] == 2
    for member in (world.members["m1"], world.members["m1b"]):
        review = services.review_create(
            by=own, subject_kind="member", subject_member=member, period=Q4,
            today=datetime.date(2026, 12, 30),
            **review_fields(reviewed_on=datetime.date(2026, 12, 30)),
        )  # fmt: skip
        services.review_sign(by=own, review=review)
    send_due()
    reminder.refresh_from_db()
    assert reminder.email_state == "cancelled" and reminder.done_at is not None
    sent_to_own = [m.body for m in mail.outbox if m.to == [own.email]]
    assert sent_to_own and not any("名党员未点评" in body for body in sent_to_own)
