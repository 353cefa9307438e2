import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from orgs import services as org_services
from orgs.models import OrgKind, Role, Sector
from pledges import letters, selectors, services
from pledges.models import EvaluationResult, Pledge, PledgeEvent, PledgeStatus, Progress
from tests.personas import make_member, make_org, make_user
from tests.pledge_world import PNG, YEAR, force, member_pledge_fields, org_pledge_fields

IN_WINDOW = datetime.date(YEAR, 2, 1)
AFTER_WINDOW = datetime.date(YEAR, 5, 1)


@pytest.fixture
def own(world):
    return world.user("own_branch_secretary")


@pytest.fixture
def parent(world):
    return world.user("parent_committee_secretary")


def draft(world, by, **extra):
    return services.pledge_create(
        by=by, year=YEAR, owner_member=world.members["m1b"], **member_pledge_fields(**extra)
    )


def messages_of(info) -> str:
    return " ".join(info.value.messages)


# ---------------------------------------------------------------- 提诺 and the window


def test_annual_pledge_outside_the_window_is_refused_with_its_dates(world, own):
    pledge = draft(world, own)
    with pytest.raises(ValidationError) as info:
        services.pledge_submit(by=own, pledge=pledge, today=AFTER_WINDOW)
    assert "2026年01月01日至2026年03月31日" in messages_of(info)
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.DRAFT


def test_immediate_pledge_may_be_submitted_any_time(world, own):
    pledge = draft(world, own, kind="immediate", immediate_reason="emergency")
    services.pledge_submit(by=own, pledge=pledge, today=AFTER_WINDOW)
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.SUBMITTED


def test_immediate_pledge_needs_its_reason(world, own):
    with pytest.raises(ValidationError) as info:
        draft(world, own, kind="immediate")
    assert "即时承诺请注明起因" in messages_of(info)


def test_office_sets_a_window_that_the_nearest_ancestor_decides(world, own):
    office = world.user("office_inside")
    services.window_set(
        by=office, org=world.orgs["K1"], year=YEAR,
        start=datetime.date(YEAR, 1, 1), end=datetime.date(YEAR, 5, 31),
    )  # fmt: skip
    pledge = draft(world, own)
    services.pledge_submit(by=own, pledge=pledge, today=AFTER_WINDOW)
    assert services.window_for(org=world.orgs["B3"], year=YEAR) == (
        datetime.date(YEAR, 1, 1),
        datetime.date(YEAR, 3, 31),
    )


def test_only_office_staff_set_the_window(world, own):
    with pytest.raises(ValidationError):
        services.window_set(
            by=own, org=world.orgs["B1"], year=YEAR,
            start=datetime.date(YEAR, 1, 1), end=datetime.date(YEAR, 2, 1),
        )  # fmt: skip
    with pytest.raises(ValidationError) as info:
        services.window_set(
            by=world.user("office_inside"), org=world.orgs["K1"], year=YEAR,
            start=datetime.date(YEAR, 3, 1), end=datetime.date(YEAR, 2, 1),
        )  # fmt: skip
    assert "截止日期不能早于开始日期" in messages_of(info)


def test_oral_pledge_only_for_flagged_members_and_recorded_by_the_secretary(world, own):
    with pytest.raises(ValidationError) as info:
        draft(world, own, is_oral=True)
    assert "不能口头承诺" in messages_of(info)
    org_services.member_update(by=None, member=world.members["m1b"], is_elderly_infirm=True)
    with pytest.raises(ValidationError) as info:
        draft(world, world.user("member_self"), is_oral=True)
    assert "由支部书记代为记录" in messages_of(info)
    pledge = draft(world, own, is_oral=True)
    assert pledge.is_oral


def test_organisation_pledges_are_never_oral(world, own):
    with pytest.raises(ValidationError):
        services.pledge_create(
            by=own, year=YEAR, owner_org=world.orgs["B1"], is_oral=True, **org_pledge_fields()
        )


def test_member_may_pledge_for_themselves_but_not_for_others(world):
    me = world.user("member_self")
    assert draft(world, me).owner_member == world.members["m1b"]
    with pytest.raises(ValidationError):
        services.pledge_create(
            by=me, year=YEAR, owner_member=world.members["m1"], **member_pledge_fields()
        )
    with pytest.raises(ValidationError):
        draft(world, world.user("sibling_branch_secretary"))


def test_category_must_fit_the_owner(world, own):
    with pytest.raises(ValidationError) as info:
        draft(world, own, category="policy")
    assert "不是党员承诺的类别" in messages_of(info)


def test_annual_due_date_stays_in_the_year(world, own):
    with pytest.raises(ValidationError) as info:
        draft(world, own, due_date=datetime.date(YEAR + 1, 1, 31))
    assert "年度承诺的完成时限应在2026年之内" in messages_of(info)


