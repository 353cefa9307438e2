import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from pledges import services
from pledges.models import Pledge, PledgeStatus
from tests.personas import make_member
from tests.pledge_world import PNG, YEAR, member_pledge_fields, org_pledge_fields


@pytest.fixture
def as_user(client, world):
    def login(persona):
        client.force_login(world.user(persona))
        return client

    return login


def test_member_pledge_form_keeps_input_on_error(as_user, world):
    client = as_user("own_branch_secretary")
    url = reverse("pledges:create_member", args=[world.members["m1b"].pk]) + f"?year={YEAR}"
    data = {
        "kind": "annual",
        "category": "duty",
        "content": "带头学习",
        "target": "",
        "due_date": "2026-13-01",
    }
    response = client.post(url, data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "带头学习" in page and "这个字段是必填项" in page
    assert not Pledge.objects.filter(content="带头学习").exists()


def test_member_pledge_form_shows_the_sector_hint_and_saves_a_draft(as_user, world):
    client = as_user("own_branch_secretary")
    url = reverse("pledges:create_member", args=[world.members["m1b"].pk]) + f"?year={YEAR}"
    assert "农村党员：带头致富" in client.get(url).content.decode()
    data = {"kind": "annual", "category": "duty", "content": "带头学习", "target": "12次",
            "due_date": "2026-12-01"}  # fmt: skip
    response = client.post(url, data)
    pledge = Pledge.objects.get(content="带头学习")
    assert response["Location"] == reverse("pledges:detail", args=[pledge.pk])
    assert pledge.status == PledgeStatus.DRAFT and pledge.year == YEAR


# The vet queue: the session, the user, the user's grants, the organisations under theirs, the
# page's count and its rows.
VET_QUEUE_QUERIES = 6


def test_vet_queue_query_count_does_not_grow(as_user, world, django_assert_num_queries):
    client = as_user("parent_committee_secretary")
    own = world.user("own_branch_secretary")
    with django_assert_num_queries(VET_QUEUE_QUERIES):
        client.get(reverse("pledges:vet_queue"))
    for i in range(20):
        pledge = services.pledge_create(
            by=own, year=YEAR, owner_org=world.orgs["B1"], **org_pledge_fields(content=f"第{i}项")
        )
        services.pledge_submit(by=own, pledge=pledge, today=datetime.date(YEAR, 2, 1))
    with django_assert_num_queries(VET_QUEUE_QUERIES):
        response = client.get(reverse("pledges:vet_queue"))
    assert response.context["page"].paginator.count == 21


# The branch's year: the session, the user, the organisation, the user's grants, the pledge
# window, then branch_year's five (the branch's member pledges, members' community pledges
# elsewhere, the members, the organisation's own pledges, the open rectifications).
YEAR_PAGE_QUERIES = 10


def test_year_page_query_count_does_not_grow(as_user, world, django_assert_num_queries):
    client = as_user("own_branch_secretary")
    own = world.user("own_branch_secretary")
    url = reverse("pledges:year", args=[world.orgs["B1"].pk, YEAR])
    with django_assert_num_queries(YEAR_PAGE_QUERIES):
        client.get(url)
    for i in range(25):
        member = make_member(
            world.orgs["B1"], f"新党员{i}", birth_date=datetime.date(1950 + i, 1, 1)
        )
        services.pledge_create(by=own, year=YEAR, owner_member=member, **member_pledge_fields())
    with django_assert_num_queries(YEAR_PAGE_QUERIES):
        response = client.get(url)
    assert "新党员24" in response.content.decode()


def test_fulfilment_page_takes_attachments(as_user, world):
    client = as_user("own_branch_secretary")
    pm = world.extra["pm"]
    upload = SimpleUploadedFile("现场.png", PNG, content_type="image/png")
    response = client.post(
        reverse("pledges:fulfil", args=[pm.pk]),
        {
            "period": f"{YEAR}-2",
            "status": "done",
            "text": "全部完成",
            "reason": "",
            "files": [upload],
        },
    )
    assert response.status_code == 302
    fulfilment = pm.fulfilments.get(period=2)
    assert fulfilment.attachments.get().original_name == "现场.png"
    bad = SimpleUploadedFile("假.png", b"not a picture")
    response = client.post(
        reverse("pledges:fulfil", args=[pm.pk]),
        {"period": f"{YEAR}-3", "status": "done", "text": "x", "files": [bad]},
    )
    assert "不是图片" in response.content.decode()
    assert not pm.fulfilments.filter(period=3).exists()


def test_public_notice_needs_no_login_and_shows_no_personal_data(client, world):
    response = client.get(reverse("public:notice", args=["b1"]) + f"?year={YEAR}")
    page = response.content.decode()
    assert response.status_code == 200
    assert "李一" in page and "每月走访困难群众一次" in page
    assert "1970" not in page and "出生" not in page
    qr = client.get(reverse("public:qr", args=["B1"]))
    assert qr["Content-Type"] == "image/svg+xml" and b"<svg" in qr.content


def test_home_lists_what_needs_doing(as_user, world):
    page = as_user("parent_committee_secretary").get(reverse("home")).content.decode()
    assert "待审核的公开承诺" in page


def test_org_page_links_to_the_pledges(as_user, world):
    page = as_user("own_branch_secretary").get(reverse("orgs:detail", args=[world.orgs["B1"].pk]))
    assert "公开承诺" in page.content.decode()


def test_submit_outside_window_shows_the_refusal(as_user, world):
    client = as_user("own_branch_secretary")
    pledge = services.pledge_create(
        by=world.user("own_branch_secretary"), year=YEAR - 1, owner_member=world.members["m1b"],
        **member_pledge_fields(due_date=datetime.date(YEAR - 1, 6, 1)),
    )  # fmt: skip
    response = client.post(reverse("pledges:submit", args=[pledge.pk]), follow=True)
    assert "年度承诺的提交时间为2025年01月01日至2025年03月31日" in response.content.decode()
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.DRAFT


@pytest.mark.parametrize(
    "url",
    [
        "/pledges/overdue/?org=abc",
        "/pledges/missing/?org=1x",
        "/pledges/rectifications/?org=%C2%B2",
        "/pledges/mine/?member=abc",
        "/orgs/members/?org=abc",
    ],
)
def test_malformed_ids_in_the_query_string_are_404(as_user, url):
    assert as_user("own_branch_secretary").get(url).status_code == 404


def test_out_of_range_years_are_404(as_user, world):
    client = as_user("own_branch_secretary")
    b1 = world.orgs["B1"].pk
    for url in (
        f"/pledges/org/{b1}/0/",
        f"/pledges/secretary/{b1}/0/",
        f"/pledges/secretary/ledger/{b1}/99999/",
    ):
        assert client.get(url).status_code == 404, url


def test_bulk_approve_ignores_junk_ids(as_user):
    response = as_user("parent_committee_secretary").post(
        reverse("pledges:bulk_approve"), {"ids": ["²", "x"]}
    )
    assert response.status_code == 302


def test_next_must_stay_on_this_site(as_user, world):
    client = as_user("parent_committee_secretary")
    po = world.extra["po"]
    response = client.post(
        reverse("pledges:approve", args=[po.pk]), {"next": "https://evil.example/", "confirm": "on"}
    )
    assert response["Location"] == reverse("pledges:detail", args=[po.pk])
    services.pledge_reopen(by=world.user("parent_committee_secretary"), pledge=po, reason="再审")
    response = client.post(
        reverse("pledges:approve", args=[po.pk]), {"next": "/pledges/vet/", "confirm": "on"}
    )
    assert response["Location"] == "/pledges/vet/"


def test_public_notice_leaks_no_personal_fields(client, world):
    from orgs import services as org_services

    org_services.member_update(by=None, member=world.members["m1"], post="村会计", ethnicity="回族")
    page = client.get(reverse("public:notice", args=["B1"]) + f"?year={YEAR}").content.decode()
    assert "李一" in page
    for private in ("村会计", "回族", "男", "1995", "走访12次"):
        assert private not in page, private


# ---------------------------------------------------------------- confirm, withdraw, reopen (#24)


def test_approving_asks_for_a_confirmation_that_needs_no_script(as_user, world):
    client = as_user("parent_committee_secretary")
    po = world.extra["po"]
    url = reverse("pledges:approve", args=[po.pk])
    page = client.get(url).content.decode()
    assert "年内修通村道两公里" in page and "村道2公里" in page and "2026年10月31日" in page
    assert 'type="checkbox" name="confirm"' in page and "确认审定通过" in page
    response = client.post(url, {"comment": "同意"})  # the box not ticked
    page = response.content.decode()
    assert response.status_code == 200 and "请勾选“确认审定通过”" in page and "同意" in page
    assert Pledge.objects.get(pk=po.pk).status == PledgeStatus.SUBMITTED
    response = client.post(url, {"confirm": "on", "comment": "同意"})
    assert response["Location"] == reverse("pledges:detail", args=[po.pk])
    po.refresh_from_db()
    assert po.status == PledgeStatus.APPROVED and po.events.last().comment == "同意"


def test_the_pages_link_to_the_confirmation_not_a_one_tap_approval(as_user, world):
    client = as_user("parent_committee_secretary")
    po = world.extra["po"]
    approve = reverse("pledges:approve", args=[po.pk])
    detail = client.get(reverse("pledges:detail", args=[po.pk])).content.decode()
    assert f'href="{approve}"' in detail and f'action="{approve}"' not in detail
    queue = client.get(reverse("pledges:vet_queue")).content.decode()
    assert f'href="{approve}?next=' in queue and f'action="{approve}"' not in queue


def test_bulk_approval_shows_a_summary_and_asks_first(as_user, world):
    client = as_user("parent_committee_secretary")
    po = world.extra["po"]
    page = client.get(reverse("pledges:vet_queue")).content.decode()
    assert "年内修通村道两公里" in page
    response = client.post(reverse("pledges:bulk_approve"), {"ids": [po.pk]})
    page = response.content.decode()
    assert response.status_code == 200
    assert "批量审定通过（1 项）" in page and "年内修通村道两公里" in page and "村道2公里" in page
    assert f'name="ids" value="{po.pk}"' in page
    assert Pledge.objects.get(pk=po.pk).status == PledgeStatus.SUBMITTED
    response = client.post(reverse("pledges:bulk_approve"), {"ids": [po.pk], "step": "confirm"})
    assert "请勾选“确认审定通过”" in response.content.decode()
    assert Pledge.objects.get(pk=po.pk).status == PledgeStatus.SUBMITTED
    response = client.post(
        reverse("pledges:bulk_approve"), {"ids": [po.pk], "step": "confirm", "confirm": "on"}
    )
    assert response.status_code == 302
    assert Pledge.objects.get(pk=po.pk).status == PledgeStatus.APPROVED


def test_submitter_withdraws_from_the_pledge_page(as_user, world):
    client = as_user("own_branch_secretary")
    po = world.extra["po"]
    detail = reverse("pledges:detail", args=[po.pk])
    url = reverse("pledges:withdraw", args=[po.pk])
    assert f'href="{url}"' in client.get(detail).content.decode()
    response = client.post(url, {"reason": " "})
    assert response.status_code == 200 and "这个字段是必填项" in response.content.decode()
    assert Pledge.objects.get(pk=po.pk).status == PledgeStatus.SUBMITTED
    response = client.post(url, {"reason": "公里数要再核实"})
    assert response["Location"] == detail
    assert Pledge.objects.get(pk=po.pk).status == PledgeStatus.DRAFT
    page = client.get(detail).content.decode()
    assert "撤回提交（待审核 → 草稿）：公里数要再核实" in page
    assert f'href="{url}"' not in page


def test_the_vetter_sees_no_withdraw_button_on_a_members_submission(as_user, world, client):
    me = world.user("member_self")
    pledge = services.pledge_create(
        by=me, year=YEAR, owner_member=world.members["m1b"], **member_pledge_fields()
    )
    services.pledge_submit(by=me, pledge=pledge, today=datetime.date(YEAR, 2, 1))
    detail = reverse("pledges:detail", args=[pledge.pk])
    url = reverse("pledges:withdraw", args=[pledge.pk])
    as_user("own_branch_secretary")
    page = client.get(detail).content.decode()
    assert f'href="{url}"' not in page and "退回修改" in page
    assert client.post(url, {"reason": "我来改"}).status_code == 403
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.SUBMITTED
    as_user("member_self")
    assert f'href="{url}"' in client.get(detail).content.decode()
    assert client.post(url, {"reason": "想改一下目标"})["Location"] == detail
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.DRAFT


def test_a_refused_withdrawal_says_why_on_the_form(as_user, world):
    client = as_user("own_branch_secretary")
    pm = world.extra["pm"]  # published
    response = client.post(reverse("pledges:withdraw", args=[pm.pk]), {"reason": "撤回"})
    page = response.content.decode()
    assert response.status_code == 200 and "只有待审核的承诺可以撤回" in page and "撤回" in page
    assert Pledge.objects.get(pk=pm.pk).status == PledgeStatus.PUBLISHED


def test_vetter_reopens_an_approval_from_the_pledge_page(as_user, world):
    client = as_user("parent_committee_secretary")
    po = world.extra["po"]
    services.pledge_approve(by=world.user("parent_committee_secretary"), pledge=po)
    detail = reverse("pledges:detail", args=[po.pk])
    url = reverse("pledges:reopen", args=[po.pk])
    assert f'href="{url}"' in client.get(detail).content.decode()
    response = client.post(url, {"reason": "目标需重新核实"})
    assert response["Location"] == detail
    assert Pledge.objects.get(pk=po.pk).status == PledgeStatus.SUBMITTED
    page = client.get(detail).content.decode()
    assert "撤销审定（已审定 → 待审核）：目标需重新核实" in page
    services.pledge_publish(
        by=world.user("own_branch_secretary"),
        pledge=services.pledge_approve(by=world.user("parent_committee_secretary"), pledge=po),
    )
    assert f'href="{url}"' not in client.get(detail).content.decode()  # published: too late


# ---------------------------------------------------------------- the return reason (#25)


def _returned(world):
    own = world.user("own_branch_secretary")
    pledge = services.pledge_create(
        by=world.user("member_self"), year=YEAR, owner_member=world.members["m1b"],
        **member_pledge_fields(content="帮扶一户困难群众"),
    )  # fmt: skip
    services.pledge_submit(
        by=world.user("member_self"), pledge=pledge, today=datetime.date(YEAR, 2, 1)
    )
    return services.pledge_return(by=own, pledge=pledge, comment="请写明帮扶哪一户、帮扶什么")


def test_the_return_reason_stands_above_the_edit_form_and_on_the_pledge_page(as_user, world):
    pledge = _returned(world)
    client = as_user("member_self")
    edit = client.get(reverse("pledges:edit", args=[pledge.pk])).content.decode()
    detail = client.get(reverse("pledges:detail", args=[pledge.pk])).content.decode()
    for page, below in ((edit, 'name="content"'), (detail, "<h2>办理记录</h2>")):
        reason = page.index('id="return-reason"')
        assert "请写明帮扶哪一户、帮扶什么" in page[reason : reason + 300]
        assert reason < page.index(below)


def test_the_home_to_do_opens_the_returned_pledges(as_user, world):
    pledge = _returned(world)
    client = as_user("member_self")
    services.pledge_create(
        by=world.user("member_self"), year=YEAR, owner_member=world.members["m1b"],
        **member_pledge_fields(content="还在草稿的承诺"),
    )  # fmt: skip
    home = client.get(reverse("home")).content.decode()
    link = reverse("pledges:mine") + "?status=returned"
    assert f'href="{link}"' in home and "退回修改的承诺" in home
    page = client.get(link).content.decode()
    assert "帮扶一户困难群众" in page and "还在草稿的承诺" not in page
    assert "只列出“退回修改”的承诺" in page
    everything = client.get(reverse("pledges:mine")).content.decode()
    assert "还在草稿的承诺" in everything and pledge.content in everything
    assert "还在草稿的承诺" in client.get(reverse("pledges:mine") + "?status=junk").content.decode()


# ---------------------------------------------------------------- done stays done (#26)


def test_the_fulfilment_form_asks_before_undoing_completion(as_user, world):
    client = as_user("own_branch_secretary")
    pm = world.extra["pm"]
    url = reverse("pledges:fulfil", args=[pm.pk])
    assert "undo_done" not in client.get(url).content.decode()  # not done: nothing to confirm
    services.fulfilment_record(
        by=world.user("own_branch_secretary"), pledge=pm, year=YEAR, period=2, text="完成",
        status="done", today=datetime.date(YEAR, 7, 1),
    )  # fmt: skip
    page = client.get(url).content.decode()
    assert "这项承诺已报告“已完成”" in page and 'name="undo_done"' in page
    data = {"period": f"{YEAR}-3", "status": "in_progress", "text": "还差两户", "reason": ""}
    response = client.post(url, data)
    page = response.content.decode()
    assert response.status_code == 200 and "如确属尚未完成，请勾选" in page and "还差两户" in page
    pm.refresh_from_db()
    assert pm.progress == "done" and not pm.fulfilments.filter(period=3).exists()
    response = client.post(url, data | {"undo_done": "on"})
    assert response.status_code == 302
    pm.refresh_from_db()
    assert pm.progress == "in_progress"
    page = client.get(reverse("pledges:detail", args=[pm.pk])).content.decode()
    assert "撤销“已完成”" in page and "填报人已确认承诺尚未完成" in page


# ---------------------------------------------------------------- 再承诺 (issue 10)


def test_the_repledge_button_follows_the_models_rule(as_user, world):
    from tests.pledge_world import force

    client = as_user("own_branch_secretary")
    pm = world.extra["pm"]
    detail, repledge = (reverse(n, args=[pm.pk]) for n in ("pledges:detail", "pledges:repledge"))
    force(pm, progress="done", status="evaluated", result="partly", result_remark="只完成8次")
    assert f'href="{repledge}"' not in client.get(detail).content.decode()
    force(pm, result="fulfilled")
    assert f'href="{repledge}"' in client.get(detail).content.decode()


# ---------------------------------------------------------------- every POST through a form

INVISIBLE = "\u200b\u3000\u2060\ufeff"


@pytest.mark.parametrize(
    "comment, message",
    [
        ("意" * 100000, "退回意见：确保该变量包含不超过 1000 字符"),
        (INVISIBLE, "退回意见：这个字段是必填项"),
    ],
)
def test_a_return_comment_too_long_or_invisible_is_refused_naming_the_field(
    as_user, world, comment, message
):
    client = as_user("parent_committee_secretary")
    po = world.extra["po"]
    events = po.events.count()
    response = client.post(
        reverse("pledges:return", args=[po.pk]), {"comment": comment}, follow=True
    )
    assert message in response.content.decode()
    po.refresh_from_db()
    assert po.status == PledgeStatus.SUBMITTED and po.events.count() == events
    # the same post with a readable comment returns the pledge
    client.post(reverse("pledges:return", args=[po.pk]), {"comment": "请写明公里数"})
    po.refresh_from_db()
    assert po.status == PledgeStatus.RETURNED and po.events.last().comment == "请写明公里数"


def test_a_rectification_action_that_no_button_sends_is_refused(as_user, world):
    client = as_user("own_branch_secretary")
    item = world.extra["rectification"]
    url = reverse("pledges:rectification", args=[item.pk])
    response = client.post(url, {"action": "销号" * 50000, "response": "已补上走访"})
    page = response.content.decode()
    assert response.status_code == 200 and "整改操作：无效，请刷新页面后重试" in page
    assert "已补上走访" in page  # the input kept
    item.refresh_from_db()
    assert item.status == "open" and item.response == ""
    response = client.post(url, {"action": "respond", "response": "已补上走访"})
    item.refresh_from_db()
    assert response.status_code == 302 and item.response == "已补上走访"


def test_bulk_approval_of_more_than_a_page_is_refused(as_user, world):
    from pledges.views import BULK_LIMIT

    client = as_user("parent_committee_secretary")
    po = world.extra["po"]
    data = {"ids": [po.pk, *range(10**6, 10**6 + BULK_LIMIT)], "step": "confirm", "confirm": "on"}
    response = client.post(reverse("pledges:bulk_approve"), data, follow=True)
    assert f"一次最多审定 {BULK_LIMIT} 项承诺" in response.content.decode()
    po.refresh_from_db()
    assert po.status == PledgeStatus.SUBMITTED
    data["ids"] = data["ids"][:BULK_LIMIT]
    client.post(reverse("pledges:bulk_approve"), data)
    po.refresh_from_db()
    assert po.status == PledgeStatus.APPROVED
