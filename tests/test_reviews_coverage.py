"""全覆盖 counts agree with the names listed beside them; nobody reviews themselves."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone

from orgs import figures
from orgs import services as org_services
from orgs.models import Membership, Organization, Role
from orgs.periods import HALF, QUARTER, Period
from reviews import access, selectors, services
from reviews.models import LeaderReview, ReviewStatus
from tests.personas import make_user
from tests.review_world import H1, Q3, TODAY, review_fields


def _written_past_the_service(by, member, org, period=Q3) -> LeaderReview:
    """A signed member review stored directly, as data kept from before the service refused
    self-reviews; the migration that added `by_subject` flags such rows, as it does here."""
    import importlib

    from django.apps import apps

    review = LeaderReview.objects.create(
        reviewer=by, reviewer_name="某人", reviewer_post="书记", reviewer_org=org,
        subject_kind="member", subject_member=member, org=org, year=period.year,
        period_kind=period.kind, period=period.number, status=ReviewStatus.SIGNED,
        signed_at=timezone.now(), **review_fields(),
    )  # fmt: skip
    migration = importlib.import_module("reviews.migrations.0007_review_by_subject")
    migration.mark_reviews_by_their_subject(apps, None)
    review.refresh_from_db()
    figures.refresh("reviews", period, [org.pk])  # as the nightly rebuild would
    return review


def _agrees(branch: Organization, quarter: Period) -> None:
    """The coverage of a branch against its quarter page and its list of the unreviewed."""
    half = Period.containing(quarter.end, HALF)
    total = selectors.coverage(root=branch, quarter=quarter, half=half)["total"]
    rows = selectors.branch_quarter(branch=branch, period=quarter)
    owed = [r for r in rows if r.state != "exempt"]
    signed = [r for r in rows if r.state == "signed"]
    missing = selectors.missing_members(branch=branch, period=quarter)
    where = f"{branch.name} {quarter.label}"
    assert total.members_owed == len(owed), where
    assert total.members_reviewed == len(signed), where
    assert total.members_owed - total.members_reviewed == len(missing), where


def test_the_secretarys_review_of_herself_counts_nowhere(world):
    own, b1 = world.user("own_branch_secretary"), world.orgs["B1"]
    secretary = world.extra["secretary"]  # 王书记, own's record
    with pytest.raises(ValidationError):
        services.review_create(
            by=own, subject_kind="member", subject_member=secretary, period=Q3, today=TODAY,
            **review_fields(),
        )  # fmt: skip
    _written_past_the_service(own, secretary, b1)
    total = selectors.coverage(root=b1, quarter=Q3)["total"]
    assert (total.members_owed, total.members_reviewed) == (2, 1)  # m1 and m1b; m1 reviewed
    _agrees(b1, Q3)


def test_a_members_review_of_themselves_counts_nowhere(world):
    b1, m1b = world.orgs["B1"], world.members["m1b"]
    deputy = world.user("member_self")  # m1b's login, made a deputy
    org_services.role_grant(by=None, user=deputy, org=b1, role=Role.DEPUTY)
    with pytest.raises(ValidationError):
        services.review_create(
            by=deputy, subject_kind="member", subject_member=m1b, period=Q3, today=TODAY,
            **review_fields(),
        )  # fmt: skip
    _written_past_the_service(deputy, m1b, b1)
    total = selectors.coverage(root=b1, quarter=Q3)["total"]
    assert total.members_reviewed == 1
    states = {r.subject: r.state for r in selectors.branch_quarter(branch=b1, period=Q3)}
    assert states[m1b] == "missing"
    _agrees(b1, Q3)


def test_reviews_of_members_not_owed_are_not_counted(world):
    """A review the branch holds for someone not on its roll at the quarter's end (moved out
    with an earlier date), or for a member later exempted, counts for nobody."""
    own, b1, m1b = world.user("own_branch_secretary"), world.orgs["B1"], world.members["m1b"]
    review = services.review_create(
        by=own, subject_kind="member", subject_member=m1b, period=Q3, today=TODAY,
        **review_fields(),
    )  # fmt: skip
    services.review_sign(by=own, review=review)
    assert selectors.coverage(root=b1, quarter=Q3)["total"].members_reviewed == 2
    org_services.member_transfer(
        by=None, member=m1b, to_org=world.orgs["B2"], on=datetime.date(2026, 9, 1)
    )
    t1 = selectors.coverage(root=world.orgs["T1"], quarter=Q3)
    by_child = {c.org.code: (c.members_owed, c.members_reviewed) for c in t1["children"]}
    assert by_child == {"B1": (1, 1), "B2": (2, 0)}
    for branch in (b1, world.orgs["B2"]):
        _agrees(branch, Q3)


def test_nobody_reviews_an_organisation_they_lead(world):
    own, b1 = world.user("own_branch_secretary"), world.orgs["B1"]
    org_services.role_grant(by=None, user=own, org=b1, role=Role.CONTACT)
    assert access.reviewer_org_for_org(own, b1) is None
    with pytest.raises(ValidationError):
        services.review_create(
            by=own, subject_kind="org", subject_org=b1, period=H1, today=TODAY,
            **review_fields(method="onsite"),
        )  # fmt: skip
    linked = make_user("linked", Role.CONTACT, b1)
    assert access.reviewer_org_for_org(linked, b1) == b1


# ---------------------------------------------------------------- every demo period


def test_coverage_counts_equal_the_listed_names_for_every_demo_period(demo):
    year = LeaderReview.objects.values_list("year", flat=True).first()
    quarters = sorted(
        {Period(year, QUARTER, n) for n in LeaderReview.objects.filter(period_kind=QUARTER)
         .values_list("period", flat=True).distinct()}, key=lambda p: p.number,
    )  # fmt: skip
    assert quarters
    branches = list(Organization.objects.filter(kind="branch", is_active=True))
    for quarter in quarters:
        for branch in branches:
            _agrees(branch, quarter)
        # the organisations and secretaries: the half-year pages under a committee (and its
        # parent's, for its own review), against its coverage; and the reviewers still owing,
        # against the list of them
        half = Period.containing(quarter.end, HALF)
        for root in Organization.objects.filter(kind__in=["committee", "county"]):
            total = selectors.coverage(root=root, quarter=quarter, half=half)["total"]
            under = Organization.objects.filter(root.subtree_q(), is_active=True)
            rows = [row for org in under for row in selectors.half_year(org=org, period=half)]
            if root.parent_id:
                above = selectors.half_year(org=root.parent, period=half)
                rows += [row for row in above if row.subject.pk == root.pk]
            owed = [r for r in rows if r.state != "exempt"]
            for kind, owed_n, done_n in (
                ("org", total.orgs_owed, total.orgs_reviewed),
                ("secretary", total.secretaries_owed, total.secretaries_reviewed),
            ):
                assert owed_n == sum(1 for r in owed if r.kind == kind), (root.name, half)
                assert done_n == sum(1 for r in owed if r.kind == kind and r.state == "signed"), (
                    root.name,
                    half,
                )
            assert total.reviewers_owed - total.reviewers_done == len(total.gaps), root.name
            assert total.members_reviewed <= total.members_owed


def test_the_demo_has_no_self_reviews_and_files_each_under_the_branch_then(demo):
    self_reviews = LeaderReview.objects.filter(
        subject_kind="member", subject_member__user_id=F("reviewer_id")
    )
    assert not self_reviews.exists()
    for review in LeaderReview.objects.filter(subject_kind="member", period_kind=QUARTER)[:500]:
        end = Period(review.year, QUARTER, review.period).end
        stay = Membership.objects.on(end).filter(member_id=review.subject_member_id).first()
        assert stay is not None and stay.org_id == review.org_id, review.pk