def test_community_pledge_of_a_member_in_service(world, own):
    community = make_org("CM1", OrgKind.BRANCH, world.orgs["T1"], Sector.COMMUNITY)
    pledge = draft(world, own, category="community")
    assert pledge.org == world.orgs["B1"]
    communal = services.pledge_create(
        by=own, year=YEAR, owner_member=world.members["m1b"], community_org=community,
        **member_pledge_fields(category="community"),
    )  # fmt: skip
    assert communal.org == community and communal.is_community
    with pytest.raises(ValidationError) as info:
        services.pledge_create(
            by=own, year=YEAR, owner_member=world.members["m1b"], community_org=world.orgs["B2"],
            **member_pledge_fields(),
        )  # fmt: skip
    assert "不是社区党组织" in messages_of(info)
    org_services.member_update(by=None, member=world.members["m1b"], is_retired=True)
    with pytest.raises(ValidationError):
        services.pledge_create(
            by=own, year=YEAR, owner_member=world.members["m1b"], community_org=community,
            **member_pledge_fields(),
        )  # fmt: skip


# ---------------------------------------------------------------- 审诺


def test_return_and_resubmit_keeps_every_round(world, own):
    pledge = draft(world, own)
    services.pledge_submit(by=own, pledge=pledge, today=IN_WINDOW)
    with pytest.raises(ValidationError):
        services.pledge_return(by=own, pledge=pledge, comment=" ")
    services.pledge_return(by=own, pledge=pledge, comment="目标不够具体")
    services.pledge_update(by=own, pledge=pledge, target="走访困难户12户次")
    services.pledge_submit(by=own, pledge=pledge, today=IN_WINDOW)
    services.pledge_approve(by=own, pledge=pledge)
    rounds = list(
        PledgeEvent.objects.filter(pledge=pledge).values_list(
            "action", "from_status", "to_status", "comment"
        )
    )
    assert rounds == [
        ("create", "", "draft", ""),
        ("submit", "draft", "submitted", ""),
        ("return", "submitted", "returned", "目标不够具体"),
        ("update", "", "", ""),
        ("submit", "returned", "submitted", ""),
        ("approve", "submitted", "approved", ""),
    ]


def test_who_vets_what(world, own, parent):
    po = world.extra["po"]
    with pytest.raises(ValidationError):
        services.pledge_approve(by=own, pledge=po)  # its own organisation's pledge
    services.pledge_approve(by=parent, pledge=po)
    member_pledge = draft(world, own)
    services.pledge_submit(by=own, pledge=member_pledge, today=IN_WINDOW)
    with pytest.raises(ValidationError):
        services.pledge_approve(by=parent, pledge=member_pledge)  # members are vetted by the branch
    with pytest.raises(ValidationError):
        services.pledge_approve(by=world.user("office_inside"), pledge=member_pledge)


def test_secretary_does_not_vet_their_own_pledge(world, own):
    mine = services.pledge_create(
        by=own, year=YEAR, owner_member=world.extra["secretary"], **member_pledge_fields()
    )
    services.pledge_submit(by=own, pledge=mine, today=IN_WINDOW)
    with pytest.raises(ValidationError) as info:
        services.pledge_approve(by=own, pledge=mine)
    assert "不能审核本人的承诺" in messages_of(info)
    deputy = make_user("deputy", Role.DEPUTY, world.orgs["B1"])
    services.pledge_approve(by=deputy, pledge=mine)


def test_wrong_state_refusals(world, own, parent):
    pm = world.extra["pm"]
    with pytest.raises(ValidationError):
        services.pledge_submit(by=own, pledge=pm, today=IN_WINDOW)
    with pytest.raises(ValidationError):
        services.pledge_update(by=own, pledge=pm, content="改")
    with pytest.raises(ValidationError):
        services.pledge_publish(by=parent, pledge=world.extra["po"])
    fresh = draft(world, own)
    with pytest.raises(ValidationError):
        services.pledge_approve(by=own, pledge=fresh)
    with pytest.raises(ValidationError) as info:
        services.fulfilment_record(
            by=own, pledge=fresh, year=YEAR, period=1, text="x", status="in_progress"
        )
    assert "审定后才能填报" in messages_of(info)


def test_bulk_approve_is_all_or_nothing(world, own):
    a, b = draft(world, own), draft(world, own, content="另一项")
    for p in (a, b):
        services.pledge_submit(by=own, pledge=p, today=IN_WINDOW)
    force(b, status=PledgeStatus.DRAFT)
    with pytest.raises(ValidationError):
        services.pledge_bulk_approve(by=own, pledges=[a, b])
    assert Pledge.objects.get(pk=a.pk).status == PledgeStatus.SUBMITTED


# ---------------------------------------------------------------- 示诺 and the notice board


def test_public_notice_lists_only_published_pledges(world, parent, own):
    services.pledge_approve(by=parent, pledge=world.extra["po"])
    notice = selectors.public_notice(org=world.orgs["B1"], year=YEAR)
    assert notice["own"] == [] and notice["members"] == [world.extra["pm"]]
    services.pledge_publish(by=own, pledge=world.extra["po"], on=datetime.date(YEAR, 4, 1))
    assert len(selectors.public_notice(org=world.orgs["B1"], year=YEAR)["own"]) == 1


# ---------------------------------------------------------------- 履诺


