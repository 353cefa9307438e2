"""The statistics tables on screen (reports/views.py): the numbers of each child's subtree, 本级 and
合计, rates as percentages, the drill-down from a child row to the child's own table and from an
organisation's own numbers to the names behind them, the period picker, the empty states, 404s
and the query bounds; and who reads, reports and returns (reports/access.py).

The figures are written straight into the kept figures tables for the personas' province (the
per-app compute functions are not involved), so every number below is known by hand:

    K1 (own) ── T1 (own) ──┬── B1
                           └── B2        and B3, under T2 in the other city (outside)
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from ledgers.models import LedgerFigure
from orgs import extensions, figures
from orgs.figures import Named
from orgs.models import Organization, OrgKind, Role
from orgs.periods import Period
from pledges.models import PledgeFigure
from reports import access
from reports import views as report_views
from reports.tables import TABLES
from reviews.appraisal.models import AppraisalFigure
from reviews.models import ReviewFigure
from tests.personas import make_org, make_user

pytestmark = pytest.mark.django_db

Q3 = Period.parse("2026Q3")
YEAR = Period.parse("2026Y1")
H2 = Period.parse("2026H2")
TODAY = datetime.date(2026, 8, 20)  # in the third quarter and the second half of 2026
AS_OF = datetime.datetime(2026, 8, 19, 23, 5, tzinfo=datetime.UTC)  # 8月20日 07:05 in Beijing
EARLIER = datetime.datetime(2026, 8, 18, 1, 0, tzinfo=datetime.UTC)

# own figures per organisation code, per figures model and period
FIGURES = {
    (ReviewFigure, Q3): {
        "B1": {"members_owed": 10, "members_reviewed": 7, "by_central": 3, "rect_raised": 1},
        "B2": {"members_owed": 4, "members_reviewed": 4, "by_individual": 4, "rect_raised": 2},
        "T1": {"orgs_owed": 2, "orgs_reviewed": 1, "secretaries_owed": 2, "exempt_orgs": 1},
        "K1": {"orgs_owed": 1, "reviewers_owed": 1},
        "B3": {"members_owed": 99, "members_reviewed": 1},
    },
    (PledgeFigure, YEAR): {
        "B1": {"orgs_owed": 1, "orgs_pledged": 1, "members_owed": 2, "members_pledged": 1},
        "B2": {"orgs_owed": 1, "members_owed": 1, "members_pledged": 1, "items": 5},
    },
    (AppraisalFigure, YEAR): {
        "B1": {"sessions_owed": 1, "sessions_held": 1, "votes_1": 12, "members_pass": 2},
    },
    (LedgerFigure, H2): {
        "B1": {"member_owed": 2, "member_open": 2, "m_review_due": 2, "m_review_signed": 1},
    },
}


def write_figures(orgs: dict[str, Organization], table=FIGURES) -> None:
    """The kept figures exactly as `table` says, whatever a service's refresh wrote before."""
    for model in (ReviewFigure, PledgeFigure, AppraisalFigure, LedgerFigure):
        model.objects.all().delete()
    for (model, period), by_code in table.items():
        model.objects.bulk_create(
            model(
                org=orgs[code],
                period=period.slug,
                computed_at=AS_OF if code == "B1" else EARLIER,
                **values,
            )
            for code, values in by_code.items()
        )


@pytest.fixture
def scene(personas, client, monkeypatch):
    """The personas' province with the figures above, and `today` fixed inside 2026Q3."""
    monkeypatch.setattr(
        report_views, "timezone", SimpleNamespace(localdate=lambda: TODAY, now=timezone.now)
    )
    write_figures(personas.orgs)

    def login(persona: str):
        client.force_login(get_user_model().objects.get(pk=personas.user(persona).pk))
        return client

    return SimpleNamespace(p=personas, orgs=personas.orgs, login=login, client=client)


def table_url(key: str, org: Organization, period: Period) -> str:
    return reverse("reports:table", args=[key, org.pk, period.slug])


def names_url(key: str, org: Organization, period: Period, drill: str) -> str:
    return reverse("reports:names", args=[key, org.pk, period.slug, drill])


def rows_of(response) -> dict[str, dict[str, report_views.Cell]]:
    """The page's rows by label, each {column key: cell}."""
    spec = response.context["spec"]
    return {
        row.label: dict(zip((c.key for c in spec.cols), row.cells, strict=True))
        for row in response.context["rows"]
    }


