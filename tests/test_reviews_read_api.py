"""What the ledgers and statistics read from reviews: the period's signed review of a subject,
open rectification items as shared rows, per-organisation counts — each checked against the rows
the review pages list, with its query cost."""

import datetime
import importlib
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import reverse

from orgs.models import Organization, Role
from orgs.periods import Period
from reviews import selectors, services
from reviews.models import ReviewRectification
from tests.personas import make_user
from tests.review_world import H1, Q3, TODAY, review_fields


@pytest.fixture
def own(world):
    return world.user("own_branch_secretary")


@pytest.fixture
def parent(world):
    return world.user("parent_committee_secretary")


def _signed_org_review(by, org, kind="org", method="central"):
    review = services.review_create(
        by=by, subject_kind=kind, subject_org=org, period=H1, today=TODAY,
        **review_fields(method=method, reviewed_on=datetime.date(2026, 6, 28)),
    )  # fmt: skip
    return services.review_sign(by=by, review=review)


# ---------------------------------------------------------------- signed_review


def test_the_signed_review_of_a_member_for_a_quarter(world, own, django_assert_num_queries):
    rm = world.extra["rm"]  # B1's signed review of m1 for the third quarter
    with django_assert_num_queries(2):  # the branch at the quarter's end; the review
        assert selectors.signed_review(subject_member=world.members["m1"], period=Q3) == rm
    assert selectors.signed_review(subject_member=world.members["m1b"], period=Q3) is None
    assert selectors.signed_review(subject_member=world.members["m1"], period=Q3.next()) is None
    correction = services.review_correct(by=own, review=rm)
    assert selectors.signed_review(subject_member=world.members["m1"], period=Q3) == rm
    services.review_sign(by=own, review=correction)
    found = selectors.signed_review(subject_member=world.members["m1"], period=Q3)
    assert (found, found.version) == (correction, 2)


def test_the_signed_review_of_an_organisation_is_the_parents_first(
    world, parent, django_assert_num_queries
):
    b1, b2 = world.orgs["B1"], world.orgs["B2"]
    assert selectors.signed_review(subject_org=b1, period=H1) is None  # extra["ro"] is a draft
    ro = services.review_sign(by=parent, review=world.extra["ro"])
    with django_assert_num_queries(1):  # the reviews, the parent's first
        assert selectors.signed_review(subject_org=b1, period=H1) == ro
    # the parent's review (the obligation) wins over a linked leader's signed after it
    theirs = _signed_org_review(parent, b2)
    linked = _signed_org_review(make_user("linked", Role.CONTACT, b2), b2, method="onsite")
    assert linked.signed_at >= theirs.signed_at
    assert selectors.signed_review(subject_org=b2, period=H1) == theirs


def test_a_linked_leaders_review_stands_when_the_parent_has_none(world):
    b2 = world.orgs["B2"]
    linked = _signed_org_review(make_user("linked", Role.CONTACT, b2), b2, method="onsite")
    assert selectors.signed_review(subject_org=b2, period=H1) == linked


def test_the_signed_review_of_a_secretary_is_found_through_the_member(world, parent):
    review = _signed_org_review(parent, world.orgs["B1"], kind="secretary")
    secretary = world.extra["secretary"]
    assert selectors.signed_review(subject_member=secretary, period=H1) == review
    assert selectors.signed_review(subject_org=world.orgs["B1"], period=H1) is None  # not the org's


def test_a_subject_and_period_that_do_not_fit_are_refused(world):
    with pytest.raises(ValueError):
        selectors.signed_review(subject_org=world.orgs["B1"], period=Q3)
    with pytest.raises(ValueError):
        selectors.signed_review(subject_member=world.members["m1"], period=Period.whole_year(2026))


# ---------------------------------------------------------------- signed_reviews


def test_signed_reviews_of_a_branchs_members_agree_with_its_quarter_page(
    world, django_assert_num_queries
):
    b1 = world.orgs["B1"]
    with django_assert_num_queries(1):  # the branch's signed member reviews
        found = selectors.signed_reviews(period=Q3, org=b1)
    assert found == {("member", world.members["m1"].pk): world.extra["rm"]}
    rows = selectors.branch_quarter(branch=b1, period=Q3)
    assert {(r.kind, r.subject.pk): r.review for r in rows if r.is_signed} == found