def test_fulfilment_per_period_updates_progress_and_replaces_the_text(world, own):
    pm = world.extra["pm"]
    services.fulfilment_record(
        by=own, pledge=pm, year=YEAR, period=2, text="走访6户", status=Progress.DONE,
        today=datetime.date(YEAR, 5, 1),
    )  # fmt: skip
    services.fulfilment_record(
        by=own, pledge=pm, year=YEAR, period=2, text="走访12户", status=Progress.DONE,
        today=datetime.date(YEAR, 5, 1),
    )  # fmt: skip
    pm.refresh_from_db()
    assert pm.progress == Progress.DONE
    assert pm.fulfilments.get(period=2).text == "走访12户"
    assert pm.events.filter(action="fulfil").count() == 3


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"period": 3}, "尚未开始"),
        ({"status": "cannot"}, "请说明原因"),
        ({"text": " "}, "请填写兑现情况"),
        ({"files": [SimpleUploadedFile("x.png", b"MZ\x90\x00 not an image")]}, "不是图片"),
        (
            {"files": [SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024))]},
            "超过 5 MB",
        ),
    ],
)
def test_fulfilment_refusals_write_nothing(world, own, kwargs, message):
    pm = world.extra["pm"]
    before = (pm.fulfilments.count(), pm.events.count())
    data = {"year": YEAR, "period": 2, "text": "走访", "status": "in_progress"} | kwargs
    with pytest.raises(ValidationError) as info:
        services.fulfilment_record(by=own, pledge=pm, today=datetime.date(YEAR, 5, 1), **data)
    assert message in messages_of(info)
    assert (pm.fulfilments.count(), pm.events.count()) == before


def test_attachments_are_stored_under_generated_names(world):
    attachment = world.extra["attachment"]
    assert attachment.original_name == "photo.png"
    assert attachment.content_type == "image/png"
    assert "photo" not in attachment.file.name and attachment.file.name.endswith(".png")


def test_members_quarters_and_organisations_half_years(world):
    today = datetime.date(YEAR, 8, 1)
    assert [p.number for p in world.extra["pm"].reporting_periods(today)] == [1, 2, 3]
    assert [p.label for p in world.extra["po"].reporting_periods(today)] == [
        "2026年上半年",
        "2026年下半年",
    ]


# ---------------------------------------------------------------- 督诺


def test_overdue_and_rectification_cycle(world, own):
    pm = world.extra["pm"]
    today = datetime.date(YEAR, 7, 20)
    assert pm in selectors.overdue(user=own, within=None, today=today)
    assert pm not in selectors.overdue(user=world.user("office_outside"), within=None, today=today)
    with pytest.raises(ValidationError) as info:
        services.rectification_issue(
            by=own, pledge=pm, requirement="再次", deadline=datetime.date(YEAR, 9, 1), today=today
        )
    assert "未销号的整改" in messages_of(info)
    item = world.extra["rectification"]
    with pytest.raises(ValidationError):
        services.rectification_close(by=own, rectification=item)  # nothing reported yet
    services.rectification_respond(by=own, rectification=item, response="已补走访4户")
    services.rectification_close(by=own, rectification=item)
    item.refresh_from_db()
    assert item.status == "closed" and item.closed_at
    services.rectification_close(by=own, rectification=item, reopen=True)
    item.refresh_from_db()
    assert item.status == "open"


def test_rectification_needs_an_overdue_pledge(world, parent):
    po = world.extra["po"]
    services.pledge_approve(by=parent, pledge=po)
    with pytest.raises(ValidationError) as info:
        services.rectification_issue(
            by=parent, pledge=po, requirement="x", deadline=datetime.date(YEAR, 9, 1),
            today=datetime.date(YEAR, 5, 1),
        )  # fmt: skip
    assert "超过完成时限" in messages_of(info)


def test_members_and_organisations_without_a_pledge_need_a_catch_up(world, own):
    parent = world.user("parent_committee_secretary")
    members = set(selectors.members_without_pledge(user=parent, within=world.orgs["T1"], year=YEAR))
    assert world.members["m1"] not in members
    assert {world.members["m1b"], world.members["m2"]} <= members
    orgs = set(selectors.orgs_without_pledge(user=parent, within=world.orgs["T1"], year=YEAR))
    assert world.orgs["B1"] in orgs  # its pledge is still awaiting approval
    services.pledge_approve(by=parent, pledge=world.extra["po"])
    assert world.orgs["B1"] not in set(
        selectors.orgs_without_pledge(user=parent, within=world.orgs["T1"], year=YEAR)
    )


# ---------------------------------------------------------------- 评诺 and 再承诺


def test_evaluation_at_year_end(world, own):
    pm = world.extra["pm"]
    with pytest.raises(ValidationError) as info:
        services.pledge_evaluate(
            by=own, pledge=pm, result="fulfilled", remark="", today=datetime.date(YEAR, 9, 1)
        )
    assert "评诺在年底" in messages_of(info)
    with pytest.raises(ValidationError):
        services.pledge_evaluate(
            by=own, pledge=pm, result="partly", remark="", today=datetime.date(YEAR, 12, 5)
        )
    services.pledge_evaluate(
        by=own, pledge=pm, result="partly", remark="完成8次", today=datetime.date(YEAR, 12, 5)
    )
    pm.refresh_from_db()
    assert (pm.status, pm.result) == (PledgeStatus.EVALUATED, EvaluationResult.PARTLY)


