"""The official forms as PDF (ledgers/pdf.py), read back with poppler's pdftotext: each section's
content and signers in their place on the 写实簿, long text carried onto 续页 pages whole, user
text escaped, nothing fetched but data: URIs, and the secretary's letter and the review form
holding their fields. The scenes are made through the services, on top of the shared world
(tests/pledge_world.py, review_world.py, appraisal_world.py)."""

from __future__ import annotations

import datetime
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.utils import timezone
from weasyprint import HTML

from ledgers import pdf
from ledgers import services as ledger_services
from ledgers.assembly import member_ledgers, org_ledgers
from ledgers.models import NoteKind
from orgs import services as org_services
from orgs.models import Member, Organization
from pledges import letters
from pledges import services as pledge_services
from pledges.models import Pledge, Progress
from reviews import services as review_services
from reviews.appraisal import services as appraisal_services
from reviews.appraisal.selectors import published_entries_by_subject
from tests.appraisal_world import cast, plan_fields
from tests.personas import make_member
from tests.pledge_world import approved_org_pledge, member_pledge_fields

YEAR = 2026
TODAY = datetime.date(2026, 12, 20)  # every period of the year has ended but the last
SIGN_DAY = datetime.date(2026, 4, 3)
PAPER_DAY = datetime.date(2026, 4, 2)

# A4 in PostScript points, and the grid pages' body (print.css @page grid: 17mm top, 24mm bottom,
# 17mm left, 15mm right; the label column is 12mm): pdftotext reads the body without the running
# header and footer, and the text column without the vertical labels.
PAGE_W, PAGE_H = 595, 842
MM = 72 / 25.4
BODY = (round((17 + 12.5) * MM), round(17 * MM) + 1, PAGE_W, PAGE_H - round(24 * MM) - 1)
HEADER = (0, 0, PAGE_W, round(17 * MM))


# ---------------------------------------------------------------- reading a PDF back