def values(row: dict[str, report_views.Cell]) -> dict[str, object]:
    return {key: cell.value for key, cell in row.items()}


def with_names(monkeypatch, key: str, listing) -> list[tuple]:
    """The source `key` answers names with `listing(period, org, drill)`; the calls it got."""
    calls = []

    def names(period, org, drill):
        calls.append((period, org.pk, drill))
        return listing(period, org, drill)

    monkeypatch.setitem(
        figures._sources, key, dataclasses.replace(figures.source(key), names=names)
    )
    return calls


# ---------------------------------------------------------------- the numbers


def test_a_table_has_a_row_per_child_subtree_the_own_row_and_the_total(scene):
    page = scene.login("county_secretary").get(table_url("reviews", scene.orgs["K1"], Q3))
    assert page.status_code == 200
    rows = rows_of(page)
    assert list(rows) == ["组织T1", "本级", "合计"]
    t1 = values(rows["组织T1"])  # T1 with B1 and B2 below it
    assert t1["members_owed"] == 14 and t1["members_reviewed"] == 11
    assert t1["orgs_owed"] == 2 and t1["orgs_reviewed"] == 1 and t1["exempt_orgs"] == 1
    assert t1["by_central"] == 3 and t1["by_individual"] == 4 and t1["rect_raised"] == 3
    assert values(rows["本级"])["orgs_owed"] == 1 and values(rows["本级"])["reviewers_owed"] == 1
    total = values(rows["合计"])
    for col in TABLES["reviews"].cols:
        if not col.is_rate:
            assert total[col.key] == t1[col.key] + values(rows["本级"])[col.key], col.key
    assert total["orgs_owed"] == 3 and total["members_owed"] == 14  # B3's 99 is not K1's


def test_rates_are_shown_as_percentages_and_a_dash_when_nothing_is_owed(scene):
    page = scene.login("parent_committee_secretary").get(table_url("reviews", scene.orgs["T1"], Q3))
    rows = rows_of(page)
    assert rows["组织B1"]["members_rate"].value == pytest.approx(0.7)
    assert rows["组织B2"]["members_rate"].value == 1
    assert rows["合计"]["members_rate"].value == pytest.approx(11 / 14)
    assert rows["组织B1"]["orgs_rate"].value is None
    html = page.content.decode()
    assert ">70.0%<" in html and ">100.0%<" in html and ">78.6%<" in html
    assert ">—<" in html  # B1 owes no organisation review


def test_the_header_has_two_rows_merged_by_group(scene):
    page = scene.login("parent_committee_secretary").get(table_url("reviews", scene.orgs["T1"], Q3))
    html = page.content.decode()
    assert '<th class="org" rowspan="2" scope="col">单位</th>' in html
    assert '<th colspan="3" scope="colgroup">基层党组织</th>' in html
    assert '<th colspan="4" scope="colgroup">点评方式（人次）</th>' in html
    assert html.count('scope="colgroup"') == len(TABLES["reviews"].groups)


def test_the_page_shows_the_time_of_its_figures(scene):
    page = scene.login("parent_committee_secretary").get(table_url("reviews", scene.orgs["T1"], Q3))
    html = page.content.decode()
    assert "数据截至" in html and "2026年8月20日 07:05" in html  # B1's, the latest
    assert "填报单位" in html and "领导点评情况统计表" in html and "2026年第三季度" in html


# ---------------------------------------------------------------- the drill-down


def test_a_child_rows_numbers_open_the_childs_table_which_agrees_with_them(scene):
    client = scene.login("county_secretary")
    k1_rows = rows_of(client.get(table_url("reviews", scene.orgs["K1"], Q3)))
    t1_url = table_url("reviews", scene.orgs["T1"], Q3)
    assert {cell.url for cell in k1_rows["组织T1"].values()} == {t1_url}
    assert all(cell.url == "" for cell in k1_rows["合计"].values())
    t1_rows = rows_of(client.get(t1_url))
    assert values(t1_rows["合计"]) == values(k1_rows["组织T1"])
    b1_url = table_url("reviews", scene.orgs["B1"], Q3)
    assert t1_rows["组织B1"]["members_owed"].url == b1_url
    b1_rows = rows_of(client.get(b1_url))
    assert values(b1_rows["本级"]) == values(t1_rows["组织B1"])


