import datetime

import pytest
from django.core.exceptions import ValidationError

from orgs import figures
from orgs import services as org_services
from orgs.models import Role
from orgs.periods import Period
from reviews import selectors, services
from reviews.models import LeaderReview, ReviewStatus
from tests.personas import make_member, make_user
from tests.review_world import H1, Q3, TODAY, review_fields

Q2 = Period(2026, "Q", 2)


@pytest.fixture
def own(world):
    return world.user("own_branch_secretary")


@pytest.fixture
def parent(world):
    return world.user("parent_committee_secretary")


def messages_of(info) -> str:
    return " ".join(info.value.messages)


def review_member(by, member, period=Q3, **extra):
    return services.review_create(
        by=by,
        subject_kind="member",
        subject_member=member,
        period=period,
        today=TODAY,
        **review_fields(**extra),
    )


def test_periods():
    assert (Q3.start, Q3.end, Q3.label) == (
        datetime.date(2026, 7, 1),
        datetime.date(2026, 9, 30),
        "2026年第三季度",
    )
    assert (H1.end, Period.parse("2026H2").label) == (datetime.date(2026, 6, 30), "2026年下半年")
    assert Period(2026, "Q", 1).previous() == Period(2025, "Q", 4)
    with pytest.raises(ValueError):
        Period.parse("2026Q5")


def test_the_roll_at_the_quarters_end_decides_who_owes_the_review(world, own):
    m1 = world.members["m1"]
    org_services.member_transfer(
        by=None, member=m1, to_org=world.orgs["B2"], on=datetime.date(2026, 8, 15)
    )
    q3_b1 = [r.subject for r in selectors.branch_quarter(branch=world.orgs["B1"], period=Q3)]
    q3_b2 = [r.subject for r in selectors.branch_quarter(branch=world.orgs["B2"], period=Q3)]
    q2_b1 = [r.subject for r in selectors.branch_quarter(branch=world.orgs["B1"], period=Q2)]
    assert m1 not in q3_b1 and m1 in q3_b2 and m1 in q2_b1
    with pytest.raises(ValidationError):
        review_member(own, m1, period=Period(2026, "Q", 4))  # B2 owes it now
    sibling = world.user("sibling_branch_secretary")
    assert review_member(sibling, m1, period=Q3).org == world.orgs["B2"]
    assert review_member(own, m1, period=Q2).org == world.orgs["B1"]


@pytest.mark.parametrize(
    ("moved_on", "still_owed"),
    [(datetime.date(2026, 9, 25), False), (datetime.date(2026, 10, 5), True)],
)
def test_a_draft_is_edited_and_signed_only_while_its_branch_owes_it(
    world, own, moved_on, still_owed
):
    m1b = world.members["m1b"]
    draft = review_member(own, m1b)  # B1's draft for the third quarter
    org_services.member_transfer(by=None, member=m1b, to_org=world.orgs["B2"], on=moved_on)
    if still_owed:  # moved after the quarter's end: B1 still owes the third quarter
        services.review_update(by=own, review=draft, direction="继续加强学习")
        assert services.review_sign(by=own, review=draft).status == ReviewStatus.SIGNED
        return
    for change in (
        lambda: services.review_update(by=own, review=draft, direction="继续加强学习"),
        lambda: services.review_sign(by=own, review=draft),
    ):
        with pytest.raises(ValidationError) as info:
            change()
        assert "已转至“组织B2”" in messages_of(info) and "不能再修改、签字" in messages_of(info)
    draft.refresh_from_db()
    assert (draft.status, draft.direction) == (ReviewStatus.DRAFT, "加强理论学习")
    sibling = world.user("sibling_branch_secretary")
    assert review_member(sibling, m1b).org == world.orgs["B2"]  # the branch that owes it now