def test_signed_reviews_of_child_organisations_agree_with_the_half_year_page(
    world, parent, django_assert_num_queries
):
    t1, b1, b2 = world.orgs["T1"], world.orgs["B1"], world.orgs["B2"]
    ro = services.review_sign(by=parent, review=world.extra["ro"])
    secretary = _signed_org_review(parent, b1, kind="secretary")
    linked = _signed_org_review(make_user("linked", Role.CONTACT, b2), b2, method="onsite")
    with django_assert_num_queries(1):  # the signed reviews of T1's children, T1's first
        found = selectors.signed_reviews(period=H1, org=t1)
    assert found == {("org", b1.pk): ro, ("secretary", b1.pk): secretary, ("org", b2.pk): linked}
    theirs = _signed_org_review(parent, b2)
    found = selectors.signed_reviews(period=H1, org=t1)
    assert found[("org", b2.pk)] == theirs
    rows = selectors.half_year(org=t1, period=H1)
    assert {(r.kind, r.subject.pk): r.review for r in rows if r.is_signed} == found


# ---------------------------------------------------------------- open_rectifications


def test_open_rectifications_are_shared_rows(world, own, django_assert_num_queries):
    item, rm, m1 = world.extra["item"], world.extra["rm"], world.members["m1"]
    with django_assert_num_queries(1):  # the items with their review, subject and organisation
        rows = selectors.open_rectifications(org=world.orgs["T1"], year=2026)
    assert [
        (r.source, r.pk, r.org, r.member, r.subject_name, r.requirement, r.status, r.url)
        for r in rows
    ] == [
        (
            "review", item.pk, world.orgs["B1"], m1, "李一", "每月参加一次集中学习", "open",
            reverse("reviews:detail", args=[rm.pk]),
        )
    ]  # fmt: skip
    assert rows[0].deadline == datetime.date(2026, 12, 31) and not rows[0].is_closed
    assert selectors.open_rectifications(member=m1, year=2026) == rows
    assert selectors.open_rectifications(member=world.members["m2"], year=2026) == []
    assert selectors.open_rectifications(org=world.orgs["B2"], year=2026) == []
    assert selectors.open_rectifications(org=world.orgs["T1"], year=2025) == []
    services.rectification_report(by=own, rectification=item, response="已参加三次学习")
    (row,) = selectors.open_rectifications(member=m1, year=2026)
    assert (row.status, row.response) == ("reported", "已参加三次学习")
    services.rectification_close(by=own, rectification=item)
    assert selectors.open_rectifications(member=m1, year=2026) == []


def test_the_rectification_list_uses_the_shared_rows(world, client):
    client.force_login(world.user("parent_committee_secretary"))
    text = client.get(reverse("reviews:items")).content.decode()
    assert "每月参加一次集中学习" in text and "整改中" in text
    assert reverse("reviews:detail", args=[world.extra["rm"].pk]) in text
    url = reverse("reviews:items") + f"?org={world.orgs['B2'].pk}"
    text = client.get(url).content.decode()
    assert "每月参加一次集中学习" not in text and "没有整改事项" in text


# ---------------------------------------------------------------- review_counts_by_org


def _rows_by_subject(rows) -> dict[int, list]:
    by: dict[int, list] = {}
    for row in rows:
        by.setdefault(row.subject.pk, []).append(row)
    return by


def _agree(counts, org_id: int, rows: list) -> None:
    found = counts.get(org_id)
    owed = [r for r in rows if not r.is_exempt]
    expected = (len(owed), sum(r.is_signed for r in owed), len(rows) - len(owed))
    got = (found.owed, found.signed, found.exempt) if found else (0, 0, 0)
    assert got == expected, org_id


def test_quarter_counts_agree_with_the_quarter_pages(world, parent, django_assert_num_queries):
    services.exemption_grant(
        by=parent, period=Q3, subject_kind="member", subject_member=world.members["m1b"],
        reason="长期病休",
    )  # fmt: skip
    # the members owed, the signed reviews, the members exempt, the open items
    with django_assert_num_queries(4):
        counts = selectors.review_counts_by_org(period=Q3, within=world.orgs["T1"])
    for code in ("B1", "B2"):
        branch = world.orgs[code]
        _agree(counts, branch.pk, selectors.branch_quarter(branch=branch, period=Q3))
    b1 = counts[world.orgs["B1"].pk]
    assert (b1.owed, b1.signed, b1.exempt, b1.open_rectifications) == (1, 1, 1, 1)
    assert (b1.missing, b1.rate) == (0, 1.0)
    assert counts[world.orgs["B2"].pk].rate == 0.0
    assert set(counts) == {world.orgs["B1"].pk, world.orgs["B2"].pk}


