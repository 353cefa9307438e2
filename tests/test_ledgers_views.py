"""The 写实簿 pages: the branch's and the parent's grids, signing many sections at once (one
confirmation, all or nothing), paper signatures, one ledger read and signed by its member, notes,
withdrawals, the history, the to-dos and links, and the grids' query bounds.

The world (tests/*_world.py) on 2026-12-01: m1 (李一, no login) has an approved pledge and the
signed third-quarter review by own, so his 承诺写实 waits for his paper signature and his
第三季度点评 for own's; m1b (李二, member_self) has no pledge yet; B1's first-half review by T1's
secretary is a draft.
"""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from ledgers import services as ledger_services
from ledgers.models import Ledger, LedgerEvent, LedgerKind, LedgerNote, Signature
from orgs import services as org_services
from orgs.models import OrgKind, Role
from pledges import services as pledge_services
from reviews import services as review_services
from tests.personas import make_member, make_org, make_user
from tests.pledge_world import member_pledge_fields

YEAR = 2026
TODAY = datetime.date(YEAR, 12, 1)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    """Every page and service reads this day (the third quarter has ended, the fourth not)."""
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


@pytest.fixture
def as_user(client, world):
    def login(persona):
        client.force_login(world.user(persona))
        return client

    return login


def grid_url(org, year=YEAR):
    return reverse("ledgers:branch", args=[org.pk, year])


def sign_url(org, year=YEAR):
    return reverse("ledgers:branch_sign", args=[org.pk, year])


def cell(member, section, slot):
    return f"{member.pk}:{section}:{slot}"


def boxes(page: str) -> list[str]:
    """The values of the grid's boxes to tick."""
    return re.findall(r'name="cells" value="([^"]+)" form="sign-many"', page)


def shown(client, response) -> list[str]:
    """The messages the page shows: the page a redirect leads to is opened (which uses them up,
    so the next step's messages are its own)."""
    if response.status_code == 302:
        response = client.get(response["Location"])
    return [str(m) for m in response.context["messages"]]


def live(member, section, slot):
    return Signature.objects.filter(
        ledger__member=member, section=section, slot=slot, withdrawn_at__isnull=True
    )


def publish_pledge(world, member):
    """An approved annual pledge of `member`, so their 承诺写实 can be signed."""
    own = world.user("own_branch_secretary")
    pledge = pledge_services.pledge_create(
        by=own, year=YEAR, owner_member=member, **member_pledge_fields(content="带头学习")
    )
    pledge_services.pledge_submit(by=own, pledge=pledge, today=datetime.date(YEAR, 2, 1))
    pledge_services.pledge_approve(by=own, pledge=pledge)
    return pledge


# ---------------------------------------------------------------- the branch's grid


