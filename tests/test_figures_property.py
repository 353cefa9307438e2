"""The kept figures against the raw rows, after any sequence of service calls.

Hypothesis draws a sequence of writes through the services — pledges made, approved, published
and evaluated, reviews of members and organisations signed, exemptions, a member transferred,
an appraisal published — some of which the services refuse (a refusal writes nothing). After
the sequence, every figure kept by the refresh the services triggered equals a recompute from
the raw rows (orgs.figures.check), and for every organisation its table's total equals the sum of
its subtree (its children's rolled-up rows plus its own)."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orgs import figures
from orgs import services as org_services
from orgs.access import forget_grants
from orgs.models import Organization
from orgs.periods import Period
from pledges import services as pledge_services
from pledges.models import Pledge
from reviews import services as review_services
from reviews.appraisal import services as appraisal_services
from tests.appraisal_world import open_appraisal
from tests.personas import Personas
from tests.pledge_world import member_pledge_fields, org_pledge_fields
from tests.review_world import review_fields

pytestmark = pytest.mark.django_db

YEAR = 2026
MEMBERS = ("m1", "m1b", "m2")
BRANCHES = ("B1", "B2")
QUARTERS = (1, 2, 3)
SECRETARY = {"B1": "own_branch_secretary", "B2": "sibling_branch_secretary"}


class Rolled(Exception):
    """Rolls an example's writes back."""


def _branch_of(p: Personas, key: str) -> str:
    member = p.members[key]
    member.refresh_from_db()
    return "B1" if member.org_id == p.orgs["B1"].pk else "B2"


def pledge_member(p, key, publish):
    branch = _branch_of(p, key)
    by = p.user(SECRETARY[branch])
    pledge = pledge_services.pledge_create(
        by=by, year=YEAR, owner_member=p.members[key], **member_pledge_fields()
    )
    pledge_services.pledge_submit(by=by, pledge=pledge, today=datetime.date(YEAR, 2, 1))
    pledge_services.pledge_approve(by=by, pledge=pledge)
    if publish:
        pledge_services.pledges_publish_approved(by=by, org=p.orgs[branch], year=YEAR)


def pledge_org(p, branch, _):
    by = p.user(SECRETARY[branch])
    pledge = pledge_services.pledge_create(
        by=by, year=YEAR, owner_org=p.orgs[branch], **org_pledge_fields()
    )
    pledge_services.pledge_submit(by=by, pledge=pledge, today=datetime.date(YEAR, 2, 1))
    pledge_services.pledge_approve(by=p.user("parent_committee_secretary"), pledge=pledge)


def evaluate(p, key, result):
    pledge = Pledge.objects.filter(owner_member=p.members[key], year=YEAR).order_by("-pk").first()
    if pledge is not None:
        by = p.user(SECRETARY[_branch_of(p, key)])
        pledge_services.pledge_evaluate(by=by, pledge=pledge, result=result, remark="评诺")


def review_member(p, key, quarter):
    branch = _branch_of(p, key)
    by = p.user(SECRETARY[branch])
    review = review_services.review_create(
        by=by,
        subject_kind="member",
        subject_member=p.members[key],
        period=Period.quarter(YEAR, quarter),
        **review_fields(reviewed_on=Period.quarter(YEAR, quarter).end),
    )
    review_services.review_sign(by=by, review=review)


def review_org(p, branch, half):
    by = p.user("parent_committee_secretary")
    review = review_services.review_create(
        by=by,
        subject_kind="org",
        subject_org=p.orgs[branch],
        period=Period.half(YEAR, half),
        **review_fields(method="central", reviewed_on=Period.half(YEAR, half).end),
    )
    review_services.review_sign(by=by, review=review)


def exempt_member(p, key, quarter):
    review_services.exemption_grant(
        by=p.user("parent_committee_secretary"),
        period=Period.quarter(YEAR, quarter),
        subject_kind="member",
        subject_member=p.members[key],
        reason="长期病休",
    )


def transfer(p, key, month):
    member = p.members[key]
    member.refresh_from_db()
    to = p.orgs["B2"] if member.org_id == p.orgs["B1"].pk else p.orgs["B1"]
    org_services.member_transfer(
        by=p.user("parent_committee_secretary"),
        member=member,
        to_org=to,
        on=datetime.date(YEAR, month, 15),
    )


def appraisal(p, branch, _):
    by = p.user(SECRETARY[branch])
    session = open_appraisal(p, org=branch, by=by, expected_masses=0)
    for _, code in appraisal_services.slips_issue(
        by=by, appraisal=session, group="member", count=3
    ):
        marks = dict.fromkeys(range(1, session.subjects.count() + 1), 1)
        appraisal_services.ballot_cast(appraisal_id=session.pk, code=code, marks=marks)
    session = appraisal_services.appraisal_close(by=by, appraisal=session)
    appraisal_services.results_decide(
        by=by,
        appraisal=session,
        decisions={
            s.pk: (s.suggested_grade or "pass", "" if s.suggested_grade else "支部委员会认定")
            for s in session.subjects.all()
        },
    )
    appraisal_services.appraisal_publish(by=by, appraisal=session)


ACTIONS = st.one_of(
    st.tuples(st.just(pledge_member), st.sampled_from(MEMBERS), st.booleans()),
    st.tuples(st.just(pledge_org), st.sampled_from(BRANCHES), st.none()),
    st.tuples(
        st.just(evaluate),
        st.sampled_from(MEMBERS),
        st.sampled_from(["fulfilled", "partly", "not_fulfilled"]),
    ),
    st.tuples(st.just(review_member), st.sampled_from(MEMBERS), st.sampled_from(QUARTERS)),
    st.tuples(st.just(review_org), st.sampled_from(BRANCHES), st.sampled_from([1, 2])),
    st.tuples(st.just(exempt_member), st.sampled_from(MEMBERS), st.sampled_from(QUARTERS)),
    st.tuples(st.just(transfer), st.sampled_from(MEMBERS), st.integers(min_value=2, max_value=11)),
    st.tuples(st.just(appraisal), st.sampled_from(BRANCHES), st.none()),
)


def _assert_kept_equal_recomputed_and_totals_add_up():
    periods = figures.periods_of_year(YEAR)
    assert figures.check(periods) == []
    orgs = list(Organization.objects.filter(is_active=True, children__isnull=False).distinct())
    for src in figures.sources():
        for period in (p for p in periods if p.kind == src.period_kind):
            for org in orgs:
                rolled = figures.rollup(src.key, org, period)
                assert rolled.total == figures.subtree_total(src.key, org, period), (
                    src.key,
                    period.slug,
                    org.code,
                )


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(ACTIONS, min_size=1, max_size=8))
def test_kept_figures_equal_a_recompute_after_any_sequence_of_writes(personas, steps):
    # the personas' rows have no figures yet: build them as the nightly rebuild would
    for user in personas.users.values():
        if user is not None:
            forget_grants(user)
    try:
        with transaction.atomic():
            figures.rebuild(figures.periods_of_year(YEAR))
            for action, subject, arg in steps:
                try:
                    with transaction.atomic():
                        action(personas, subject, arg)
                except (ValidationError, PermissionDenied):
                    pass  # refused: nothing written
            _assert_kept_equal_recomputed_and_totals_add_up()
            raise Rolled
    except Rolled:
        pass