def test_a_signed_review_of_a_member_moved_within_its_quarter_is_not_corrected(world, own):
    rm = world.extra["rm"]  # B1's signed review of m1 for the third quarter
    org_services.member_transfer(
        by=None, member=world.members["m1"], to_org=world.orgs["B2"], on=datetime.date(2026, 9, 25)
    )
    with pytest.raises(ValidationError) as info:
        services.review_correct(by=own, review=rm)
    assert "不能再修改、签字或更正" in messages_of(info)
    rm.refresh_from_db()
    assert rm.status == ReviewStatus.SIGNED and not LeaderReview.objects.filter(previous=rm)


def test_members_quarterly_organisations_half_yearly(world, own, parent):
    with pytest.raises(ValidationError) as info:
        review_member(own, world.members["m1b"], period=H1)
    assert "按季度" in messages_of(info)
    with pytest.raises(ValidationError) as info:
        services.review_create(
            by=parent,
            subject_kind="org",
            subject_org=world.orgs["B2"],
            period=Q3,
            today=TODAY,
            **review_fields(),
        )
    assert "按半年" in messages_of(info)


def test_who_may_review(world, own, parent):
    with pytest.raises(ValidationError):
        review_member(parent, world.members["m1b"])  # members are the branch's
    with pytest.raises(ValidationError):
        review_member(world.user("sibling_branch_secretary"), world.members["m1b"])
    with pytest.raises(ValidationError):
        services.review_create(
            by=world.user("unrelated_committee_secretary"), subject_kind="org", subject_org=world.orgs["B2"],
            period=H1, today=TODAY, **review_fields(),
        )  # fmt: skip
    with pytest.raises(ValidationError) as info:
        review_member(own, world.extra["secretary"])
    assert "不能点评本人" in messages_of(info)
    review = services.review_create(
        by=parent,
        subject_kind="secretary",
        subject_org=world.orgs["B1"],
        period=H1,
        today=TODAY,
        **review_fields(),
    )
    assert review.subject_member == world.extra["secretary"]
    assert review.reviewer_name and review.reviewer_post.endswith("书记")


def test_office_makes_random_reviews_only(world):
    office = world.user("office_inside")
    with pytest.raises(ValidationError):
        services.review_create(
            by=office,
            subject_kind="org",
            subject_org=world.orgs["B2"],
            period=H1,
            today=TODAY,
            **review_fields(),
        )
    review = services.review_create(
        by=office, subject_kind="org", subject_org=world.orgs["B2"], period=H1, today=TODAY,
        **review_fields(method="random"),
    )  # fmt: skip
    assert review.reviewer_org == world.orgs["K1"]


def test_empty_parts_and_future_dates_are_refused(world, own):
    with pytest.raises(ValidationError) as info:
        review_member(own, world.members["m1b"], shortcomings=" ")
    assert "请填写“不足”" in messages_of(info)
    with pytest.raises(ValidationError):
        review_member(own, world.members["m1b"], reviewed_on=TODAY + datetime.timedelta(days=1))


def test_signed_review_is_locked_and_corrected_by_a_new_version(world, own):
    rm = world.extra["rm"]
    with pytest.raises(ValidationError) as info:
        services.review_update(by=own, review=rm, direction="改", today=TODAY)
    assert "签字，不能再修改" in messages_of(info)
    fix = services.review_correct(by=own, review=rm)
    assert (fix.version, fix.previous, fix.status) == (2, rm, ReviewStatus.DRAFT)
    with pytest.raises(ValidationError):
        services.review_correct(by=own, review=rm)
    services.review_update(by=own, review=fix, direction="每月集中学习一次", today=TODAY)
    services.review_sign(by=own, review=fix)
    rm.refresh_from_db()
    assert rm.status == ReviewStatus.SUPERSEDED and rm.direction == "加强理论学习"
    assert fix.events.filter(action="update").get().changes == {
        "direction": ["加强理论学习", "每月集中学习一次"]
    }
    cover = selectors.coverage(root=world.orgs["B1"], quarter=Q3)["total"]
    assert cover.members_reviewed == 1