def test_own_numbers_that_are_not_zero_open_the_names_behind_them(scene):
    rows = rows_of(
        scene.login("parent_committee_secretary").get(table_url("reviews", scene.orgs["T1"], Q3))
    )
    own = rows["本级"]
    t1 = scene.orgs["T1"]
    assert own["orgs_owed"].url == names_url("reviews", t1, Q3, "orgs_owed")
    assert own["exempt_orgs"].url == names_url("reviews", t1, Q3, "exempt_orgs")
    # the rate opens those owed but not reviewed: 2 − 1
    assert own["orgs_rate"].url == names_url("reviews", t1, Q3, "orgs_owed-orgs_reviewed")
    assert own["members_owed"].url == ""  # zero: nothing behind it
    assert own["members_rate"].url == ""  # nothing owed


def test_a_branch_shows_its_own_row_alone_linked_to_its_names(scene):
    page = scene.login("own_branch_secretary").get(table_url("reviews", scene.orgs["B1"], Q3))
    rows = rows_of(page)
    assert list(rows) == ["本级"]
    b1 = scene.orgs["B1"]
    assert rows["本级"]["members_owed"].url == names_url("reviews", b1, Q3, "members_owed")
    assert rows["本级"]["members_rate"].url == names_url(
        "reviews", b1, Q3, "members_owed-members_reviewed"
    )
    assert "本组织没有下级党组织" in page.content.decode()


@pytest.mark.parametrize(
    "key, period, code, column, value",
    [
        ("pledges", YEAR, "T1", "items", 5),
        ("pledges", YEAR, "T1", "members_owed", 3),
        ("appraisal", YEAR, "T1", "votes_1", 12),
        ("ledgers", H2, "T1", "m_review_due", 2),
        ("ledgers", H2, "T1", "m_review_signed", 1),
    ],
)
def test_every_table_totals_its_children(scene, key, period, code, column, value):
    page = scene.login("parent_committee_secretary").get(table_url(key, scene.orgs[code], period))
    assert page.status_code == 200
    rows = rows_of(page)
    assert rows["合计"][column].value == value
    assert rows["合计"][column].value == sum(
        row[column].value for label, row in rows.items() if label != "合计"
    )


# ---------------------------------------------------------------- the names page


def listing_of(count: int):
    def listing(period, org, drill):
        return [
            Named(label=f"党员{n:02d}", url=f"/named/{n}/", detail="未点评") for n in range(count)
        ]

    return listing


def test_the_names_page_lists_what_the_own_number_counts(scene, monkeypatch):
    calls = with_names(monkeypatch, "reviews", listing_of(10))
    b1 = scene.orgs["B1"]
    page = scene.login("own_branch_secretary").get(names_url("reviews", b1, Q3, "members_owed"))
    assert page.status_code == 200
    assert calls == [(Q3, b1.pk, "members_owed")]
    assert page.context["count"] == 10 == page.context["listed"]
    html = page.content.decode()
    assert "党员：应点评" in html and "<strong>10</strong>" in html
    assert html.count('<a href="/named/') == 10
    assert "不一致" not in html
    assert "2026年8月20日 07:05" in html


def test_a_rates_names_are_those_owed_but_not_done(scene, monkeypatch):
    calls = with_names(monkeypatch, "reviews", listing_of(3))
    b1 = scene.orgs["B1"]
    url = names_url("reviews", b1, Q3, "members_owed-members_reviewed")
    page = scene.login("own_branch_secretary").get(url)
    assert calls == [(Q3, b1.pk, "members_owed-members_reviewed")]
    assert page.context["count"] == 3  # 10 owed − 7 reviewed
    assert "党员：应点评而未点评" in page.content.decode()


def test_a_list_that_differs_from_the_kept_number_says_so(scene, monkeypatch):
    with_names(monkeypatch, "reviews", listing_of(9))
    page = scene.login("own_branch_secretary").get(
        names_url("reviews", scene.orgs["B1"], Q3, "members_owed")
    )
    assert page.context["count"] == 10
    assert "按当前记录列出 9 条" in page.content.decode()


def test_a_long_list_is_paged(scene, monkeypatch):
    with_names(monkeypatch, "reviews", listing_of(120))
    url = names_url("reviews", scene.orgs["B1"], Q3, "members_owed")
    client = scene.login("own_branch_secretary")
    first = client.get(url).content.decode()
    assert first.count('<a href="/named/') == 50 and "第 1 / 3 页" in first
    last = client.get(url + "?page=3").content.decode()
    assert last.count('<a href="/named/') == 20 and 'start="101"' in last