def pdf_pages(data: bytes, *, box: tuple[int, int, int, int] | None = None) -> list[str]:
    """The text of each page (pdftotext -raw: the order the text was drawn in), optionally of a box (x0, y0, x1, y1 in
    points) only."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.pdf"
        path.write_bytes(data)
        args = ["pdftotext", "-raw", "-enc", "UTF-8"]
        if box is not None:
            x0, y0, x1, y1 = box
            args += ["-r", "72", "-x", str(x0), "-y", str(y0), "-W", str(x1 - x0)]
            args += ["-H", str(y1 - y0)]
        out = subprocess.run([*args, str(path), "-"], capture_output=True, check=True).stdout
    pages = out.decode("utf-8").split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def flat(text: str) -> str:
    """Text without any white space: pdftotext breaks lines and spaces letters as laid out."""
    return re.sub(r"\s+", "", text)


def page_with(pages: list[str], needle: str, start: int = 2) -> int:
    """The index of the first page from `start` on (after the cover and the 说明 page, which
    names the sections too) whose text holds `needle` (white space ignored)."""
    for n, page in enumerate(pages[start:], start=start):
        if flat(needle) in flat(page):
            return n
    raise AssertionError(f"{needle!r} is on no page")


def between(text: str, start: str, end: str | None) -> str:
    """The flattened text after `start` and before `end` (or to the end)."""
    body = flat(text)
    begin = body.index(flat(start)) + len(flat(start))
    stop = body.index(flat(end), begin) if end else len(body)
    return body[begin:stop]


def long_text(prefix: str, length: int) -> str:
    """`length` characters of numbered phrases, so that a lost piece anywhere shows."""
    parts, n = [], 0
    while sum(map(len, parts)) < length:
        n += 1
        parts.append(f"{prefix}{n:04d}号记录走访群众，")
    return "".join(parts)[:length]


# ---------------------------------------------------------------- scenes through the services


def _dated(pledge: Pledge, day=datetime.date(YEAR, 1, 10)) -> Pledge:
    """Pledged early in the year: the world was built today, after the quarters being printed."""
    Pledge.objects.filter(pk=pledge.pk).update(
        created_at=datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)
    )
    pledge.refresh_from_db()
    return pledge


def published_pledge(world, member: Member, **fields) -> Pledge:
    own = world.user("own_branch_secretary")
    pledge = pledge_services.pledge_create(
        by=own, year=YEAR, owner_member=member, **member_pledge_fields(**fields)
    )
    pledge_services.pledge_submit(by=own, pledge=pledge, today=datetime.date(YEAR, 2, 1))
    pledge_services.pledge_approve(by=own, pledge=pledge)
    pledge_services.pledge_publish(by=own, pledge=pledge)
    return _dated(pledge)


def member_view(member: Member, today=TODAY):
    return member_ledgers(year=YEAR, members=[member], today=today)[0]


def org_view(org: Organization, today=TODAY):
    org = Organization.objects.select_related("parent", "secretary").get(pk=org.pk)
    return org_ledgers(year=YEAR, orgs=[org], today=today)[0]


def sign_m1(world) -> None:
    """m1 (李一, no login) signs the paper ledger; the deputy signs for the branch secretary; the
    first quarter is signed, its missing review explained."""
    own, deputy = world.user("own_branch_secretary"), world.user("own_branch_deputy")
    m1 = world.members["m1"]
    _dated(world.extra["pm"])
    sign = ledger_services.ledger_sign
    sign(by=own, subject=m1, year=YEAR, section="pledge", slot="member", paper_on=PAPER_DAY,
         today=SIGN_DAY)  # fmt: skip
    sign(by=deputy, subject=m1, year=YEAR, section="pledge", slot="branch", today=SIGN_DAY)
    sign(by=own, subject=m1, year=YEAR, section="q1", slot="member", paper_on=PAPER_DAY,
         today=SIGN_DAY)  # fmt: skip
    ledger_services.ledger_note_save(
        by=own, subject=m1, year=YEAR, section="q1r", kind=NoteKind.MISSING,
        text="第一季度外出学习，未开展点评", today=SIGN_DAY,
    )  # fmt: skip
    sign(by=own, subject=m1, year=YEAR, section="q1r", slot="branch", today=SIGN_DAY)


def publish_b1_appraisal(world):
    """B1's 2026 member appraisal, every issued code cast, decided as suggested and published."""
    own = world.user("own_branch_secretary")
    appraisal = world.extra["ap_open"]
    for code in world.extra["codes"][2:]:
        cast(appraisal, code, 1, 2, 1)
    appraisal = appraisal_services.appraisal_close(by=own, appraisal=appraisal)
    appraisal_services.results_decide(
        by=own,
        appraisal=appraisal,
        decisions={
            s.pk: (s.suggested_grade or "pass", "" if s.suggested_grade else "支部委员会认定")
            for s in appraisal.subjects.all()
        },
    )
    return appraisal_services.appraisal_publish(
        by=own, appraisal=appraisal, low_turnout_confirmed=True
    )


# ---------------------------------------------------------------- the member ledger


