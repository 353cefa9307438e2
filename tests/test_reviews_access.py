"""Who sees which leader reviews: the review form's side panel, the member page, the review page."""

import datetime

import pytest
from django.urls import reverse

from orgs import services as org_services
from orgs.periods import Period
from pledges import services as pledge_services
from reviews import services
from tests.pledge_world import member_pledge_fields
from tests.review_world import TODAY, review_fields

Q4 = Period(2026, "Q", 4)


@pytest.fixture
def moved(world):
    """m1b moves from B1 to B2 in October: B1 still owes the third quarter's review; B2 signs
    the fourth quarter's and m1b drafts a pledge there."""
    m1b = world.members["m1b"]
    org_services.member_transfer(
        by=None, member=m1b, to_org=world.orgs["B2"], on=datetime.date(2026, 10, 5)
    )
    m1b.refresh_from_db()
    sibling = world.user("sibling_branch_secretary")
    review = services.review_create(
        by=sibling, subject_kind="member", subject_member=m1b, period=Q4, today=TODAY,
        **review_fields(achievements="新支部写下的成绩", reviewed_on=datetime.date(2026, 10, 8)),
    )  # fmt: skip
    services.review_sign(by=sibling, review=review)
    pledge_services.pledge_create(
        by=sibling, year=2026, owner_member=m1b,
        **member_pledge_fields(
            kind="immediate", immediate_reason="临时性任务", content="新支部的草稿承诺"
        ),
    )  # fmt: skip
    return m1b


def test_the_former_branch_sees_neither_the_new_branchs_review_nor_its_draft_pledges(
    world, moved, client
):
    client.force_login(world.user("own_branch_secretary"))
    page = client.get(reverse("reviews:write_member", args=[moved.pk, "2026Q3"]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "新支部写下的成绩" not in text
    assert "新支部的草稿承诺" not in text


def test_the_side_panel_shows_what_the_writer_may_see(world, moved, client):
    """The new branch's secretary sees the draft pledge made in her branch."""
    client.force_login(world.user("sibling_branch_secretary"))
    page = client.get(reverse("reviews:write_member", args=[moved.pk, "2026Q4"]))
    assert page.status_code == 200
    assert "新支部的草稿承诺" in page.content.decode()


def test_the_last_review_is_the_one_before_the_period_written(world, client):
    """Writing the third quarter for m1 after a fourth quarter exists shows no later review."""
    own = world.user("own_branch_secretary")
    client.force_login(own)
    page = client.get(reverse("reviews:write_member", args=[world.members["m1b"].pk, "2026Q4"]))
    assert "上次点评" not in page.content.decode()  # m1b has no earlier review
    page = client.get(reverse("reviews:write_member", args=[world.members["m1"].pk, "2026Q4"]))
    assert "上次点评（2026年第三季度）" in page.content.decode()
    page = client.get(reverse("reviews:write_member", args=[world.members["m1"].pk, "2026Q3"]))
    assert "上次点评" not in page.content.decode()


# ---------------------------------------------------------------- the member page (item 21)


@pytest.fixture
def m1b_reviews(world):
    """m1b: a signed third-quarter review and a draft fourth-quarter one, both by B1."""
    own, m1b = world.user("own_branch_secretary"), world.members["m1b"]
    signed = services.review_create(
        by=own, subject_kind="member", subject_member=m1b, period=Period(2026, "Q", 3),
        today=TODAY, **review_fields(achievements="签字的成绩"),
    )  # fmt: skip
    services.review_sign(by=own, review=signed)
    draft = services.review_create(
        by=own, subject_kind="member", subject_member=m1b, period=Q4, today=TODAY,
        **review_fields(achievements="草稿的成绩", reviewed_on=datetime.date(2026, 10, 8)),
    )  # fmt: skip
    return signed, draft


def test_the_secretary_sees_all_of_a_members_reviews_on_the_member_page(world, m1b_reviews, client):
    signed, draft = m1b_reviews
    client.force_login(world.user("own_branch_secretary"))
    text = client.get(reverse("orgs:member_detail", args=[world.members["m1b"].pk])).content
    text = text.decode()
    assert "领导点评" in text
    assert reverse("reviews:detail", args=[signed.pk]) in text
    assert reverse("reviews:detail", args=[draft.pk]) in text
    assert "草稿" in text


def test_a_member_sees_only_the_signed_reviews_of_themselves(world, m1b_reviews, client):
    signed, draft = m1b_reviews
    client.force_login(world.user("member_self"))  # m1b's own login
    text = client.get(reverse("orgs:member_detail", args=[world.members["m1b"].pk])).content
    text = text.decode()
    assert reverse("reviews:detail", args=[signed.pk]) in text
    assert reverse("reviews:detail", args=[draft.pk]) not in text
    assert client.get(reverse("reviews:detail", args=[signed.pk])).status_code == 200
    assert client.get(reverse("reviews:detail", args=[draft.pk])).status_code == 404


# the session, the user, the member, the reader's grants, the member's appraisal entries and
# their sessions, the member's leader reviews (one query however many), the memberships, the
# audit entries
MEMBER_PAGE_QUERIES = 9


def test_the_member_page_costs_the_same_queries_however_many_reviews(
    world, m1b_reviews, client, django_assert_num_queries
):
    client.force_login(world.user("own_branch_secretary"))
    url = reverse("orgs:member_detail", args=[world.members["m1b"].pk])
    with django_assert_num_queries(MEMBER_PAGE_QUERIES):
        client.get(url)
    own = world.user("own_branch_secretary")
    for q in (1, 2):
        review = services.review_create(
            by=own, subject_kind="member", subject_member=world.members["m1b"],
            period=Period(2026, "Q", q), today=TODAY,
            **review_fields(reviewed_on=datetime.date(2026, 3 * q - 1, 1)),
        )  # fmt: skip
        services.review_sign(by=own, review=review)
    with django_assert_num_queries(MEMBER_PAGE_QUERIES):
        client.get(url)


def test_the_review_page_links_to_the_member_for_whoever_may_open_it(world, client):
    rm = world.extra["rm"]
    member_url = reverse("orgs:member_detail", args=[world.members["m1"].pk])
    client.force_login(world.user("own_branch_secretary"))
    assert (
        f'href="{member_url}"'
        in client.get(reverse("reviews:detail", args=[rm.pk])).content.decode()
    )
    # T1's secretary reads the review and the member; an office of K1 too
    client.force_login(world.user("office_inside"))
    assert (
        f'href="{member_url}"'
        in client.get(reverse("reviews:detail", args=[rm.pk])).content.decode()
    )


def test_the_review_page_does_not_link_a_member_the_reader_cannot_open(world, client):
    """After m1 moves to another county, B1's secretary still reads her own review of m1 but may
    not open m1's page: the name is not a link."""
    m1 = world.members["m1"]
    org_services.member_transfer(
        by=None, member=m1, to_org=world.orgs["B3"], on=datetime.date(2026, 10, 5)
    )
    client.force_login(world.user("own_branch_secretary"))
    member_url = reverse("orgs:member_detail", args=[m1.pk])
    assert client.get(member_url).status_code == 404
    page = client.get(reverse("reviews:detail", args=[world.extra["rm"].pk]))
    assert page.status_code == 200 and member_url not in page.content.decode()