def test_an_empty_list_says_so(scene, monkeypatch):
    with_names(monkeypatch, "reviews", lambda period, org, drill: [])
    page = scene.login("own_branch_secretary").get(
        names_url("reviews", scene.orgs["B1"], Q3, "by_onsite")
    )
    html = page.content.decode()
    assert page.context["count"] == 0 and "没有需要列出的记录" in html


def test_the_names_page_links_back_to_its_table(scene, monkeypatch):
    with_names(monkeypatch, "reviews", listing_of(1))
    t1 = scene.orgs["T1"]
    html = (
        scene.login("parent_committee_secretary")
        .get(names_url("reviews", t1, Q3, "orgs_owed"))
        .content.decode()
    )
    assert f'<a href="{table_url("reviews", t1, Q3)}">领导点评情况统计表</a>' in html
    assert f'<a href="{reverse("reports:index", args=[t1.pk])}">统计报表</a>' in html


# ---------------------------------------------------------------- periods and pages around


def test_the_period_picker_lists_the_years_begun_periods_and_the_years_beside(scene):
    page = scene.login("parent_committee_secretary").get(table_url("reviews", scene.orgs["T1"], Q3))
    picker = page.context["picker"]
    assert [(link.period.slug, link.current) for link in picker["periods"]] == [
        ("2026Q1", False),
        ("2026Q2", False),
        ("2026Q3", True),
    ]
    assert picker["before"].period.slug == "2025Q3"
    assert picker["after"] is None  # 2027 has not begun
    html = page.content.decode()
    assert f'href="{table_url("reviews", scene.orgs["T1"], Period.parse("2026Q1"))}"' in html
    xlsx = reverse("reports:xlsx", args=["reviews", scene.orgs["T1"].pk, Q3.slug])
    assert f'href="{xlsx}">下载 Excel</a>' in html


def test_last_years_table_offers_this_years_latest_period(scene):
    page = scene.login("parent_committee_secretary").get(
        table_url("reviews", scene.orgs["T1"], Period.parse("2025Q4"))
    )
    assert page.status_code == 200
    assert page.context["picker"]["after"].period.slug == "2026Q3"
    assert len(page.context["picker"]["periods"]) == 4


def test_the_index_shows_each_table_for_its_current_period(scene):
    page = scene.login("parent_committee_secretary").get(
        reverse("reports:index", args=[scene.orgs["T1"].pk])
    )
    assert page.status_code == 200
    cards = {card.spec.key: card for card in page.context["cards"]}
    assert {key: card.period.slug for key, card in cards.items()} == {
        "reviews": "2026Q3",
        "pledges": "2026Y1",
        "appraisal": "2026Y1",
        "ledgers": "2026H2",
    }
    assert cards["reviews"].as_of == AS_OF and cards["reviews"].children == 2
    # each rate of the table with its two numbers, from the total row
    assert [(h.label, h.value) for h in cards["reviews"].headlines] == [
        ("基层党组织应点评", 2),
        ("基层党组织已点评", 1),
        ("基层党组织点评率", 0.5),
        ("党员应点评", 14),
        ("党员已点评", 11),
        ("党员点评率", 11 / 14),
    ]
    assert [h.label for h in cards["appraisal"].headlines] == [
        "评议应开展",
        "评议已开展",
        "评议已公开结果",
        "参加人数党员",
    ]
    html = page.content.decode()
    for key, card in cards.items():
        assert f'href="{table_url(key, scene.orgs["T1"], card.period)}"' in html
    assert "2026年8月20日 07:05" in html
    assert f'action="{reverse("reports:xlsx_all", args=[scene.orgs["T1"].pk])}"' in html


def test_a_table_without_figures_says_there_is_no_data(scene):
    page = scene.login("parent_committee_secretary").get(
        table_url("reviews", scene.orgs["T1"], Period.parse("2026Q1"))
    )
    html = page.content.decode()
    assert page.context["table"].as_of is None and "暂无数据" in html
    assert list(rows_of(page)) == ["组织B1", "组织B2", "合计"]  # the children, at zero


def test_a_branch_without_figures_has_an_empty_state(scene):
    page = scene.login("sibling_branch_secretary").get(
        table_url("appraisal", scene.orgs["B2"], YEAR)
    )
    html = page.content.decode()
    assert page.status_code == 200 and page.context["rows"] == []
    assert "没有下级党组织" in html and "暂无数据" in html