def test_repledge_from_a_fulfilled_pledge(world, own):
    pm = world.extra["pm"]
    with pytest.raises(ValidationError):
        services.pledge_repledge(by=own, previous=pm, year=YEAR + 1, **member_pledge_fields())
    force(pm, progress=Progress.DONE)
    follow = services.pledge_repledge(
        by=own, previous=pm, year=YEAR + 1,
        **member_pledge_fields(due_date=datetime.date(YEAR + 1, 6, 30)),
    )  # fmt: skip
    assert follow.previous == pm and follow.owner_member == pm.owner_member
    assert follow.status == PledgeStatus.DRAFT


# ---------------------------------------------------------------- 党组织书记公开承诺书


def test_secretary_pledge_letter_cycle(world, own, parent):
    sp = world.extra["sp"]
    with pytest.raises(ValidationError):
        letters.secretary_pledge_save(by=parent, org=world.orgs["B1"], year=YEAR, content="x")
    with pytest.raises(ValidationError):
        letters.secretary_report_save(by=own, sp=sp, quarter=1, text="x", measures="y")
    letters.secretary_pledge_submit(by=own, sp=sp)
    with pytest.raises(ValidationError):
        letters.secretary_pledge_review(by=own, sp=sp, approve=True, opinion="同意")
    letters.secretary_pledge_review(by=parent, sp=sp, approve=True, opinion="同意")
    sp.refresh_from_db()
    assert sp.status == "approved" and sp.upper_by == parent
    with pytest.raises(ValidationError):
        letters.secretary_report_save(
            by=own, sp=sp, quarter=4, text="x", measures="y", today=datetime.date(YEAR, 5, 1)
        )
    letters.secretary_report_save(
        by=own,
        sp=sp,
        quarter=2,
        text="走访20户",
        measures="6月底前完成",
        today=datetime.date(YEAR, 5, 1),
    )
    assert sp.reports.get().quarter == 2


# ---------------------------------------------------------------- bounded reads


def test_branch_year_page_reads_a_bounded_number_of_queries(world, django_assert_num_queries):
    b1 = world.orgs["B1"]
    own = world.user("own_branch_secretary")
    for i in range(30):
        member = make_member(b1, f"党员{i:02d}", birth_date=datetime.date(1950 + i % 20, 1, 1))
        services.pledge_create(by=own, year=YEAR, owner_member=member, **member_pledge_fields())
    # 5: the branch's member pledges, members' community pledges elsewhere, the members, the
    # organisation's own pledges, the open rectifications
    with django_assert_num_queries(5):
        data = selectors.branch_year(org=b1, year=YEAR, today=datetime.date(YEAR, 7, 20))
    assert data["rows"][0].needs == "overdue"
    assert len(data["rows"]) == 33  # m1, m1b, the secretary and 30 more


def test_a_member_who_moved_keeps_this_years_pledges_in_the_old_branch(world, own):
    pm = world.extra["pm"]
    org_services.member_transfer(
        by=None, member=world.members["m1"], to_org=world.orgs["B2"], on=datetime.date(YEAR, 8, 1)
    )
    rows = selectors.branch_year(org=world.orgs["B1"], year=YEAR, today=datetime.date(YEAR, 9, 1))[
        "rows"
    ]
    moved = next(r for r in rows if r.member == world.members["m1"])
    assert moved.pledges == [pm]
    rows_b2 = selectors.branch_year(
        org=world.orgs["B2"], year=YEAR, today=datetime.date(YEAR, 9, 1)
    )["rows"]
    assert next(r for r in rows_b2 if r.member == world.members["m1"]).pledges == []


# ---------------------------------------------------------------- guards found in review


def test_window_must_lie_within_its_year(world):
    with pytest.raises(ValidationError) as info:
        services.window_set(
            by=world.user("office_inside"), org=world.orgs["K1"], year=YEAR,
            start=datetime.date(YEAR, 1, 1), end=datetime.date(YEAR + 3, 12, 31),
        )  # fmt: skip
    assert "应在2026年之内" in messages_of(info)


def test_the_nearest_window_wins(world):
    office = world.user("office_inside")
    services.window_set(
        by=office, org=world.orgs["K1"], year=YEAR,
        start=datetime.date(YEAR, 1, 1), end=datetime.date(YEAR, 5, 31),
    )  # fmt: skip
    t1_office = make_user("t1_office", Role.OFFICE, world.orgs["T1"])
    services.window_set(
        by=t1_office, org=world.orgs["T1"], year=YEAR,
        start=datetime.date(YEAR, 2, 1), end=datetime.date(YEAR, 2, 28),
    )  # fmt: skip
    assert services.window_for(org=world.orgs["B1"], year=YEAR) == (
        datetime.date(YEAR, 2, 1),
        datetime.date(YEAR, 2, 28),
    )
    assert services.window_for(org=world.orgs["K1"], year=YEAR)[1] == datetime.date(YEAR, 5, 31)


def test_edits_keep_the_old_text_of_every_round(world, own):
    pledge = draft(world, own)
    services.pledge_update(by=own, pledge=pledge, target="走访困难户12户次")
    event = pledge.events.get(action="update")
    assert event.changes == {"target": ["走访12次", "走访困难户12户次"]}
    assert "目标（可衡量）：“走访12次” → “走访困难户12户次”" in event.change_lines