def test_only_the_reviewer_signs(world, own):
    with pytest.raises(ValidationError):
        services.review_sign(by=own, review=world.extra["ro"])


def test_rectification_items(world, own, parent):
    rm, item = world.extra["rm"], world.extra["item"]
    with pytest.raises(ValidationError):
        services.rectification_issue(
            by=own,
            review=world.extra["ro"],
            requirement="x",
            deadline=datetime.date(2026, 12, 1),
            today=TODAY,
        )
    with pytest.raises(ValidationError):
        services.rectification_issue(
            by=own, review=rm, requirement="x", deadline=TODAY, today=TODAY
        )
    with pytest.raises(ValidationError):
        services.rectification_close(by=own, rectification=item)  # nothing reported yet
    with pytest.raises(ValidationError):
        services.rectification_report(by=parent, rectification=item, response="已学习")
    services.rectification_report(by=own, rectification=item, response="已参加三次学习")
    with pytest.raises(ValidationError):
        services.rectification_close(by=parent, rectification=item)
    services.rectification_close(by=own, rectification=item)
    services.rectification_close(by=own, rectification=item, reopen=True)
    item.refresh_from_db()
    assert item.status == "open"
    assert [e.action for e in rm.events.all()][-4:] == [
        "rectify",
        "rectify_report",
        "rectify_close",
        "rectify_reopen",
    ]


def test_exemption_by_the_reviewers_parent(world, own, parent):
    m1b = world.members["m1b"]
    with pytest.raises(ValidationError):
        services.exemption_grant(
            by=own, period=Q3, subject_kind="member", subject_member=m1b, reason="病休"
        )
    with pytest.raises(ValidationError):
        services.exemption_grant(
            by=parent, period=Q3, subject_kind="member", subject_member=m1b, reason=" "
        )
    services.exemption_grant(
        by=parent, period=Q3, subject_kind="member", subject_member=m1b, reason="长期病休"
    )
    with pytest.raises(ValidationError):
        services.exemption_grant(
            by=parent, period=Q3, subject_kind="member", subject_member=m1b, reason="again"
        )
    states = {
        r.subject: r.state for r in selectors.branch_quarter(branch=world.orgs["B1"], period=Q3)
    }
    assert states[m1b] == "exempt" and states[world.members["m1"]] == "signed"
    cover = selectors.coverage(root=world.orgs["B1"], quarter=Q3)["total"]
    assert (cover.members_owed, cover.members_reviewed) == (1, 1)  # m1; m1b exempt, secretary apart


def test_random_draw_is_reproducible_from_its_seed(world, parent):
    for i in range(6):
        make_member(world.orgs["B2"], f"x{i}", birth_date=datetime.date(1960, 1, 1))
    draw = services.random_draw(by=parent, scope=world.orgs["T1"], size=1, seed="abc")
    again = services.random_draw(by=parent, scope=world.orgs["T1"], size=1, seed="abc")
    assert draw.picked == again.picked and services.draw_verify(draw)
    with pytest.raises(ValidationError):
        services.random_draw(by=parent, scope=world.orgs["T1"], size=5)
    with pytest.raises(ValidationError):
        services.random_draw(
            by=world.user("unrelated_committee_secretary"), scope=world.orgs["T1"], size=1
        )
    assert len(services.random_draw(by=parent, scope=world.orgs["T1"], size=2).seed) == 16