def test_the_grid_shows_each_cells_state_and_each_members_next_step(as_user, world):
    m1, m1b = world.members["m1"], world.members["m1b"]
    response = as_user("own_branch_secretary").get(grid_url(world.orgs["B1"]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "李一" in page and "李二" in page and "王书记" in page
    # own signs m1's third-quarter review; m1's pledge section waits for his (paper) signature
    assert cell(m1, "q3r", "branch") in boxes(page)
    assert cell(m1, "pledge", "member") in boxes(page)
    assert not any(box.startswith(f"{m1b.pk}:") for box in boxes(page))  # nothing of his is ready
    assert "缺记录" in page and "未到期" in page
    assert "承诺：待党员本人签字" in page
    assert "承诺：缺记录" in page  # m1b's next step names the missing record
    assert "尚无经审定的公开承诺" in page
    assert f'href="{reverse("ledgers:member", args=[m1.pk, YEAR])}"' in page
    assert "建立2026年度写实簿" in page


def test_a_signed_cell_shows_its_date(as_user, world):
    m1 = world.members["m1"]
    own = world.user("own_branch_secretary")
    ledger_services.ledger_sign(by=own, subject=m1, year=YEAR, section="q3r", slot="branch")
    page = as_user("own_branch_secretary").get(grid_url(world.orgs["B1"])).content.decode()
    assert cell(m1, "q3r", "branch") not in boxes(page)
    assert '<time datetime="2026-12-01">12月1日</time>' in page
    assert "已签" in page


def test_the_grid_offers_no_box_to_those_who_only_read_it(as_user, world):
    page = as_user("parent_committee_secretary").get(grid_url(world.orgs["B1"])).content.decode()
    assert boxes(page) == []
    assert "签字所勾选的栏目" not in page and "建立2026年度写实簿" not in page


def test_a_grid_of_a_bad_year_or_an_organisation_without_members_is_404(as_user, world):
    client = as_user("county_secretary")
    assert client.get(grid_url(world.orgs["B1"], 1999)).status_code == 404
    assert client.get(grid_url(world.orgs["K1"])).status_code == 404  # a county keeps no roll
    assert (
        client.get(reverse("ledgers:children", args=[world.orgs["B1"].pk, YEAR])).status_code == 404
    )


def test_a_member_who_moved_shows_the_branch_that_signs_each_quarter(as_user, world):
    """m1 moved from B1 to B2 in May: B1 signs his first quarter, B2 the rest; each branch's
    grid lists him and names the other branch on its quarters, and each opens his ledger."""
    m1 = world.members["m1"]
    org_services.member_transfer(
        by=world.user("parent_committee_secretary"),
        member=m1,
        to_org=world.orgs["B2"],
        on=datetime.date(YEAR, 5, 15),
    )
    client = as_user("sibling_branch_secretary")
    page = client.get(grid_url(world.orgs["B2"])).content.decode()
    row = page[page.index("李一") : page.index("</tr>", page.index("李一"))]
    assert row.count("组织B1签") == 2  # 第一季度兑现, 第一季度点评
    client = as_user("own_branch_secretary")
    page = client.get(grid_url(world.orgs["B1"])).content.decode()
    row = page[page.index("李一") : page.index("</tr>", page.index("李一"))]
    assert "现在组织B2" in row and row.count("组织B2签") == 8  # 承诺, three quarters, 年度
    assert client.get(reverse("ledgers:member", args=[m1.pk, YEAR])).status_code == 200


def test_a_large_branch_is_paged_and_all_takes_the_page_shown(client, world):
    branch = world.orgs["B1"]
    for i in range(30):
        make_member(branch, f"党员{i:02d}")
    client.force_login(world.user("own_branch_secretary"))
    first = client.get(grid_url(branch)).content.decode()
    second = client.get(grid_url(branch) + "?page=2").content.decode()
    assert first.count('class="who"') == 30 and second.count('class="who"') == 3
    assert "第 2 / 2 页，共 33 条" in second
    # 李一 (m1) sorts after the 党员NN rows: his box is on the second page
    assert cell(world.members["m1"], "q3r", "branch") in boxes(second)
    assert cell(world.members["m1"], "q3r", "branch") not in boxes(first)
    page = client.post(sign_url(branch), {"all": "1", "page": "1"})
    assert shown(client, page) == ["请先勾选要签字的栏目。"]
    page = client.post(sign_url(branch), {"all": "1", "page": "2"}).content.decode()
    assert re.findall(r'name="cells" value="([^"]+)">', page) == [
        cell(world.members["m1"], "q3r", "branch")
    ]


def test_a_grid_without_rows_says_so(as_user, world):
    client = as_user("parent_committee_secretary")
    response = client.get(grid_url(world.orgs["T1"]))  # a committee without members of its own
    assert response.status_code == 200 and "2026年本组织没有党员。" in response.content.decode()
    response = client.get(reverse("ledgers:children", args=[world.orgs["B1"].parent.pk, 1999]))
    assert response.status_code == 404


# ---------------------------------------------------------------- signing many at once


def test_sign_many_asks_first_then_signs_what_it_listed(as_user, world):
    m1 = world.members["m1"]
    client = as_user("own_branch_secretary")
    response = client.post(sign_url(world.orgs["B1"]), {"cells": [cell(m1, "q3r", "branch")]})
    page = response.content.decode()
    assert response.status_code == 200
    assert "确认签字（1 栏）" in page and "李一" in page and "第三季度" in page
    assert f'name="cells" value="{cell(m1, "q3r", "branch")}"' in page
    assert not live(m1, "q3r", "branch").exists()
    response = client.post(
        sign_url(world.orgs["B1"]),
        {"cells": [cell(m1, "q3r", "branch")], "confirm": "1", "page": "1"},
    )
    assert response.status_code == 302
    assert response["Location"] == grid_url(world.orgs["B1"]) + "?page=1"
    assert shown(client, response) == ["已签字 1 栏。"]
    signature = live(m1, "q3r", "branch").get()
    assert signature.signer_id == world.user("own_branch_secretary").pk
    assert signature.capacity == "党支部书记" and not signature.on_paper


def test_sign_many_signs_nothing_when_one_cell_is_refused(as_user, world):
    """m1's review is ready; m1b's pledge section is missing its record: the refusal names him
    and the section, and m1's review stays unsigned too."""
    m1, m1b = world.members["m1"], world.members["m1b"]
    client = as_user("own_branch_secretary")
    cells = [cell(m1, "q3r", "branch"), cell(m1b, "pledge", "branch")]
    response = client.post(sign_url(world.orgs["B1"]), {"cells": cells, "confirm": "1"})
    assert response.status_code == 302
    [message] = shown(client, response)
    assert message.startswith("未签任何栏目：李二·承诺写实·公开承诺事项：")
    assert "缺记录" in message
    assert not Signature.objects.filter(ledger__member__in=[m1, m1b]).exists()
    # the same check one by one: the ready cell alone signs
    response = client.post(sign_url(world.orgs["B1"]), {"cells": [cells[0]], "confirm": "1"})
    assert live(m1, "q3r", "branch").exists()


def test_paper_records_and_own_signatures_go_together_or_not_at_all(as_user, world):
    """m1's paper signature would pass; own's signature of m1b's pledge section is refused: the
    paper record is not kept either."""
    m1, m1b = world.members["m1"], world.members["m1b"]
    client = as_user("own_branch_secretary")
    cells = [cell(m1, "pledge", "member"), cell(m1b, "pledge", "branch")]
    response = client.post(
        sign_url(world.orgs["B1"]), {"cells": cells, "confirm": "1", "paper_on": "2026-11-30"}
    )
    assert response.status_code == 302
    [message] = shown(client, response)
    assert message.startswith("未签任何栏目：李二·承诺写实·公开承诺事项：")
    assert not Signature.objects.exists()


def test_select_all_lists_every_box_the_user_signs_on_the_page(as_user, world):
    m1 = world.members["m1"]
    client = as_user("own_branch_secretary")
    grid = client.get(grid_url(world.orgs["B1"])).content.decode()
    own_boxes = [box for box in boxes(grid) if not box.endswith(":member")]
    assert own_boxes == [cell(m1, "q3r", "branch")]
    assert f"全选可签（{len(own_boxes)} 栏）" in grid
    response = client.post(sign_url(world.orgs["B1"]), {"all": "1", "page": "1"})
    page = response.content.decode()
    listed = re.findall(r'<input type="hidden" name="cells" value="([^"]+)">', page)
    assert listed == own_boxes  # the paper records are ticked one by one, never by "all"
    assert not Signature.objects.exists()


def test_paper_signatures_need_the_day_the_member_signed(as_user, world):
    m1 = world.members["m1"]
    own = world.user("own_branch_secretary")
    client = as_user("own_branch_secretary")
    data = {"cells": [cell(m1, "pledge", "member"), cell(m1, "q3r", "branch")]}
    page = client.post(sign_url(world.orgs["B1"]), data).content.decode()
    assert "登记党员在纸质写实簿上的签字（1 栏）" in page and "由您签字（1 栏）" in page
    assert 'name="paper_on"' in page
    response = client.post(sign_url(world.orgs["B1"]), data | {"confirm": "1"})
    assert response.status_code == 200
    assert "请填写党员在纸质写实簿上签字的日期。" in response.content.decode()
    assert not Signature.objects.exists()
    response = client.post(
        sign_url(world.orgs["B1"]), data | {"confirm": "1", "paper_on": "2027-01-05"}
    )
    assert response.status_code == 200
    assert "纸质签字日期不能晚于今天。" in response.content.decode()
    assert 'value="2027-01-05"' in response.content.decode()  # what was typed stays
    assert not Signature.objects.exists()
    response = client.post(
        sign_url(world.orgs["B1"]), data | {"confirm": "1", "paper_on": "2026-11-30"}
    )
    assert response.status_code == 302 and shown(client, response) == ["已签字 2 栏。"]
    paper = live(m1, "pledge", "member").get()
    assert paper.on_paper and paper.signer is None and paper.signer_name == "李一"
    assert paper.signed_on == datetime.date(2026, 11, 30) and paper.recorded_by == own
    assert live(m1, "q3r", "branch").get().signer == own


def test_sign_many_keeps_to_the_grids_members(as_user, world):
    """A box naming a member of another branch is no box of this grid: nothing to sign."""
    client = as_user("own_branch_secretary")
    response = client.post(
        sign_url(world.orgs["B1"]),
        {"cells": [cell(world.members["m2"], "q3r", "branch")], "confirm": "1"},
    )
    assert response.status_code == 302
    assert shown(client, response) == ["请先勾选要签字的栏目。"]
    response = client.post(sign_url(world.orgs["B1"]), {"cells": ["1:nosuch:branch"]})
    assert shown(client, response) == ["所选栏目有误，请回到写实簿一览重新勾选。"]
    assert not Signature.objects.exists()


def test_opening_the_years_ledgers(as_user, world):
    client = as_user("own_branch_secretary")
    response = client.post(reverse("ledgers:open", args=[world.orgs["B1"].pk, YEAR]))
    assert response.status_code == 302 and response["Location"] == grid_url(world.orgs["B1"])
    assert shown(client, response) == ["已建立 3 本写实簿。"]
    assert (
        Ledger.objects.filter(kind=LedgerKind.MEMBER, year=YEAR, keeper=world.orgs["B1"]).count()
        == 3
    )
    response = client.post(reverse("ledgers:open", args=[world.orgs["B1"].pk, YEAR]))
    assert shown(client, response) == ["本年度写实簿均已建立。"]
    page = client.get(grid_url(world.orgs["B1"])).content.decode()
    assert "建立2026年度写实簿" not in page and "未建立" not in page


# ---------------------------------------------------------------- the parent's grid


def test_the_parent_signs_its_childrens_review_sections_from_its_grid(as_user, world):
    parent = world.user("parent_committee_secretary")
    b1, t1 = world.orgs["B1"], world.orgs["T1"]
    review_services.review_sign(by=parent, review=world.extra["ro"])  # B1's first half
    client = as_user("parent_committee_secretary")
    page = client.get(reverse("ledgers:children", args=[t1.pk, YEAR])).content.decode()
    assert "组织B1" in page and "组织B2" in page
    assert boxes(page) == [f"{b1.pk}:h1r:upper"]
    url = reverse("ledgers:children_sign", args=[t1.pk, YEAR])
    response = client.post(url, {"cells": [f"{b1.pk}:h1r:upper"]})
    assert "上半年" in response.content.decode() and "组织B1" in response.content.decode()
    response = client.post(url, {"cells": [f"{b1.pk}:h1r:upper"], "confirm": "1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("ledgers:children", args=[t1.pk, YEAR])
    signature = Signature.objects.get(ledger__subject_org=b1, section="h1r")
    assert signature.slot == "upper" and signature.capacity == "基层党委书记"


# ---------------------------------------------------------------- one ledger


def test_the_ledger_page_shows_the_content_what_is_missing_and_the_steps(as_user, world):
    m1 = world.members["m1"]
    page = as_user("own_branch_secretary").get(reverse("ledgers:member", args=[m1.pk, YEAR]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "李一" in html and "2026年度党员创先争优活动写实簿" in html
    assert "每月走访困难群众一次" in html  # the pledge
    assert "带头走访群众" in html and "学习不够系统" in html and "加强理论学习" in html
    assert "第一季度领导点评尚未签字（由组织B1书记点评）" in html  # missing, and who owes it
    sign = reverse("ledgers:member_sign", args=[m1.pk, YEAR, "q3r", "branch"])
    paper = reverse("ledgers:member_sign", args=[m1.pk, YEAR, "pledge", "member"])
    assert f'href="{sign}">签字…' in html and f'href="{paper}">登记纸质签字…' in html
    assert reverse("ledgers:member_note", args=[m1.pk, YEAR, "q1r", "missing"]) in html
    assert reverse("ledgers:member_note", args=[m1.pk, YEAR, "year", "summary"]) in html


def test_an_oral_pledge_is_marked(as_user, world):
    m1b = world.members["m1b"]
    org_services.member_update(by=None, member=m1b, is_elderly_infirm=True)
    own = world.user("own_branch_secretary")
    pledge = pledge_services.pledge_create(
        by=own, year=YEAR, owner_member=m1b, **member_pledge_fields(is_oral=True, content="口头")
    )
    pledge_services.pledge_submit(by=own, pledge=pledge, today=datetime.date(YEAR, 2, 1))
    pledge_services.pledge_approve(by=own, pledge=pledge)
    html = as_user("member_self").get(reverse("ledgers:member", args=[m1b.pk, YEAR]))
    assert '<span class="tag tag-oral">口头承诺</span>' in html.content.decode()


def test_a_member_signs_their_own_ledger_after_a_confirmation(as_user, world):
    m1b = world.members["m1b"]
    publish_pledge(world, m1b)
    client = as_user("member_self")
    html = client.get(reverse("ledgers:member", args=[m1b.pk, YEAR])).content.decode()
    url = reverse("ledgers:member_sign", args=[m1b.pk, YEAR, "pledge", "member"])
    assert f'href="{url}">签字…' in html
    page = client.get(url).content.decode()
    assert "签字确认" in page and "带头学习" in page and "确认签字" in page
    assert not live(m1b, "pledge", "member").exists()
    response = client.post(url, {})  # no confirmation: the page again
    assert response.status_code == 200 and not live(m1b, "pledge", "member").exists()
    response = client.post(url, {"confirm": "1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("ledgers:member", args=[m1b.pk, YEAR]) + "#pledge"
    signature = live(m1b, "pledge", "member").get()
    assert signature.signer == world.user("member_self") and signature.capacity == "党员本人"
    assert not signature.on_paper
    # the member may not sign the secretary's slot
    branch = reverse("ledgers:member_sign", args=[m1b.pk, YEAR, "pledge", "branch"])
    assert client.get(branch).status_code == 403
    assert client.post(branch, {"confirm": "1"}).status_code == 403
    assert not live(m1b, "pledge", "branch").exists()


def test_a_refused_signature_says_why_on_the_ledger_page(as_user, world):
    m1b = world.members["m1b"]
    client = as_user("own_branch_secretary")
    url = reverse("ledgers:member_sign", args=[m1b.pk, YEAR, "pledge", "branch"])
    page = client.get(url).content.decode()
    assert "此栏现在不能由您签字（缺记录，应由党员本人签字）" in page
    response = client.post(url, {"confirm": "1"})
    assert response.status_code == 302
    [message] = shown(client, response)
    assert message.startswith("李二·承诺写实·公开承诺事项：")
    assert not Signature.objects.exists()


def test_a_paper_signature_from_the_ledger_page(as_user, world):
    m1 = world.members["m1"]
    client = as_user("own_branch_secretary")
    url = reverse("ledgers:member_sign", args=[m1.pk, YEAR, "pledge", "member"])
    page = client.get(url).content.decode()
    assert "登记纸质签字" in page and 'name="paper_on"' in page
    response = client.post(url, {"confirm": "1", "paper_on": "2026-03-01"})
    assert response.status_code == 302  # before the window closed: refused, says why
    assert "纸质签字日期应在2026年03月31日之后" in shown(client, response)[0]
    response = client.post(url, {"confirm": "1", "paper_on": "2026-04-20"})
    signature = live(m1, "pledge", "member").get()
    assert signature.on_paper and signature.signed_on == datetime.date(2026, 4, 20)
    html = client.get(reverse("ledgers:member", args=[m1.pk, YEAR])).content.decode()
    assert "纸质签字，王书记登记" in html


def test_unknown_sections_and_slots_are_404(as_user, world):
    client = as_user("own_branch_secretary")
    m1 = world.members["m1"]
    assert (
        client.get(reverse("ledgers:member_sign", args=[m1.pk, YEAR, "h1", "branch"])).status_code
        == 404
    )
    assert (
        client.get(reverse("ledgers:member_sign", args=[m1.pk, YEAR, "q1", "upper"])).status_code
        == 404
    )
    assert (
        client.get(reverse("ledgers:member_note", args=[m1.pk, YEAR, "q1", "summary"])).status_code
        == 404
    )
    assert (
        client.get(reverse("ledgers:member_note", args=[m1.pk, YEAR, "q1", "other"])).status_code
        == 404
    )


# ---------------------------------------------------------------- withdrawals


def test_withdrawing_the_lower_signature_withdraws_the_upper_with_the_reason(as_user, world):
    m1 = world.members["m1"]
    own = world.user("own_branch_secretary")
    ledger_services.ledger_sign(
        by=own, subject=m1, year=YEAR, section="pledge", slot="member",
        paper_on=datetime.date(2026, 11, 30),
    )  # fmt: skip
    ledger_services.ledger_sign(by=own, subject=m1, year=YEAR, section="pledge", slot="branch")
    lower = live(m1, "pledge", "member").get()
    client = as_user("own_branch_secretary")
    html = client.get(reverse("ledgers:member", args=[m1.pk, YEAR])).content.decode()
    url = reverse("ledgers:withdraw", args=[lower.pk])
    assert f'href="{url}">撤回…' in html
    page = client.get(url).content.decode()
    assert "此栏党支部书记的签字一并撤回" in page
    response = client.post(url, {"reason": ""})
    assert response.status_code == 200 and "这个字段是必填项" in response.content.decode()
    assert live(m1, "pledge", "member").exists()
    response = client.post(url, {"reason": "登记的日期有误"})
    assert response.status_code == 302 and shown(client, response) == [
        "已撤回 2 个签字，理由已记入历史记录。"
    ]
    assert not Signature.objects.filter(ledger__member=m1, withdrawn_at__isnull=True).exists()
    assert set(
        Signature.objects.filter(ledger__member=m1).values_list("withdraw_reason", flat=True)
    ) == {"登记的日期有误"}
    response = client.get(url)
    assert response.status_code == 302 and shown(client, response) == ["该签字已经撤回。"]


def test_a_deputy_may_not_withdraw_the_secretarys_signature_but_the_parent_may(
    as_user, world, client
):
    m1 = world.members["m1"]
    own = world.user("own_branch_secretary")
    signature = ledger_services.ledger_sign(
        by=own, subject=m1, year=YEAR, section="q3r", slot="branch"
    )
    url = reverse("ledgers:withdraw", args=[signature.pk])
    client = as_user("own_branch_deputy")
    assert client.post(url, {"reason": "试图撤回"}).status_code == 403
    assert "撤回…" not in client.get(reverse("ledgers:member", args=[m1.pk, YEAR])).content.decode()
    client = as_user("parent_committee_secretary")
    assert client.post(url, {"reason": "点评内容需更正"}).status_code == 302
    signature.refresh_from_db()
    assert signature.withdrawn_at is not None and signature.withdraw_reason == "点评内容需更正"
    client = as_user("member_self")  # m1's ledger is not hers
    assert client.get(url).status_code == 404


# ---------------------------------------------------------------- notes


def test_the_summary_starts_from_the_members_draft(as_user, world):
    m1b = world.members["m1b"]
    draft_url = reverse("ledgers:member_note", args=[m1b.pk, YEAR, "year", "draft"])
    summary_url = reverse("ledgers:member_note", args=[m1b.pk, YEAR, "year", "summary"])
    client = as_user("member_self")
    assert client.get(summary_url).status_code == 403  # the keeper writes the summary
    response = client.post(draft_url, {"text": "全年走访群众二十次。"})
    assert response.status_code == 302 and shown(client, response) == ["已保存简要总结（初稿）。"]
    client = as_user("own_branch_secretary")
    page = client.get(summary_url).content.decode()
    assert ">\n全年走访群众二十次。</textarea>" in page
    response = client.post(summary_url, {"text": "全年走访群众二十次，带头修路。"})
    assert response.status_code == 302
    note = LedgerNote.objects.get(ledger__member=m1b, section="year", kind="summary")
    assert note.text == "全年走访群众二十次，带头修路。" and note.by == world.user(
        "own_branch_secretary"
    )
    html = client.get(reverse("ledgers:member", args=[m1b.pk, YEAR])).content.decode()
    assert "全年走访群众二十次，带头修路。" in html and "修改简要总结" in html
    response = client.post(summary_url, {"text": ""})
    assert shown(client, response) == ["已删除年度开展创先争优活动情况简要总结。"]
    assert not LedgerNote.objects.filter(kind="summary").exists()


def test_a_too_long_note_keeps_what_was_typed(as_user, world):
    m1 = world.members["m1"]
    url = reverse("ledgers:member_note", args=[m1.pk, YEAR, "q1", "supplement"])
    text = "长" * 4001
    response = as_user("own_branch_secretary").post(url, {"text": text})
    assert response.status_code == 200
    html = response.content.decode()
    assert "4000" in html and text in html
    assert not LedgerNote.objects.exists()


def test_a_missing_reason_lets_the_section_be_signed(as_user, world):
    m1 = world.members["m1"]
    client = as_user("own_branch_secretary")
    assert cell(m1, "q1r", "branch") not in boxes(
        client.get(grid_url(world.orgs["B1"])).content.decode()
    )
    url = reverse("ledgers:member_note", args=[m1.pk, YEAR, "q1r", "missing"])
    page = client.get(url).content.decode()
    assert "第一季度领导点评尚未签字" in page
    response = client.post(url, {"text": "一季度该党员外出务工，未能点评。"})
    assert response.status_code == 302
    assert cell(m1, "q1r", "branch") in boxes(
        client.get(grid_url(world.orgs["B1"])).content.decode()
    )


def test_a_signed_section_takes_no_more_notes(as_user, world):
    m1 = world.members["m1"]
    own = world.user("own_branch_secretary")
    ledger_services.ledger_sign(by=own, subject=m1, year=YEAR, section="q3r", slot="branch")
    client = as_user("own_branch_secretary")
    html = client.get(reverse("ledgers:member", args=[m1.pk, YEAR])).content.decode()
    url = reverse("ledgers:member_note", args=[m1.pk, YEAR, "q3r", "supplement"])
    assert url not in html
    response = client.post(url, {"text": "补充"})
    assert response.status_code == 200
    assert "已由王书记于2026年12月01日签字" in response.content.decode()
    assert not LedgerNote.objects.exists()


# ---------------------------------------------------------------- history


def test_the_history_lists_every_event_and_withdrawn_signatures(as_user, world):
    m1 = world.members["m1"]
    own = world.user("own_branch_secretary")
    signature = ledger_services.ledger_sign(
        by=own, subject=m1, year=YEAR, section="pledge", slot="member",
        paper_on=datetime.date(2026, 11, 30),
    )  # fmt: skip
    ledger_services.signature_withdraw(by=own, signature=signature, reason="日期登记错了")
    ledger_services.ledger_sign(
        by=own, subject=m1, year=YEAR, section="pledge", slot="member",
        paper_on=datetime.date(2026, 11, 29),
    )  # fmt: skip
    client = as_user("parent_committee_secretary")
    response = client.get(reverse("ledgers:history", args=[m1.pk, YEAR]))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("登记纸质签字</strong>") == 2
    assert "撤回签字</strong> · 承诺写实：" in html and "日期登记错了" in html
    assert "建立写实簿" in html
    assert html.count('<span class="status status-withdrawn">已撤回</span>') == 1
    assert html.count('<span class="status status-signed">有效</span>') == 1
    assert LedgerEvent.objects.filter(ledger__member=m1).count() == 4


def test_a_ledger_never_opened_has_an_empty_history(as_user, world):
    html = as_user("member_self").get(
        reverse("ledgers:history", args=[world.members["m1b"].pk, YEAR])
    )
    assert html.status_code == 200 and "还没有记录。" in html.content.decode()


# ---------------------------------------------------------------- links and to-dos


def _badge(page: str, text: str) -> int | None:
    found = re.search(rf"{text}</a> <span class=\"badge\">([0-9]+)</span>", page)
    return int(found.group(1)) if found else None


def test_the_home_to_dos_count_the_boxes_of_the_grids(as_user, world):
    m1, m1b = world.members["m1"], world.members["m1b"]
    publish_pledge(world, m1b)
    review_services.review_sign(
        by=world.user("parent_committee_secretary"), review=world.extra["ro"]
    )
    client = as_user("own_branch_secretary")
    grid = client.get(grid_url(world.orgs["B1"])).content.decode()
    own_boxes = [box for box in boxes(grid) if not box.endswith(":member")]
    home = client.get(reverse("home")).content.decode()
    assert _badge(home, "组织B12026年党员写实簿待签字") == len(own_boxes) == 1
    assert grid_url(world.orgs["B1"]) in home
    # the member signs her own 承诺写实: her to-do names it, her ledger offers it
    client = as_user("member_self")
    home = client.get(reverse("home")).content.decode()
    ledger = client.get(reverse("ledgers:member", args=[m1b.pk, YEAR])).content.decode()
    # her 承诺写实 and her third quarter (her pledge was due before it: nothing to report)
    assert _badge(home, "我的2026年写实簿待本人签字") == ledger.count('">签字…</a>') == 2
    # the parent signs B1's first-half review
    client = as_user("parent_committee_secretary")
    grid = client.get(reverse("ledgers:children", args=[world.orgs["T1"].pk, YEAR]))
    home = client.get(reverse("home")).content.decode()
    assert _badge(home, "组织T12026年下级党组织写实簿待签字") == len(boxes(grid.content.decode()))
    assert _badge(home, "组织T12026年下级党组织写实簿待签字") == 1
    # once signed, nothing is left to do
    ledger_services.ledger_sign(
        by=world.user("own_branch_secretary"), subject=m1, year=YEAR, section="q3r", slot="branch"
    )
    home = as_user("own_branch_secretary").get(reverse("home")).content.decode()
    assert _badge(home, "组织B12026年党员写实簿待签字") is None


def test_the_org_and_member_pages_link_the_ledgers(as_user, world):
    b1, t1, m1b = world.orgs["B1"], world.orgs["T1"], world.members["m1b"]
    client = as_user("parent_committee_secretary")
    t1_page = client.get(reverse("orgs:detail", args=[t1.pk])).content.decode()
    assert reverse("ledgers:children", args=[t1.pk, YEAR]) in t1_page
    b1_page = client.get(reverse("orgs:detail", args=[b1.pk])).content.decode()
    assert reverse("ledgers:branch", args=[b1.pk, YEAR]) in b1_page
    assert reverse("ledgers:org", args=[b1.pk, YEAR]) in b1_page
    client = as_user("member_self")
    member_page = client.get(reverse("orgs:member_detail", args=[m1b.pk])).content.decode()
    assert reverse("ledgers:member", args=[m1b.pk, YEAR]) in member_page
    b1_page = client.get(reverse("orgs:detail", args=[b1.pk])).content.decode()
    assert reverse("ledgers:branch", args=[b1.pk, YEAR]) not in b1_page  # 403 for her


def test_the_ledger_year_is_last_years_in_the_first_quarter(monkeypatch, as_user, world):
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: datetime.date(2027, 2, 1))
    page = as_user("member_self").get(reverse("orgs:member_detail", args=[world.members["m1b"].pk]))
    assert reverse("ledgers:member", args=[world.members["m1b"].pk, 2026]) in page.content.decode()


# ---------------------------------------------------------------- query bounds


def _branch_of(n: int):
    """A branch of `n` members under a new committee, its secretary, and its ledgers opened with
    a note and a signature on some, so every stored part of the grid is read."""
    t = make_org(f"TQ{n}", OrgKind.COMMITTEE, make_org(f"KQ{n}", OrgKind.COUNTY))
    branch = make_org(f"BQ{n}", OrgKind.BRANCH, t)
    secretary = make_user(f"sec{n}", Role.SECRETARY, branch)
    members = [make_member(branch, f"党员{i:02d}") for i in range(n)]
    ledger_services.ledgers_open(by=secretary, org=branch, year=YEAR)
    for member in members[:2]:
        pledge = pledge_services.pledge_create(
            by=secretary, year=YEAR, owner_member=member, **member_pledge_fields()
        )
        pledge_services.pledge_submit(by=secretary, pledge=pledge, today=datetime.date(YEAR, 2, 1))
        pledge_services.pledge_approve(by=secretary, pledge=pledge)
        ledger_services.ledger_note_save(
            by=secretary, subject=member, year=YEAR, section="q1r", kind="missing", text="外出"
        )
        ledger_services.ledger_sign(
            by=secretary, subject=member, year=YEAR, section="q1r", slot="branch"
        )
    return t, branch, secretary


@pytest.mark.parametrize("n", [3, 30])
def test_the_branch_grid_costs_the_same_queries_for_3_or_30_members(
    n, client, personas, django_assert_max_num_queries
):
    _, branch, secretary = _branch_of(n)
    client.force_login(secretary)
    client.get(grid_url(branch))  # the first read of a year writes its default calendar
    # session, user, the organisation, grants; the members (count and page); the assembly:
    # memberships, pledges and their reports (2), signed reviews, exemptions, published
    # appraisal entries and the sessions that left a subject out (2), ledgers, signatures,
    # notes, the pledge windows (calendar rows and office settings: 2); the breadcrumb's rule
    # and each cell's signing rule read the grants already read
    with django_assert_max_num_queries(18):
        response = client.get(grid_url(branch))
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('class="who"') == n
    assert page.count('<time datetime="2026-12-01">') == 2  # the two signed reviews


@pytest.mark.parametrize("n", [3, 30])
def test_the_children_grid_costs_the_same_queries_for_3_or_30_organisations(
    n, client, personas, django_assert_max_num_queries
):
    t = make_org(f"TC{n}", OrgKind.COMMITTEE, make_org(f"KC{n}", OrgKind.COUNTY))
    secretary = make_user(f"tsec{n}", Role.SECRETARY, t)
    for i in range(n):
        make_org(f"BC{n}-{i}", OrgKind.BRANCH, t)
    ledger_services.ledgers_open(by=secretary, org=t, year=YEAR)
    client.force_login(secretary)
    client.get(reverse("ledgers:children", args=[t.pk, YEAR]))  # writes the default calendar
    # session, user, the organisation, grants; the children (one list, paged); the assembly:
    # pledges (their reports when there are any: 1 more), signed reviews, exemptions, published
    # appraisal entries and the sessions that left a subject out (2), member and activist
    # figures (2), ledgers, signatures, notes, the pledge windows (calendar rows and office
    # settings: 2)
    with django_assert_max_num_queries(18):
        response = client.get(reverse("ledgers:children", args=[t.pk, YEAR]))
    assert response.status_code == 200
    assert response.content.decode().count('class="who"') == n