def test_the_organisation_page_links_the_tables_for_their_readers(scene):
    b1 = scene.orgs["B1"]
    index = reverse("reports:index", args=[b1.pk])
    for persona, shown in (
        ("own_branch_secretary", True),
        ("office_inside", True),
        ("member_self", False),
        ("contact_leader", False),
    ):
        html = scene.login(persona).get(reverse("orgs:detail", args=[b1.pk])).content.decode()
        assert (f'href="{index}">统计报表</a>' in html) is shown, persona


def test_the_parents_table_is_offered_to_its_readers_only(scene):
    t1_url = table_url("reviews", scene.orgs["T1"], Q3)
    b1_url = table_url("reviews", scene.orgs["B1"], Q3)
    assert scene.login("parent_committee_secretary").get(b1_url).context["up_url"] == t1_url
    assert scene.login("own_branch_secretary").get(b1_url).context["up_url"] == ""


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "path",
    [
        "/reports/nosuch/{pk}/2026Q3/",  # no such table
        "/reports/reviews/{pk}/2026H2/",  # a half-year for a quarterly table
        "/reports/reviews/{pk}/2026Q5/",
        "/reports/reviews/{pk}/1999Q1/",  # outside the campaign's years
        "/reports/reviews/{pk}/26Q3/",
        "/reports/pledges/{pk}/2026Q3/",
        "/reports/reviews/{pk}/2026Q3/names/nosuch/",  # no such column
        "/reports/reviews/{pk}/2026Q3/names/members_rate/",  # a rate drills as owed-done
        "/reports/reviews/{pk}/2026Q3/names/members_reviewed-members_owed/",
        "/reports/reviews/99999999/2026Q3/",
        "/reports/99999999/",
        "/reports/abc/",
    ],
)
def test_bad_addresses_are_404(scene, path):
    url = path.format(pk=scene.orgs["T1"].pk)
    assert scene.login("parent_committee_secretary").get(url).status_code == 404


@pytest.mark.parametrize("persona", ["sibling_branch_secretary", "office_outside"])
def test_a_table_outside_the_scope_is_404(scene, persona):
    client = scene.login(persona)
    b1 = scene.orgs["B1"]
    assert client.get(table_url("reviews", b1, Q3)).status_code == 404
    assert client.get(names_url("reviews", b1, Q3, "members_owed")).status_code == 404
    assert client.get(reverse("reports:index", args=[b1.pk])).status_code == 404


@pytest.mark.parametrize("persona", ["member_self", "contact_leader"])
def test_who_sees_the_branch_without_a_reading_role_is_refused(scene, persona):
    assert scene.login(persona).get(table_url("reviews", scene.orgs["B1"], Q3)).status_code == 403


def test_an_organisation_no_longer_active_has_no_tables(scene):
    b2 = scene.orgs["B2"]
    Organization.objects.filter(pk=b2.pk).update(is_active=False)
    client = scene.login("parent_committee_secretary")
    assert client.get(table_url("reviews", b2, Q3)).status_code == 404
    assert list(rows_of(client.get(table_url("reviews", scene.orgs["T1"], Q3)))) == [
        "组织B1",
        "本级",
        "合计",
    ]


def test_the_routes_take_get_only(scene):
    client = scene.login("parent_committee_secretary")
    assert client.post(table_url("reviews", scene.orgs["T1"], Q3)).status_code == 405


def test_a_table_key_outside_the_tables_has_no_route():
    with pytest.raises(NoReverseMatch):
        reverse("reports:table", args=["nosuch", 1, "2026Q3"])


# ---------------------------------------------------------------- query bounds


def _widen(personas, extra: int) -> None:
    """`extra` more branches under T1, each with figures of its own."""
    t1 = personas.orgs["T1"]
    for n in range(extra):
        branch = make_org(f"X{n}", OrgKind.BRANCH, t1)
        # the service refreshed the new branch's (empty) figures; these replace them
        ReviewFigure.objects.update_or_create(
            org=branch,
            period=Q3.slug,
            defaults={"computed_at": AS_OF, "members_owed": 3, "members_reviewed": n % 4},
        )