def test_term_pledges_are_for_organisations_and_at_most_five_years(world, own):
    with pytest.raises(ValidationError) as info:
        draft(world, own, kind="term")
    assert "任期承诺只适用于党组织" in messages_of(info)
    with pytest.raises(ValidationError) as info:
        services.pledge_create(
            by=own, year=YEAR, owner_org=world.orgs["B1"],
            **org_pledge_fields(kind="term", due_date=datetime.date(YEAR + 6, 1, 1)),
        )  # fmt: skip
    assert "不超过五年" in messages_of(info)


def test_at_most_five_attachments_a_period(world, own):
    pm = world.extra["pm"]
    files = [SimpleUploadedFile(f"p{i}.png", PNG) for i in range(5)]
    with pytest.raises(ValidationError) as info:  # one is there already
        services.fulfilment_record(
            by=own, pledge=pm, year=YEAR, period=1, text="补充照片", status="in_progress",
            files=files, today=datetime.date(YEAR, 3, 1),
        )  # fmt: skip
    assert "最多 5 个附件" in messages_of(info)
    assert pm.fulfilments.get(period=1).attachments.count() == 1


@pytest.mark.parametrize("persona", ["parent_committee_secretary", "office_inside", "member_self"])
def test_only_the_vetting_secretary_rectifies_evaluates_and_publishes(world, persona):
    pm, user = world.extra["pm"], world.user(persona)
    with pytest.raises(ValidationError):
        services.rectification_issue(
            by=user, pledge=pm, requirement="x", deadline=datetime.date(YEAR, 12, 30),
            today=datetime.date(YEAR, 7, 15),
        )  # fmt: skip
    with pytest.raises(ValidationError):
        services.pledge_evaluate(
            by=user, pledge=pm, result="fulfilled", remark="", today=datetime.date(YEAR, 12, 5)
        )
    approved = draft(world, world.user("own_branch_secretary"))
    force(approved, status=PledgeStatus.APPROVED)
    with pytest.raises(ValidationError):
        services.pledge_publish(by=user, pledge=approved)


def test_nobody_vets_their_own_organisations_pledge(world):
    both = make_user("both", Role.SECRETARY, world.orgs["T1"])
    org_services.role_grant(by=None, user=both, org=world.orgs["B1"], role=Role.SECRETARY)
    with pytest.raises(ValidationError):
        services.pledge_approve(by=both, pledge=world.extra["po"])


def test_repledge_needs_a_fulfilled_result_when_there_is_one(world, own):
    pm = force(
        world.extra["pm"], progress=Progress.DONE, result="not_fulfilled", status="evaluated"
    )
    with pytest.raises(ValidationError):
        services.pledge_repledge(by=own, previous=pm, year=YEAR + 1, **member_pledge_fields())


def test_community_pledge_stays_in_reach_of_the_home_branch(world, own):
    from pledges import access

    community = make_org("CM2", OrgKind.BRANCH, world.orgs["T2"], Sector.COMMUNITY)
    pledge = services.pledge_create(
        by=own, year=YEAR, owner_member=world.members["m1b"], community_org=community,
        **member_pledge_fields(category="community", kind="immediate", immediate_reason="temporary"),
    )  # fmt: skip
    pledge = access.get_pledge_for_user(own, pledge.pk, access.PledgeAction.EDIT)
    services.pledge_submit(by=own, pledge=pledge)
    assert not access.can_vet_pledge(own, pledge)
    community_secretary = make_user("cm2", Role.SECRETARY, community)
    services.pledge_approve(by=community_secretary, pledge=pledge)
    rows = selectors.branch_year(org=world.orgs["B1"], year=YEAR, today=datetime.date(YEAR, 5, 1))[
        "rows"
    ]
    assert pledge in next(r for r in rows if r.member == world.members["m1b"]).pledges


def test_letter_history_self_review_and_late_reports(world, own, parent):
    sp = world.extra["sp"]
    letters.secretary_pledge_submit(by=own, sp=sp)
    both = make_user("both2", Role.SECRETARY, world.orgs["T1"])
    org_services.member_update(by=None, member=world.extra["secretary"], user=both)
    with pytest.raises(ValidationError) as info:
        letters.secretary_pledge_review(by=both, sp=sp, approve=True, opinion="同意")
    assert "不能审定本人的承诺书" in messages_of(info)
    letters.secretary_pledge_review(by=parent, sp=sp, approve=False, opinion="请写具体数量")
    org_services.member_update(by=None, member=world.extra["secretary"], user=own)
    letters.secretary_pledge_save(
        by=own, org=world.orgs["B1"], year=YEAR, post="党支部书记", term_start=datetime.date(2021, 1, 1),
        contact="138", content="走访困难户20户",
    )  # fmt: skip
    letters.secretary_pledge_submit(by=own, sp=sp)
    letters.secretary_pledge_review(by=parent, sp=sp, approve=True, opinion="同意")
    report = letters.secretary_report_save(
        by=own,
        sp=sp,
        quarter=1,
        text="走访5户",
        measures="按月走访",
        today=datetime.date(YEAR, 5, 1),
    )
    assert report.is_late
    actions = list(sp.events.values_list("action", "comment"))
    assert [a for a, _ in actions] == [
        "save",
        "submit",
        "return",
        "save",
        "submit",
        "approve",
        "report",
    ]
    assert ("return", "请写具体数量") in actions