def test_member_ledger_prints_each_section_and_its_signers_in_place(world):
    sign_m1(world)
    m1 = world.members["m1"]
    view = member_view(m1)
    data = pdf.ledger_pdf([view], verify_url="https://example.org/ledgers/1/verify")
    pages = pdf_pages(data)

    cover, notes = pages[0], pages[1]
    assert "党员创先争优活动写实簿" in flat(cover)
    assert flat("（2026年度）") in flat(cover)
    assert "李一" in between(cover, "党员姓名：", "所在党组织名称")
    assert "组织B1" in between(cover, "所在党组织名称：", None)
    assert pdf.DEFAULT_ISSUER.replace(" ", "") in flat(cover)
    assert "说明" in flat(notes) and "写实栏不够时，可另附页" in flat(notes)

    first = pages[page_with(pages, "公开承诺事项")]
    assert "李一" in between(first, "姓名", "性别")
    assert "汉族" in between(first, "民族", "出生年月")
    assert "1970年5月" in between(first, "出生年月", "入党时间")
    pledge = between(first, "公开承诺事项", "党员本人（签字）")
    assert "每月走访困难群众一次" in pledge and "走访12次" in pledge
    assert "2026年6月30日" in pledge
    # the paper signature, and the deputy who signed for the secretary
    member_sign = between(first, "党员本人（签字）：", "党支部书记（签字）")
    assert member_sign.startswith("李一（纸质写实簿签字")
    assert "2026年4月3日" not in member_sign and "2026年4月2日" in member_sign
    branch_sign = between(first, "党支部书记（签字）：", None)
    assert branch_sign.startswith("deputy_own（党支部副书记，代书记签字）")
    assert "2026年4月3日" in branch_sign

    q1 = pages[page_with(pages, "第一季度承诺兑现情况")]
    assert "走访3户" in between(q1, "第一季度承诺兑现情况", "党员本人（签字）")
    assert between(q1, "党员本人（签字）：", "领导点评").startswith("李一（纸质写实簿签字")
    review = between(q1, "领导点评（要写清成绩、不足和努力方向）", "党支部书记（签字）")
    assert "第一季度外出学习，未开展点评" in review
    # the secretary signs in the slot's own capacity: no note after the name
    secretary = world.extra["secretary"].name
    assert between(q1, "党支部书记（签字）：", None).startswith(f"{secretary}2026年4月3日")

    # the signed review of the third quarter, with its reviewer; its page's lines still blank
    q3 = pages[page_with(pages, "第三季度承诺兑现情况")]
    q3_review = between(q3, "领导点评（要写清成绩、不足和努力方向）", "党支部书记（签字）")
    assert "带头走访群众" in q3_review and "学习不够系统" in q3_review
    assert "加强理论学习" in q3_review
    assert f"点评人：{world.extra['rm'].reviewer_name}" in q3_review
    assert between(q3, "党员本人（签字）：", "领导点评").startswith("年月日")
    assert between(q3, "党支部书记（签字）：", None).startswith("年月日")
    # a quarter due with nothing reported says what is missing and who owes it
    q2 = pages[page_with(pages, "第二季度承诺兑现情况")]
    assert "未报告第二季度兑现情况" in between(q2, "第二季度承诺兑现情况", "党员本人（签字）")
    # the fourth quarter has not ended: nothing is missing yet
    q4 = pages[page_with(pages, "第四季度承诺兑现情况")]
    assert "缺记录" not in flat(q4)


def test_member_ledger_prints_member_scale_counts_and_decided_grade(world):
    publish_b1_appraisal(world)
    m1 = world.members["m1"]
    entry = published_entries_by_subject(year=YEAR, members=[m1])[m1.pk]
    assert entry.counts and entry.grade_label  # the scene: a graded, counted result
    own = world.user("own_branch_secretary")
    ledger_services.ledger_note_save(
        by=own, subject=m1, year=YEAR, section="year", kind=NoteKind.SUMMARY,
        text="全年履诺情况良好", today=TODAY,
    )  # fmt: skip
    pages = pdf_pages(pdf.ledger_pdf([member_view(m1)]))
    year = pages[page_with(pages, "党员群众评议情况")]
    summary = between(year, "年度开展创先争优活动情况简要总结", "党员群众评议情况")
    assert "全年履诺情况良好" in summary
    table = between(year, "党员群众评议情况", "党支部书记（签字）")
    assert table.startswith("评价等次好较好一般差参加党员人数参加群众人数")
    assert "满意" not in table  # the member scale, not the organisation's headings
    row = "票数" + "".join(str(n) for n in entry.counts)
    row += f"{entry.party_participants}{entry.mass_participants}"
    assert row in table
    assert f"评议结果{entry.grade_label}" in table


def test_member_left_out_of_the_appraisal_prints_deferred_with_reason(world):
    b2, m2 = world.orgs["B2"], world.members["m2"]
    sibling = world.user("sibling_branch_secretary")
    make_member(b2, "王三")
    held = datetime.date(YEAR, 11, 20)
    appraisal = appraisal_services.appraisal_create(
        by=sibling, org=b2, kind="member", year=YEAR, today=held,
        **plan_fields(expected_member=5, expected_masses=0),
    )  # fmt: skip
    subject = appraisal.subjects.get(member=m2)
    appraisal_services.subject_exclude(by=sibling, subject=subject, reason="长期外出务工")
    appraisal_services.appraisal_advance(by=sibling, appraisal=appraisal, today=held)
    appraisal_services.appraisal_advance(by=sibling, appraisal=appraisal, today=held)
    for _, code in appraisal_services.slips_issue(
        by=sibling, appraisal=appraisal, group="member", count=5
    ):
        cast(appraisal, code, 1)
    appraisal = appraisal_services.appraisal_close(by=sibling, appraisal=appraisal)
    appraisal_services.results_decide(
        by=sibling,
        appraisal=appraisal,
        decisions={s.pk: (s.suggested_grade or "pass", "") for s in appraisal.subjects.all()},
    )
    appraisal_services.appraisal_publish(by=sibling, appraisal=appraisal)

    pages = pdf_pages(pdf.ledger_pdf([member_view(m2)]))
    year = pages[page_with(pages, "党员群众评议情况")]
    assert "评议结果暂缓评议（长期外出务工）" in between(
        year, "党员群众评议情况", "党支部书记（签字）"
    )