def test_coverage_counts_both_coverages_and_the_reviewers(world, parent):
    # the world's organisations were made today: the figures of an earlier quarter that an
    # organisation change alters are the nightly rebuild's
    figures.rebuild([Q2, Q3], keys={"reviews"})
    cover = selectors.coverage(root=world.orgs["T1"], quarter=Q3)
    total = cover["total"]
    assert (total.members_owed, total.members_reviewed) == (3, 1)  # B1: m1, m1b; B2: m2
    # the second half-year: B1, B2 and T1 itself (K1 reviews it); B1's secretary
    assert (total.orgs_owed, total.orgs_reviewed, total.secretaries_owed) == (3, 0, 1)
    assert (total.reviewers_owed, total.reviewers_done) == (3, 0)  # B1, B2 and T1 itself
    by_child = {c.org.code: (c.members_owed, c.members_reviewed) for c in cover["children"]}
    assert by_child == {"B1": (2, 1), "B2": (1, 0)}  # B1's secretary is reviewed half-yearly
    first_half = selectors.coverage(root=world.orgs["T1"], quarter=Q2)["total"]
    assert (first_half.orgs_owed, first_half.orgs_reviewed) == (3, 0)
    services.review_sign(by=parent, review=world.extra["ro"])
    assert selectors.coverage(root=world.orgs["T1"], quarter=Q2)["total"].orgs_reviewed == 1


# the root's children, the children's summed figures, the root's own figures, the reviewers
# with gaps, their names
COVERAGE_QUERIES = 5


def test_coverage_costs_a_fixed_number_of_queries(world, django_assert_num_queries):
    k1 = world.orgs["K1"]
    with django_assert_num_queries(COVERAGE_QUERIES):
        selectors.coverage(root=k1, quarter=Q3)
    deputy = make_user("dep", Role.DEPUTY, world.orgs["B2"])
    for i in range(30):
        member = make_member(
            world.orgs["B2"], f"成员{i}", birth_date=datetime.date(1950 + i % 20, 1, 1)
        )
        services.review_sign(by=deputy, review=review_member(deputy, member))
    with django_assert_num_queries(COVERAGE_QUERIES):
        total = selectors.coverage(root=k1, quarter=Q3)["total"]
    assert total.members_reviewed == 31


def test_branch_quarter_costs_a_fixed_number_of_queries(world, django_assert_num_queries):
    with django_assert_num_queries(4):  # roll, reviews, exemptions, last quarter's reviews
        rows = selectors.branch_quarter(branch=world.orgs["B1"], period=Q3)
    assert {r.state for r in rows} == {"missing", "signed"}
    assert LeaderReview.objects.count() == 2


# ---------------------------------------------------------------- guards found in review


def test_a_correction_in_progress_does_not_hide_the_signed_review(world, own):
    services.review_correct(by=own, review=world.extra["rm"])
    states = {
        r.subject: r.state for r in selectors.branch_quarter(branch=world.orgs["B1"], period=Q3)
    }
    assert states[world.members["m1"]] == "signed"
    assert world.members["m1"] not in selectors.missing_members(branch=world.orgs["B1"], period=Q3)


def test_one_live_review_per_subject_period_and_reviewer(world, own):
    with pytest.raises(ValidationError) as info:
        review_member(own, world.members["m1"])
    assert "已有对该对象的点评" in messages_of(info)


def test_exemption_and_review_exclude_each_other(world, own, parent):
    with pytest.raises(ValidationError) as info:
        services.exemption_grant(
            by=parent,
            period=Q3,
            subject_kind="member",
            subject_member=world.members["m1"],
            reason="病休",
        )
    assert "已有点评" in messages_of(info)
    services.exemption_grant(
        by=parent,
        period=Q3,
        subject_kind="member",
        subject_member=world.members["m1b"],
        reason="病休",
    )
    with pytest.raises(ValidationError) as info:
        review_member(own, world.members["m1b"])
    assert "免予点评" in messages_of(info)


def test_exemption_period_must_fit_the_subject_and_have_begun(world, parent):
    m1b = world.members["m1b"]
    with pytest.raises(ValidationError):
        services.exemption_grant(
            by=parent, period=H1, subject_kind="member", subject_member=m1b, reason="病休"
        )
    with pytest.raises(ValidationError):
        services.exemption_grant(
            by=parent,
            period=Period(2030, "Q", 1),
            subject_kind="member",
            subject_member=m1b,
            reason="病休",
        )