# ---------------------------------------------------------------- withdraw, reopen (issue 9 #24)


def test_submitter_withdraws_a_submitted_pledge_back_to_draft(world, own):
    pledge = draft(world, own)
    services.pledge_submit(by=own, pledge=pledge, today=IN_WINDOW)
    services.pledge_withdraw(by=own, pledge=pledge, reason="目标还要再核实")
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.DRAFT
    last = pledge.events.last()
    assert (last.action, last.from_status, last.to_status, last.comment, last.actor) == (
        "withdraw", "submitted", "draft", "目标还要再核实", own,
    )  # fmt: skip
    assert last.action_label == "撤回提交"
    services.pledge_submit(by=own, pledge=pledge, today=IN_WINDOW)  # and may submit again


def test_a_member_withdraws_their_own_submitted_pledge(world):
    me = world.user("member_self")  # the login of m1b
    pledge = services.pledge_create(
        by=me, year=YEAR, owner_member=world.members["m1b"], **member_pledge_fields()
    )
    services.pledge_submit(by=me, pledge=pledge, today=IN_WINDOW)
    services.pledge_withdraw(by=me, pledge=pledge, reason="想改一下目标")
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.DRAFT


def test_withdraw_needs_the_writer_and_a_reason(world, own, parent):
    po = world.extra["po"]  # B1's own pledge, submitted to T1
    before = po.events.count()
    with pytest.raises(ValidationError) as info:
        services.pledge_withdraw(by=parent, pledge=po, reason="x")  # the vetter, not the writer
    assert "可以撤回" in messages_of(info)
    with pytest.raises(ValidationError) as info:
        services.pledge_withdraw(by=own, pledge=po, reason=" ")
    assert info.value.error_dict["reason"][0].messages == ["撤回时请写明原因。"]
    po.refresh_from_db()
    assert po.status == PledgeStatus.SUBMITTED and po.events.count() == before


def test_the_vetter_cannot_withdraw_what_a_member_submitted(world, own):
    me = world.user("member_self")  # m1b, whose pledge B1's secretary ("own") vets
    pledge = services.pledge_create(
        by=me, year=YEAR, owner_member=world.members["m1b"], **member_pledge_fields()
    )
    services.pledge_submit(by=me, pledge=pledge, today=IN_WINDOW)
    before = pledge.events.count()
    with pytest.raises(ValidationError) as info:
        services.pledge_withdraw(by=own, pledge=pledge, reason="我来改")
    assert "只有提交这项承诺的人" in messages_of(info) and "退回修改" in messages_of(info)
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.SUBMITTED and pledge.events.count() == before
    services.pledge_return(by=own, pledge=pledge, comment="目标请写具体次数")  # the vetter's way


def test_a_member_cannot_withdraw_what_the_secretary_submitted_for_them(world, own):
    pledge = draft(world, own)
    services.pledge_submit(by=own, pledge=pledge, today=IN_WINDOW)
    with pytest.raises(ValidationError):
        services.pledge_withdraw(by=world.user("member_self"), pledge=pledge, reason="x")
    services.pledge_withdraw(by=own, pledge=pledge, reason="代为撤回")
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.DRAFT


@pytest.mark.parametrize("status", ["draft", "returned", "approved", "published", "evaluated"])
def test_withdraw_is_refused_in_every_other_state(world, own, status):
    po = force(world.extra["po"], status=status)
    with pytest.raises(ValidationError) as info:
        services.pledge_withdraw(by=own, pledge=po, reason="撤回")
    label = PledgeStatus(status).label
    assert f"只有待审核的承诺可以撤回，这项承诺当前为“{label}”" in messages_of(info)
    if status == "approved":
        assert "请审核人先撤销审定" in messages_of(info)
    assert Pledge.objects.get(pk=po.pk).status == status


def test_vetter_reopens_an_approval_before_publication(world, own, parent):
    po = world.extra["po"]
    services.pledge_approve(by=parent, pledge=po)
    services.pledge_reopen(by=parent, pledge=po, reason="目标表述不准确，重新审核")
    po.refresh_from_db()
    assert po.status == PledgeStatus.SUBMITTED
    last = po.events.last()
    assert (last.action, last.from_status, last.to_status, last.comment, last.actor) == (
        "reopen", "approved", "submitted", "目标表述不准确，重新审核", parent,
    )  # fmt: skip
    services.pledge_return(by=parent, pledge=po, comment="请写明公里数")  # vetted again
    assert Pledge.objects.get(pk=po.pk).status == PledgeStatus.RETURNED


def test_reopen_needs_the_vetter_and_a_reason(world, own, parent):
    po = world.extra["po"]
    services.pledge_approve(by=parent, pledge=po)
    before = po.events.count()
    for someone in (own, world.user("office_inside")):  # the owner branch, the office
        with pytest.raises(ValidationError) as info:
            services.pledge_reopen(by=someone, pledge=po, reason="x")
        assert "撤销审定由审核人进行" in messages_of(info)
    with pytest.raises(ValidationError) as info:
        services.pledge_reopen(by=parent, pledge=po, reason="")
    assert info.value.error_dict["reason"][0].messages == ["撤销审定时请写明原因。"]
    po.refresh_from_db()
    assert po.status == PledgeStatus.APPROVED and po.events.count() == before