def test_quarters_spent_in_another_branch_name_that_branch(world):
    m2 = world.members["m2"]
    org_services.member_transfer(
        by=world.user("parent_committee_secretary"),
        member=m2,
        to_org=world.orgs["B1"],
        on=datetime.date(YEAR, 7, 15),
    )
    view = member_view(Member.objects.get(pk=m2.pk))
    assert view.keeper == world.orgs["B1"]
    pages = pdf_pages(pdf.ledger_pdf([view]))
    for quarter in ("第一季度", "第二季度"):
        page = pages[page_with(pages, f"{quarter}承诺兑现情况")]
        assert flat(f"{quarter}所在党支部：组织B2") in flat(page)
    for quarter in ("第三季度", "第四季度"):
        assert "所在党支部" not in flat(pages[page_with(pages, f"{quarter}承诺兑现情况")])


# ---------------------------------------------------------------- the organisation ledger


def test_org_ledger_prints_header_pledges_and_missing_review(world):
    approved_org_pledge(world)
    _dated(world.extra["pa"])
    pages = pdf_pages(pdf.ledger_pdf([org_view(world.orgs["B1"])]))
    cover = pages[0]
    assert "党组织创先争优写实簿" in flat(cover)
    assert "组织B1" in between(cover, "党组织名称：", None)
    assert "党员姓名" not in flat(cover)

    first = pages[page_with(pages, "公开承诺事项")]
    assert "组织B1" in between(first, "党组织名称", "党组织书记姓名")
    assert "王书记" in between(first, "党组织书记姓名", "党员人数")
    assert "修桥" in between(first, "公开承诺事项", "基层党组织书记（签字）")
    assert between(first, "基层党组织书记（签字）：", "上级党组织书记").startswith("年月日")

    h1 = pages[page_with(pages, "上半年承诺兑现情况")]
    # the review of the first half-year is only a draft: the section says so, and who owes it
    review = between(h1, "领导点评（要写清成绩、不足和努力方向）", "上级党组织书记（签字）")
    assert "上半年领导点评尚未签字" in review and "组织T1书记" in review
    year = pages[page_with(pages, "党员群众评议情况")]
    assert between(year, "党员群众评议情况", "上级党组织书记（签字）").startswith(
        "评价等次满意比较满意一般不满意参加党员人数参加群众人数"
    )


# ---------------------------------------------------------------- long text, 续页