def test_half_year_counts_agree_with_the_half_year_pages(world, parent, django_assert_num_queries):
    services.review_sign(by=parent, review=world.extra["ro"])
    county = make_user("county", Role.SECRETARY, world.orgs["K1"])
    services.exemption_grant(
        by=county, period=H1, subject_kind="org", subject_org=world.orgs["B2"], reason="组织撤并"
    )
    root = world.orgs["P"]
    # the organisations owed, the exemptions, the parents' signed reviews, the open items
    with django_assert_num_queries(4):
        counts = selectors.review_counts_by_org(period=H1, within=root)
    rows = {}
    for org in Organization.objects.filter(root.subtree_q()):
        rows |= _rows_by_subject(selectors.half_year(org=org, period=H1))
    assert rows  # the pages list obligations, so the comparison below compares something
    for org in Organization.objects.filter(root.subtree_q()):
        _agree(counts, org.pk, rows.get(org.pk, []))
    b1 = counts[world.orgs["B1"].pk]
    assert (b1.owed, b1.signed, b1.exempt) == (2, 1, 0)  # B1 and its secretary; the org signed
    b2 = counts[world.orgs["B2"].pk]
    assert (b2.owed, b2.signed, b2.exempt) == (0, 0, 1)


def test_half_year_counts_leave_out_reviews_besides_the_obligation(world):
    b2 = world.orgs["B2"]
    _signed_org_review(make_user("linked", Role.CONTACT, b2), b2, method="onsite")
    counts = selectors.review_counts_by_org(period=H1, within=world.orgs["T1"])
    assert (counts[b2.pk].owed, counts[b2.pk].signed) == (1, 0)


def test_counts_are_for_quarters_and_half_years_only(world):
    with pytest.raises(ValueError):
        selectors.review_counts_by_org(period=Period.whole_year(2026), within=world.orgs["T1"])


# ---------------------------------------------------------------- numbers, not strings


def test_coverage_rates_are_numbers_the_page_formats(world, client):
    total = selectors.coverage(root=world.orgs["T1"], quarter=Q3)["total"]
    assert total.member_rate == pytest.approx(1 / 3)
    assert total.reviewer_rate == 0.0 and total.org_rate == 0.0
    assert selectors.Coverage(world.orgs["B3"]).member_rate is None
    client.force_login(world.user("parent_committee_secretary"))
    text = client.get(reverse("reviews:coverage", args=[world.orgs["T1"].pk, "2026Q3"]))
    assert "1 / 3（33.3%）" in text.content.decode()


def test_no_review_template_compares_a_status_string():
    folder = Path(__file__).resolve().parent.parent / "reviews" / "templates" / "reviews"
    pattern = re.compile(r"\b(status|state|kind)\s*(==|!=)")
    templates = sorted(folder.glob("*.html"))
    assert templates
    for template in templates:
        assert not pattern.search(template.read_text()), template.name


# ---------------------------------------------------------------- the migration's data step


def test_items_kept_from_before_take_their_rectify_event_else_the_signing(world):
    """The step of migration 0009 that fills the new columns of items written before them: the
    time and actor of the review's "rectify" event that recorded the item; without one, the
    reviewer when the review was signed."""
    item, rm = world.extra["item"], world.extra["rm"]
    migration = importlib.import_module("reviews.migrations.0009_review_rectification_base")

    def forget_issue():
        ReviewRectification.objects.filter(pk=item.pk).update(
            issued_by=None, issued_at=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
        )

    [event] = rm.events.filter(action="rectify")
    assert event.at != rm.signed_at  # so the two cases below tell the sources apart
    forget_issue()
    migration.issued_by_the_reviewer(apps, None)
    item.refresh_from_db()
    assert (item.issued_by_id, item.issued_at) == (event.actor_id, event.at)

    event.delete()
    forget_issue()
    migration.issued_by_the_reviewer(apps, None)
    item.refresh_from_db()
    assert (item.issued_by_id, item.issued_at) == (rm.reviewer_id, rm.signed_at)