@pytest.mark.parametrize("status", ["draft", "submitted", "returned", "published", "evaluated"])
def test_reopen_is_refused_in_every_other_state(world, parent, status):
    po = force(world.extra["po"], status=status)
    with pytest.raises(ValidationError) as info:
        services.pledge_reopen(by=parent, pledge=po, reason="重新审核")
    label = PledgeStatus(status).label
    assert f"只有已审定、尚未公示的承诺可以撤销审定，这项承诺当前为“{label}”" in messages_of(info)
    assert Pledge.objects.get(pk=po.pk).status == status


def test_bulk_approve_records_the_comment_on_each(world, own):
    a, b = draft(world, own), draft(world, own, content="另一项")
    for p in (a, b):
        services.pledge_submit(by=own, pledge=p, today=IN_WINDOW)
    services.pledge_bulk_approve(by=own, pledges=[a, b], comment="同意")
    assert [p.events.last().comment for p in (a, b)] == ["同意", "同意"]


# ---------------------------------------------------------------- the return reason (#25)


def test_the_latest_return_reason_of_a_pledge_being_revised(world, own):
    pledge = draft(world, own)
    assert selectors.return_reason(pledge=pledge) is None
    services.pledge_submit(by=own, pledge=pledge, today=IN_WINDOW)
    services.pledge_return(by=own, pledge=pledge, comment="第一次意见")
    services.pledge_submit(by=own, pledge=pledge, today=IN_WINDOW)
    services.pledge_return(by=own, pledge=pledge, comment="第二次意见")
    pledge.refresh_from_db()
    reason = selectors.return_reason(pledge=pledge)
    assert (reason.comment, reason.actor) == ("第二次意见", own)
    services.pledge_submit(by=own, pledge=pledge, today=IN_WINDOW)
    pledge.refresh_from_db()
    assert selectors.return_reason(pledge=pledge) is None  # no longer being revised


def test_a_users_pledges_filtered_by_state(world, own):
    returned = draft(world, own, content="要退回的")
    services.pledge_submit(by=own, pledge=returned, today=IN_WINDOW)
    services.pledge_return(by=own, pledge=returned, comment="请改")
    draft(world, own, content="草稿")
    listed = selectors.pledges_of(user=own, status=PledgeStatus.RETURNED)
    assert list(listed) == [returned]
    assert len(selectors.pledges_of(user=own)) > 1


# ---------------------------------------------------------------- done stays done (#26)


def _report(pledge, by, period, status, **extra):
    return services.fulfilment_record(
        by=by, pledge=pledge, year=YEAR, period=period, text=f"第{period}季度", status=status,
        today=datetime.date(YEAR, 10, 1), **extra,
    )  # fmt: skip


def test_a_later_report_does_not_silently_undo_completion(world, own):
    pm = world.extra["pm"]  # overdue: due 30 June, Q1 reported in progress
    _report(pm, own, 2, Progress.DONE)
    pm.refresh_from_db()
    assert pm.progress == Progress.DONE and not pm.is_overdue(datetime.date(YEAR, 10, 1))
    before = (pm.fulfilments.count(), pm.events.count())
    with pytest.raises(ValidationError) as info:
        _report(pm, own, 3, Progress.IN_PROGRESS)
    message = info.value.error_dict["undo_done"][0].messages[0]
    assert "已报告“已完成”（2026年第二季度）" in message and "确认承诺尚未完成" in message
    pm.refresh_from_db()
    assert pm.progress == Progress.DONE
    assert (pm.fulfilments.count(), pm.events.count()) == before
    _report(pm, own, 3, Progress.IN_PROGRESS, undo_done=True)
    pm.refresh_from_db()
    assert pm.progress == Progress.IN_PROGRESS and pm.is_overdue(datetime.date(YEAR, 10, 1))
    fulfil, undo = pm.events.order_by("-id")[:2][::-1]
    assert fulfil.action == "fulfil" and undo.action == "undo_done"
    assert undo.actor == own and "填报人已确认承诺尚未完成" in undo.comment
    assert undo.action_label == "撤销“已完成”"


def test_replacing_the_done_report_also_asks(world, own):
    pm = world.extra["pm"]
    _report(pm, own, 2, Progress.DONE)
    with pytest.raises(ValidationError):
        _report(pm, own, 2, Progress.IN_PROGRESS)
    assert pm.fulfilments.get(period=2).status == Progress.DONE


def test_reports_that_keep_completion_need_no_confirmation(world, own):
    pm = world.extra["pm"]
    _report(pm, own, 2, Progress.DONE)
    _report(pm, own, 1, Progress.IN_PROGRESS)  # an earlier period: the latest stays done
    _report(pm, own, 3, Progress.DONE)
    pm.refresh_from_db()
    assert pm.progress == Progress.DONE
    assert not pm.events.filter(action="undo_done").exists()


# ---------------------------------------------------------------- 再承诺 (issue 10)