def test_long_text_continues_on_pages_naming_the_ledger_and_section(world):
    own = world.user("own_branch_secretary")
    m1b = world.members["m1b"]
    reports = []
    for n in (1, 2):
        pledge = published_pledge(world, m1b, content=f"第{n}项承诺")
        text = long_text(f"甲{n}", 2000)
        pledge_services.fulfilment_record(
            by=own, pledge=pledge, year=YEAR, period=2, text=text, status=Progress.IN_PROGRESS,
            today=datetime.date(YEAR, 6, 1),
        )  # fmt: skip
        reports.append(text)
    summary = long_text("乙", 4000)
    ledger_services.ledger_note_save(
        by=own, subject=m1b, year=YEAR, section="year", kind=NoteKind.SUMMARY, text=summary,
        today=TODAY,
    )  # fmt: skip
    supplement = long_text("丙", 1500)
    ledger_services.ledger_note_save(
        by=own, subject=m1b, year=YEAR, section="q2", kind=NoteKind.SUPPLEMENT, text=supplement,
        today=TODAY,
    )  # fmt: skip
    data = pdf.ledger_pdf([member_view(m1b)])

    body = "".join(flat(page) for page in pdf_pages(data, box=BODY))
    assert len(reports[0] + reports[1]) == 4000
    for text in (*reports, summary, supplement):
        assert flat(text) in body  # every character, in order, across the page breaks
    assert flat("（另附页）" + supplement) in body  # marked where the form says 另附页

    headers = [flat(page) for page in pdf_pages(data, box=HEADER)]
    title = flat("李二 2026年度党员创先争优活动写实簿")
    q2_pages = [h for h in headers if "续页：履诺践诺写实·第二季度承诺兑现情况" in h]
    year_pages = [h for h in headers if "续页：年度写实·年度开展创先争优活动情况简要总结" in h]
    assert q2_pages and year_pages
    assert all(title in h for h in q2_pages + year_pages)
    # a page that begins with a heading is not a continuation
    pages = pdf_pages(data)
    q1 = page_with(pages, "第一季度承诺兑现情况")
    assert "续页" not in headers[q1] and title in headers[q1]


# ---------------------------------------------------------------- escaping and fetching


def test_user_text_is_printed_as_text(world):
    hostile = '<script>alert("x")</script> & <b>粗体</b> <img src="file:///etc/passwd">'
    m1b = world.members["m1b"]
    published_pledge(world, m1b, content=hostile)
    html = pdf.ledger_html([member_view(m1b)])
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; &lt;b&gt;" in html
    pages = pdf_pages(pdf.ledger_pdf([member_view(m1b)]))
    first = pages[page_with(pages, "公开承诺事项")]
    assert flat(hostile) in flat(first)


def test_fetcher_answers_data_uris_only():
    with pytest.raises(ValueError):
        pdf.url_fetcher("file:///etc/passwd")
    with pytest.raises(ValueError):
        pdf.url_fetcher("http://example.com/")
    with pytest.raises(ValueError):
        pdf.url_fetcher("FILE:///etc/passwd")
    assert pdf.url_fetcher("data:text/plain;base64,5YWa").read() == "党".encode()


def test_render_reads_no_local_file(tmp_path):
    leak = tmp_path / "leak.css"
    leak.write_text('body::after { content: "LEAKED-STYLE"; }')
    secret = tmp_path / "secret.html"
    secret.write_text("<p>LEAKED-FRAME</p>")
    html = (
        f'<html><head><link rel="stylesheet" href="{leak.as_uri()}"></head>'
        f'<body><p>正文</p><img src="{leak.as_uri()}"><object data="{secret.as_uri()}"></object>'
        '<img src="http://example.com/x.png"></body></html>'
    )
    # a bare render would read the file: the test sees the difference
    assert "LEAKED-STYLE" in flat("".join(pdf_pages(HTML(string=html).write_pdf())))
    text = flat("".join(pdf_pages(pdf.render_pdf(html))))
    assert "正文" in text and "LEAKED" not in text


# ---------------------------------------------------------------- batches and verification


def test_batch_starts_each_ledger_on_a_new_page_with_its_own_qr_and_hash(world):
    sign_m1(world)
    views = member_ledgers(
        year=YEAR, members=[world.members["m1"], world.members["m1b"]], today=TODAY
    )
    urls = {v.member.pk: f"https://example.org/ledgers/{v.member.pk}/verify" for v in views}
    html = pdf.ledger_html(views, verify_url=lambda v: urls[v.member.pk])
    for url in urls.values():
        assert pdf.qr_data_uri(url) in html
    pages = pdf_pages(pdf.ledger_pdf(views, verify_url=lambda v: urls[v.member.pk]))
    covers = [n for n, page in enumerate(pages) if "党员创先争优活动写实簿" in page[:40]]
    assert len(covers) == 2
    second = pages[covers[1]]
    assert "李二" in between(second, "党员姓名：", "所在党组织名称")
    assert "李一" not in flat(second)
    # the first ledger's footer carries its chain's short hash; the second has no signature yet
    assert views[0].short_hash
    assert all(views[0].short_hash in page for page in pages[covers[0] + 2 : covers[1]])
    assert all("尚无签字" in page for page in pages[covers[1] + 2 :])