def test_only_the_parents_review_meets_the_organisations_obligation(world, parent):
    county = make_user("county", Role.SECRETARY, world.orgs["K1"])
    extra = services.review_create(
        by=county,
        subject_kind="org",
        subject_org=world.orgs["B2"],
        period=H1,
        today=TODAY,
        **review_fields(),
    )
    services.review_sign(by=county, review=extra)
    assert selectors.coverage(root=world.orgs["T1"], quarter=Q2)["total"].orgs_reviewed == 0


def test_a_reviewer_who_left_the_post_can_no_longer_sign(world, parent):
    org_services.role_revoke(by=None, user=parent, org=world.orgs["T1"], role=Role.SECRETARY)
    with pytest.raises(ValidationError) as info:
        services.review_sign(by=parent, review=world.extra["ro"])
    assert "仍在任" in messages_of(info)


def test_review_date_lies_within_the_period(world, own):
    with pytest.raises(ValidationError) as info:
        review_member(own, world.members["m1b"], reviewed_on=datetime.date(2026, 6, 30))
    assert "开始之后" in messages_of(info)


def test_a_draw_stays_verifiable_after_the_tree_changes(world, parent):
    from orgs.models import OrgKind
    from tests.personas import make_org

    draw = services.random_draw(by=parent, scope=world.orgs["T1"], size=1, seed="pinned")
    assert draw.candidates == sorted([world.orgs["B1"].pk, world.orgs["B2"].pk])
    make_org("B7", OrgKind.BRANCH, world.orgs["T1"])
    draw.refresh_from_db()
    assert services.draw_verify(draw)
    assert draw.picked == services.draw_sample(draw.candidates, 1, "pinned")
    draw.picked = [p for p in draw.candidates if p not in draw.picked]
    assert not services.draw_verify(draw)


def test_the_branch_that_owes_a_moved_members_review_can_still_write_it(world, client):
    m1b = world.members["m1b"]
    org_services.member_transfer(
        by=None, member=m1b, to_org=world.orgs["B2"], on=datetime.date(2026, 10, 5)
    )
    client.force_login(world.user("own_branch_secretary"))
    from django.urls import reverse

    assert client.get(reverse("reviews:write_member", args=[m1b.pk, "2026Q3"])).status_code == 200
    assert client.get(reverse("reviews:write_member", args=[m1b.pk, "2026Q4"])).status_code == 404


def test_a_linked_leader_reviews_their_contact_point_at_any_time(world, client):
    from django.urls import reverse

    leader = make_user("linked", Role.CONTACT, world.orgs["B2"])
    client.force_login(leader)
    assert client.get(reverse("orgs:detail", args=[world.orgs["B2"].pk])).status_code == 200
    assert client.get(reverse("orgs:detail", args=[world.orgs["B1"].pk])).status_code == 404
    review = services.review_create(
        by=leader, subject_kind="org", subject_org=world.orgs["B2"], period=H1, today=TODAY,
        **review_fields(method="onsite"),
    )  # fmt: skip
    services.review_sign(by=leader, review=review)
    assert review.reviewer_post == "组织B2联系点领导"
    assert selectors.coverage(root=world.orgs["T1"], quarter=Q2)["total"].orgs_reviewed == 0
    with pytest.raises(ValidationError):
        services.review_create(
            by=leader,
            subject_kind="org",
            subject_org=world.orgs["B1"],
            period=H1,
            today=TODAY,
            **review_fields(),
        )


def test_an_exemption_is_for_a_quarter_or_a_half_year_never_a_whole_year(world, parent, client):
    """Members are exempted by quarter, organisations by half-year; a year period is neither."""
    b1 = world.orgs["B1"]
    with pytest.raises(ValidationError):
        services.exemption_grant(
            by=parent, period=Period.whole_year(2025), subject_kind="org", subject_org=b1,
            reason="撤销合并",
        )  # fmt: skip
    client.force_login(parent)
    url = f"/reviews/exempt/org/{b1.pk}/2025Y1/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "撤销合并"}).status_code == 404
    from reviews.models import Exemption

    assert not Exemption.objects.filter(period_kind="Y").exists()
