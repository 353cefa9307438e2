import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from orgs import services as org_services
from orgs.periods import Period
from reviews import services
from reviews.models import LeaderReview, ReviewStatus
from tests.review_world import TODAY, review_fields


@pytest.fixture
def as_user(client, world):
    def login(persona):
        client.force_login(world.user(persona))
        return client

    return login


def test_quarter_page_lists_members_with_their_state(as_user, world):
    page = as_user("own_branch_secretary").get(
        reverse("reviews:quarter", args=[world.orgs["B1"].pk, "2026Q3"])
    )
    text = page.content.decode()
    assert "李一" in text and "已点评" in text and "未点评" in text


def test_bad_period_is_404(as_user, world):
    client = as_user("own_branch_secretary")
    for slug in ("2026Q5", "2026H1", "abc", "1999Q1"):
        assert (
            client.get(reverse("reviews:quarter", args=[world.orgs["B1"].pk, slug])).status_code
            == 404
        )


def test_the_first_and_last_campaign_periods_open_without_a_link_beyond_them(as_user, world):
    client = as_user("own_branch_secretary")
    b1 = world.orgs["B1"].pk
    for name, slug, gone, kept in [
        ("reviews:quarter", "2000Q1", "2000Q2", "1999Q4"),
        ("reviews:quarter", "2100Q4", "2100Q3", "2101Q1"),
        ("reviews:coverage", "2000Q1", "2000Q2", "1999Q4"),
        ("reviews:half", "2100H2", "2100H1", "2101H1"),
    ]:
        page = client.get(reverse(name, args=[b1, slug]))
        assert page.status_code == 200, slug
        text = page.content.decode()
        assert reverse(name, args=[b1, gone]) in text  # the neighbour inside the years
        assert f"/{kept}/" not in text  # no link to a period outside them


def test_writing_a_review_keeps_input_on_error_then_signs(as_user, world):
    client = as_user("own_branch_secretary")
    m1b = world.members["m1b"]
    url = reverse("reviews:write_member", args=[m1b.pk, "2026Q3"])
    data = {"method": "individual", "reviewed_on": "2026-09-20", "achievements": "积极参加志愿服务",
            "shortcomings": "", "direction": "加强学习"}  # fmt: skip
    response = client.post(url, data)
    assert "积极参加志愿服务" in response.content.decode()
    assert not LeaderReview.objects.filter(subject_member=m1b).exists()
    response = client.post(url, data | {"shortcomings": "发言不多"})
    review = LeaderReview.objects.get(subject_member=m1b)
    assert response["Location"] == reverse("reviews:detail", args=[review.pk])
    client.post(reverse("reviews:sign", args=[review.pk]))
    review.refresh_from_db()
    assert review.status == ReviewStatus.SIGNED
    response = client.get(reverse("reviews:edit", args=[review.pk]))
    assert response.status_code == 403


def test_a_draft_the_branch_no_longer_owes_is_read_but_not_edited_or_signed(as_user, world):
    m1b = world.members["m1b"]
    own = world.user("own_branch_secretary")
    draft = services.review_create(
        by=own, subject_kind="member", subject_member=m1b, period=Period(2026, "Q", 3),
        today=TODAY, **review_fields(),
    )  # fmt: skip
    org_services.member_transfer(
        by=None, member=m1b, to_org=world.orgs["B2"], on=datetime.date(2026, 9, 25)
    )
    client = as_user("own_branch_secretary")
    detail = reverse("reviews:detail", args=[draft.pk])
    page = client.get(detail)
    text = page.content.decode()
    assert page.status_code == 200 and "带头走访群众" in text and "已转至“组织B2”" in text
    assert reverse("reviews:edit", args=[draft.pk]) not in text
    assert reverse("reviews:sign", args=[draft.pk]) not in text
    response = client.get(reverse("reviews:edit", args=[draft.pk]))
    assert response.status_code == 403 and "已转至“组织B2”" in response.content.decode()
    response = client.post(reverse("reviews:sign", args=[draft.pk]), follow=True)
    assert response.redirect_chain == [(detail, 302)]
    assert "不能再修改、签字或更正" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == ReviewStatus.DRAFT