def test_issuer_line_comes_from_the_setting(world, settings):
    settings.LEDGER_ISSUER = "黑龙江省创先争优活动领导小组办公室 制"
    pages = pdf_pages(pdf.ledger_pdf([member_view(world.members["m1"])]))
    assert flat("黑龙江省创先争优活动领导小组办公室 制") in flat(pages[0])
    pages = pdf_pages(pdf.ledger_pdf([member_view(world.members["m1"])], issuer="某县委 制"))
    assert "某县委制" in flat(pages[0]) and "黑龙江" not in flat(pages[0])


# ---------------------------------------------------------------- 党组织书记公开承诺书


def test_secretary_letter_holds_its_fields_signature_and_upper_opinion(world):
    own, parent = world.user("own_branch_secretary"), world.user("parent_committee_secretary")
    letter = world.extra["sp"]
    draft = flat("".join(pdf_pages(pdf.secretary_letter_pdf(letter))))
    assert "草稿" in draft
    assert "(签字)年月日" in draft  # a blank line for the pen

    letter = letters.secretary_pledge_submit(by=own, sp=letter)
    letter = letters.secretary_pledge_review(
        by=parent, sp=letter, approve=True, opinion="同意，请抓好落实 & 按季报送"
    )
    letter = type(letter).objects.select_related("member", "org").get(pk=letter.pk)
    text = flat("".join(pdf_pages(pdf.secretary_letter_pdf(letter))))
    assert "党组织书记公开承诺书" in text and "草稿" not in text
    assert "王书记" in between(text, "姓名", "性别")
    assert "男" in between(text, "性别", "出生年月")
    assert "1968年3月" in between(text, "出生年月", "职务")
    assert "党支部书记" in between(text, "职务", "任职")
    assert "2021年1月" in between(text, "任职时间", "联系方式")
    assert "13800000000" in between(text, "联系方式", "党组织名称")
    assert "组织B1" in between(text, "党组织名称", "公开承诺事项")
    signed = f"{letter.signed_on.year}年{letter.signed_on.month}月{letter.signed_on.day}日"
    pledge = between(text, "公开承诺事项", "上一级党组织审定意见")
    assert "带头走访全村困难户" in pledge and f"(签字)王书记{signed}" in pledge
    upper = f"{letter.upper_on.year}年{letter.upper_on.month}月{letter.upper_on.day}日"
    opinion = between(text, "上一级党组织审定意见", "注：")
    assert "同意，请抓好落实&按季报送" in opinion and f"(盖章){upper}" in opinion
    assert "注：承诺书一式四份，本级组织存一份，公示一份，上报两份。" in text


# ---------------------------------------------------------------- 点评意见表


def test_review_form_prints_one_signed_review_per_page(world):
    parent = world.user("parent_committee_secretary")
    ro = review_services.review_sign(by=parent, review=world.extra["ro"])
    rm = world.extra["rm"]
    data = pdf.review_form_pdf([rm, ro])
    pages = pdf_pages(data)
    assert len(pages) == 2
    member_page, org_page = (flat(p) for p in pages)
    assert "点评意见表" in member_page
    reviewer = between(member_page, "点评领导姓名职务", "被点评单位(人)")
    assert reviewer == flat(f"{rm.reviewer_name}{rm.reviewer_post}")
    assert "李一" in between(member_page, "被点评单位(人)", "期次")
    assert "2026年第三季度" in between(member_page, "期次", "方式")
    assert "个别点评" in between(member_page, "方式", "点评日期")
    opinion = between(member_page, "点评意见", "领导签字")
    assert "成绩：带头走访群众" in opinion and "不足：学习不够系统" in opinion
    assert "努力方向：加强理论学习" in opinion
    signed = timezone.localdate(rm.signed_at)
    signed_text = f"{rm.reviewer_name}{signed:%Y}年{signed.month}月{signed.day}日"
    assert between(member_page, "领导签字：", None) == signed_text
    assert "组织B1" in between(org_page, "被点评单位(人)", "期次")
    assert "2026年上半年" in org_page and "集中点评" in org_page


def test_review_form_refuses_a_draft(world):
    with pytest.raises(ValueError):
        pdf.review_form_pdf([world.extra["ro"]])