@pytest.mark.parametrize(
    "fields,allowed",
    [
        ({"progress": Progress.DONE}, True),
        ({"progress": Progress.IN_PROGRESS}, False),
        ({"progress": Progress.DONE, "status": "evaluated", "result": "partly"}, False),
        ({"progress": Progress.IN_PROGRESS, "status": "evaluated", "result": "fulfilled"}, True),
    ],
)
def test_the_repledge_rule_is_one_boolean_the_service_obeys(world, own, fields, allowed):
    pm = force(world.extra["pm"], **fields)
    assert pm.may_repledge is allowed
    fields = member_pledge_fields(due_date=datetime.date(YEAR + 1, 6, 30))
    if allowed:
        services.pledge_repledge(by=own, previous=pm, year=YEAR + 1, **fields)
    else:
        with pytest.raises(ValidationError):
            services.pledge_repledge(by=own, previous=pm, year=YEAR + 1, **fields)


# ---------------------------------------------------------------- a member's transfer


def test_a_transfer_hands_the_members_unvetted_pledges_to_the_new_branch(world, own):
    """The new branch vets, edits and lists what the member has not had approved yet; the old
    branch no longer reaches it. Approved pledges, earlier years and other owners stay."""
    from django.http import Http404

    from pledges import access

    m1b, member = world.members["m1b"], world.user("member_self")
    sibling, parent = (
        world.user("sibling_branch_secretary"),
        world.user("parent_committee_secretary"),
    )
    submitted = draft(world, member)
    services.pledge_submit(by=member, pledge=submitted, today=IN_WINDOW)
    own_draft = draft(world, member, content="带头参加义务劳动")
    returned = force(draft(world, member, content="学习党章"), status=PledgeStatus.RETURNED)
    approved = force(draft(world, member, content="帮扶一户"), status=PledgeStatus.APPROVED)
    last_year = services.pledge_create(
        by=own, year=YEAR - 1, owner_member=m1b,
        **member_pledge_fields(due_date=datetime.date(YEAR - 1, 6, 30)),
    )  # fmt: skip
    others = world.extra["po"]  # B1's own pledge, submitted

    org_services.member_transfer(
        by=parent, member=m1b, to_org=world.orgs["B2"], on=datetime.date(YEAR, 8, 1)
    )

    b1, b2 = world.orgs["B1"], world.orgs["B2"]
    for pledge, org in [
        (submitted, b2), (own_draft, b2), (returned, b2),
        (approved, b1), (last_year, b1), (others, b1),
    ]:  # fmt: skip
        pledge.refresh_from_db()
        assert pledge.org == org, pledge.content
    assert submitted in selectors.vet_queue(user=sibling)
    assert submitted not in selectors.vet_queue(user=own)
    with pytest.raises(Http404):
        access.get_pledge_for_user(own, submitted.pk)
    with pytest.raises(ValidationError):
        services.pledge_approve(by=own, pledge=submitted)
    with pytest.raises(ValidationError):
        services.pledge_update(by=own, pledge=own_draft, target="走访20次")
    services.pledge_update(by=sibling, pledge=own_draft, target="走访20次")
    services.pledge_approve(by=sibling, pledge=submitted)
    services.pledge_publish(by=sibling, pledge=submitted)
    submitted.refresh_from_db()
    assert (submitted.status, submitted.org) == (PledgeStatus.PUBLISHED, b2)

    moved = own_draft.events.get(action="transfer")
    assert moved.actor == parent and moved.action_label == "组织关系转接"
    assert moved.comment.startswith("随组织关系转接至“组织B2”（原“组织B1”）")
    assert not approved.events.filter(action="transfer").exists()


def test_a_transfer_leaves_a_community_pledge_with_its_community(world, own):
    m1b = world.members["m1b"]
    community = make_org("S1", OrgKind.BRANCH, world.orgs["T1"], sector=Sector.COMMUNITY)
    pledge = services.pledge_create(
        by=own, year=YEAR, owner_member=m1b, community_org=community, **member_pledge_fields()
    )
    org_services.member_transfer(
        by=None, member=m1b, to_org=community, on=datetime.date(YEAR, 8, 1)
    )
    org_services.member_transfer(
        by=None, member=m1b, to_org=world.orgs["B2"], on=datetime.date(YEAR, 9, 1)
    )
    pledge.refresh_from_db()
    assert pledge.org == community and not pledge.events.filter(action="transfer").exists()


def test_an_approval_left_with_the_former_branch_cannot_be_taken_back_there(world, own):
    """Reopening would send the pledge back to vetting by a branch that no longer holds the
    member (and out of the new branch's reach): refused, the approval stays."""
    m1b, member = world.members["m1b"], world.user("member_self")
    approved = force(draft(world, member, content="帮扶一户"), status=PledgeStatus.APPROVED)
    services.pledge_reopen(by=own, pledge=approved, reason="目标需要细化")  # before: allowed
    approved = force(approved, status=PledgeStatus.APPROVED)
    org_services.member_transfer(
        by=world.user("parent_committee_secretary"), member=m1b, to_org=world.orgs["B2"],
        on=datetime.date(YEAR, 8, 1),
    )  # fmt: skip
    with pytest.raises(ValidationError, match="已转出本组织"):
        services.pledge_reopen(by=own, pledge=approved, reason="再改一下")
    approved.refresh_from_db()
    assert (approved.status, approved.org) == (PledgeStatus.APPROVED, world.orgs["B1"])