@pytest.mark.parametrize("extra", [0, 10])
def test_the_table_costs_the_same_queries_whatever_the_subtree(
    scene, extra, monkeypatch, django_assert_max_num_queries
):
    _widen(scene.p, extra)
    client = scene.login("county_secretary")
    url = table_url("reviews", scene.orgs["T1"], Q3)
    # session, user (with the top bar's unread count), the organisation with its parent and
    # secretary, grants; the table: the children, the grouped roll-up, the own row
    with django_assert_max_num_queries(7):
        page = client.get(url)
    assert len(page.context["rows"]) == 2 + extra + 2


@pytest.mark.parametrize("extra", [0, 10])
def test_the_names_page_costs_the_same_queries_whatever_the_subtree(
    scene, extra, monkeypatch, django_assert_max_num_queries
):
    _widen(scene.p, extra)
    with_names(monkeypatch, "reviews", listing_of(70))
    client = scene.login("county_secretary")
    # session, user, the organisation, grants; the own row (the names: none here)
    with django_assert_max_num_queries(5):
        page = client.get(names_url("reviews", scene.orgs["T1"], Q3, "orgs_owed"))
    assert page.status_code == 200


@pytest.mark.parametrize("extra", [0, 10])
def test_the_index_costs_the_same_queries_whatever_the_subtree(
    scene, extra, django_assert_max_num_queries
):
    _widen(scene.p, extra)
    client = scene.login("county_secretary")
    # session, user, the organisation, grants; three per table
    with django_assert_max_num_queries(4 + 3 * len(TABLES)):
        assert client.get(reverse("reports:index", args=[scene.orgs["T1"].pk])).status_code == 200


# ---------------------------------------------------------------- who reads, reports, returns


READERS_OF_B1 = {
    "own_branch_secretary",
    "own_branch_deputy",
    "parent_committee_secretary",
    "county_secretary",
    "office_inside",
}


def test_every_reading_role_over_an_organisation_reads_its_tables(personas):
    b1 = personas.orgs["B1"]
    for name, user in personas.users.items():
        if user is not None:
            assert access.can_read_stats(user, b1) is (name in READERS_OF_B1), name


@pytest.mark.parametrize(
    "persona, code, may",
    [
        ("own_branch_secretary", "B1", True),
        ("own_branch_deputy", "B1", True),
        ("office_inside", "K1", True),
        ("office_inside", "T1", False),  # T1 reports for itself
        ("parent_committee_secretary", "T1", True),
        ("parent_committee_secretary", "B1", False),
        ("member_self", "B1", False),
        ("contact_leader", "B1", False),
    ],
)
def test_an_organisation_reports_its_own_tables(personas, persona, code, may):
    assert access.can_submit(personas.user(persona), personas.orgs[code]) is may


@pytest.mark.parametrize(
    "persona, code, may",
    [
        ("parent_committee_secretary", "B1", True),  # T1 received B1's report
        ("office_inside", "T1", True),  # K1's office received T1's
        ("county_secretary", "T1", True),
        ("county_secretary", "B1", False),  # B1 reports to T1, not to K1
        ("own_branch_secretary", "B1", False),
        ("unrelated_committee_secretary", "B1", False),
        ("office_inside", "P", False),  # the top reports to nobody here
    ],
)
def test_a_report_is_returned_by_those_it_was_sent_to(personas, persona, code, may):
    assert access.can_return(personas.user(persona), personas.orgs[code]) is may


def test_an_office_granted_at_a_branch_reads_and_reports_it(personas):
    office = make_user("office_b1", Role.OFFICE, personas.orgs["B1"])
    assert access.can_read_stats(office, personas.orgs["B1"])
    assert access.can_submit(office, personas.orgs["B1"])
    assert not access.can_read_stats(office, personas.orgs["T1"])


def test_the_breadcrumb_rules_follow_the_readers(personas):
    b1 = personas.orgs["B1"]
    for route, args in (
        ("reports:index", (b1,)),
        ("reports:table", ("reviews", b1, Q3.slug)),
        ("reports:names", ("reviews", b1, Q3.slug, "members_owed")),
    ):
        for name, user in personas.users.items():
            if user is not None:
                assert extensions.may_open(user, route, *args) is (name in READERS_OF_B1)


def test_every_table_column_drills_to_a_name_the_route_accepts():
    for spec in TABLES.values():
        for col in spec.cols:
            url = reverse("reports:names", args=[spec.key, 1, "2026Y1", col.drill])
            assert re.search(rf"/names/{re.escape(col.drill)}/$", url)
