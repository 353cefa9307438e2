"""One live review per period, subject and reviewing organisation — in the database too."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from reviews import services
from reviews.models import LeaderReview, ReviewStatus
from tests.personas import build_personas
from tests.review_world import Q3, TODAY, review_fields


def _copy(review: LeaderReview, **changes) -> LeaderReview:
    """A second row for the same subject, written past the service."""
    copy = LeaderReview.objects.get(pk=review.pk)
    copy.pk = copy.id = None
    for name, value in changes.items():
        setattr(copy, name, value)
    copy.save()
    return copy


def test_the_database_refuses_a_second_live_review_of_a_member(world):
    rm = world.extra["rm"]  # signed
    with pytest.raises(IntegrityError), transaction.atomic():
        _copy(rm, status=ReviewStatus.DRAFT, signed_at=None)


def test_the_database_refuses_a_second_live_review_of_an_organisation(world):
    ro = world.extra["ro"]  # draft
    with pytest.raises(IntegrityError), transaction.atomic():
        _copy(ro)


def test_corrections_and_superseded_versions_are_not_second_reviews(world):
    own, rm = world.user("own_branch_secretary"), world.extra["rm"]
    correction = services.review_correct(by=own, review=rm)  # version 2 beside the signed one
    services.review_sign(by=own, review=correction)
    rm.refresh_from_db()
    assert rm.status == ReviewStatus.SUPERSEDED
    ro = world.extra["ro"]
    _copy(ro, status=ReviewStatus.SUPERSEDED)  # a retired version never collides
    other_branch = _copy(rm, status=ReviewStatus.SIGNED, reviewer_org=world.orgs["B2"])
    assert other_branch.pk  # another reviewing organisation is another review


def test_a_review_written_between_the_check_and_the_insert_gets_the_services_message(
    world, monkeypatch
):
    """As if a simultaneous request saved its review after this one checked: the database
    refuses, and the service answers with the same message as its own check."""
    own, m1b = world.user("own_branch_secretary"), world.members["m1b"]
    real = services._exemption_for

    def meanwhile(*args):
        monkeypatch.setattr(services, "_exemption_for", real)
        services.review_create(
            by=own, subject_kind="member", subject_member=m1b, period=Q3, today=TODAY,
            **review_fields(),
        )  # fmt: skip
        return real(*args)

    monkeypatch.setattr(services, "_exemption_for", meanwhile)
    with pytest.raises(ValidationError) as info:
        services.review_create(
            by=own, subject_kind="member", subject_member=m1b, period=Q3, today=TODAY,
            **review_fields(achievements="第二次提交"),
        )  # fmt: skip
    assert "已有对该对象的点评" in " ".join(info.value.messages)
    assert services._exemption_for is real  # the refusal came after the other review was saved


# ---------------------------------------------------------------- concurrency (PostgreSQL)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_requests_make_one_review(monkeypatch):
    """Both requests pass the service's check before either saves (a barrier holds them there);
    the database lets one review in and the other request gets the service's message."""
    p = build_personas()
    from orgs import services as org_services
    from tests.personas import make_member

    own = p.user("own_branch_secretary")
    secretary = make_member(p.orgs["B1"], "王书记")
    org_services.member_update(by=None, member=secretary, user=own)
    member = p.members["m1"]
    real = services._exemption_for
    checked = threading.Barrier(2)

    def after_the_check(*args):
        checked.wait(timeout=10)
        return real(*args)

    monkeypatch.setattr(services, "_exemption_for", after_the_check)
    start = threading.Barrier(2)
    outcomes = [None, None]

    def request(i):
        try:
            start.wait()
            services.review_create(
                by=own, subject_kind="member", subject_member=member, period=Q3, today=TODAY,
                **review_fields(achievements=f"第{i}次"),
            )  # fmt: skip
            outcomes[i] = "ok"
        except ValidationError as error:
            outcomes[i] = error.messages[0]
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str)[1] == "ok" and outcomes.count("ok") == 1, outcomes
    assert any("已有对该对象的点评" in str(o) for o in outcomes)
    assert LeaderReview.objects.filter(subject_member=member).count() == 1