def test_previous_review_and_pledges_are_shown_beside_the_form(as_user, world):
    client = as_user("own_branch_secretary")
    page = client.get(reverse("reviews:write_member", args=[world.members["m1"].pk, "2026Q4"]))
    text = page.content.decode()
    assert "上次点评（2026年第三季度）" in text and "加强理论学习" in text
    assert "本年度公开承诺" in text and "每月走访困难群众一次" in text


def test_coverage_page_drills_down(as_user, world):
    page = as_user("parent_committee_secretary").get(
        reverse("reviews:coverage", args=[world.orgs["T1"].pk, "2026Q3"])
    )
    text = page.content.decode()
    assert "组织B1" in text and "1 / 3" in text


def test_draw_page_shows_the_verifiable_result(as_user, world):
    page = as_user("parent_committee_secretary").get(
        reverse("reviews:draw_detail", args=[world.extra["draw"].pk])
    )
    assert "结果一致" in page.content.decode()


# ---------------------------------------------------------------- every POST through a form


def test_a_rectification_report_longer_than_its_form_allows_is_refused(world, client):
    """The report goes through its form: 2,000 characters at most, the field named, the text
    kept on the page, nothing saved."""
    item = world.extra["item"]
    client.force_login(world.user("own_branch_secretary"))
    url = reverse("reviews:item_update", args=[item.pk])
    field = f"item{item.pk}-response"
    long = "改" * 100_000  # under both names, so a view reading the raw field would store it
    response = client.post(url, {"action": "report", field: long, "response": long})
    item.refresh_from_db()
    assert (item.response, item.status) == ("", "open")
    text = response.content.decode()
    assert response.status_code == 200 and "整改情况：" in text and "2000" in text
    assert "改" * 3000 in text  # what was typed is kept
    response = client.post(url, {"action": "report", field: "已参加两次集中学习"})
    item.refresh_from_db()
    assert (item.response, item.status) == ("已参加两次集中学习", "reported")


def test_a_blank_rectification_report_names_the_field(world, client):
    item = world.extra["item"]
    client.force_login(world.user("own_branch_secretary"))
    response = client.post(
        reverse("reviews:item_update", args=[item.pk]),
        {"action": "report", f"item{item.pk}-response": "   "},
    )
    item.refresh_from_db()
    assert item.status == "open" and "整改情况：" in response.content.decode()


def test_a_rectification_item_too_long_is_refused_with_its_field_named(world, client):
    rm = world.extra["rm"]
    client.force_login(world.user("own_branch_secretary"))
    response = client.post(
        reverse("reviews:item_add", args=[rm.pk]),
        {"requirement": "学" * 600, "deadline": "2026-12-31"},
    )
    assert rm.items.count() == 1
    text = response.content.decode()
    assert "整改事项：" in text and "学" * 600 in text


def test_a_signed_review_the_branch_no_longer_owes_offers_no_correction_or_new_item(as_user, world):
    """The buttons follow the service's rule: the former branch neither corrects the review
    nor adds a rectification item to it, and a forged POST is refused with the same message."""
    rm = world.extra["rm"]  # own's signed review of m1 for 2026Q3, one item
    client = as_user("own_branch_secretary")
    detail = reverse("reviews:detail", args=[rm.pk])
    text = client.get(detail).content.decode()
    assert reverse("reviews:correct", args=[rm.pk]) in text
    assert reverse("reviews:item_add", args=[rm.pk]) in text
    org_services.member_transfer(
        by=None, member=world.members["m1"], to_org=world.orgs["B2"], on=datetime.date(2026, 9, 25)
    )
    page = client.get(detail)
    text = page.content.decode()
    assert page.status_code == 200 and "带头走访群众" in text and "已转至“组织B2”" in text
    assert reverse("reviews:correct", args=[rm.pk]) not in text
    assert reverse("reviews:item_add", args=[rm.pk]) not in text
    response = client.post(
        reverse("reviews:item_add", args=[rm.pk]),
        {"requirement": "补交学习笔记", "deadline": "2026-12-31"},
        follow=True,
    )
    assert response.redirect_chain == [(detail, 302)]
    assert "不能再修改、签字或更正" in response.content.decode()
    assert rm.items.count() == 1
    with pytest.raises(ValidationError) as info:
        services.rectification_issue(
            by=world.user("own_branch_secretary"), review=rm, requirement="补交学习笔记",
            deadline=datetime.date(2026, 12, 31), today=TODAY,
        )  # fmt: skip
    assert "已转至“组织B2”" in " ".join(info.value.messages)
