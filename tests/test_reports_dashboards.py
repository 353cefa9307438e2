"""The statistics cards on the home page (reports/dashboards.py) and their SVG charts
(reports/charts.py): the numbers equal the roll-ups of the kept figures behind them, every label
is escaped, the links open the tables and names lists, a card costs the same queries whatever
the size of the subtree, and the home page still answers for users without a card.

The figures are written straight into the kept figures tables (the per-app compute functions
are not involved), so every number is known by hand:

    K (county) ──┬── T (committee, own members) ──┬── B1
                 │                                └── B2
                 └── B3 (a branch under the county)
"""

from __future__ import annotations

import dataclasses
import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from orgs import extensions, figures
from orgs.figures import Named
from orgs.models import Organization, OrgKind, Role
from orgs.periods import Period
from pledges.models import PledgeFigure
from reports import charts, dashboards
from reviews.appraisal.models import AppraisalFigure
from reviews.models import ReviewFigure
from tests.personas import make_user

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 8, 20)  # the third quarter of 2026
Q1, Q2, Q3 = (Period.quarter(2026, n) for n in (1, 2, 3))
YEAR = Period.whole_year(2026)
LAST_YEAR = Period.whole_year(2025)
AS_OF = datetime.datetime(2026, 8, 19, 23, 5, tzinfo=datetime.UTC)  # 8月20日 07:05 in Beijing

FIGURES = {
    (ReviewFigure, Q3): {
        "B1": {"members_owed": 10, "members_reviewed": 7},
        "B2": {"members_owed": 4, "members_reviewed": 4},
        "T": {"members_owed": 5, "members_reviewed": 1, "orgs_owed": 2, "orgs_reviewed": 1},
        "B3": {"members_owed": 8, "members_reviewed": 2, "orgs_owed": 1},
        "K": {"orgs_owed": 1, "orgs_reviewed": 1},
    },
    (ReviewFigure, Q1): {
        "B1": {"members_owed": 10, "members_reviewed": 10},
        "B3": {"members_owed": 10, "members_reviewed": 5, "orgs_owed": 4, "orgs_reviewed": 4},
    },
    (ReviewFigure, Q2): {},  # a begun quarter without figures: no point on the line
    (PledgeFigure, YEAR): {
        "B1": {"members_owed": 10, "members_pledged": 9, "items": 12, "items_approved": 10},
        "B2": {"members_owed": 4, "members_pledged": 1, "items": 3, "fulfilled": 2},
        "B3": {"members_owed": 8, "members_pledged": 2, "items": 2, "overdue": 1, "partly": 1},
    },
    (AppraisalFigure, YEAR): {
        "B1": {"members_excellent": 3, "members_pass": 6, "members_fail": 1, "orgs_band_1": 1},
        "B3": {"members_pass": 7, "members_deferred": 1, "orgs_band_3": 1},
    },
}


def write_figures(orgs: dict[str, Organization], table=FIGURES) -> None:
    """The kept figures exactly as `table` says, whatever a service's refresh wrote before."""
    for src in figures.sources():
        src.model.objects.all().delete()
    for (model, period), by_code in table.items():
        model.objects.bulk_create(
            model(org=orgs[code], period=period.slug, computed_at=AS_OF, **values)
            for code, values in by_code.items()
        )


def make_org(code: str, kind: str, parent: Organization | None = None) -> Organization:
    """A plain tree node: no service, so no refresh of figures this file writes by hand."""
    return Organization.objects.create(name=f"组织{code}", code=code, kind=kind, parent=parent)


@pytest.fixture
def tree():
    orgs = {"P": make_org("DP", OrgKind.PROVINCE)}
    orgs["K"] = make_org("DK", OrgKind.COUNTY, orgs["P"])
    orgs["T"] = make_org("DT", OrgKind.COMMITTEE, orgs["K"])
    orgs["B1"] = make_org("DB1", OrgKind.BRANCH, orgs["T"])
    orgs["B2"] = make_org("DB2", OrgKind.BRANCH, orgs["T"])
    orgs["B3"] = make_org("DB3", OrgKind.BRANCH, orgs["K"])
    for org in orgs.values():
        org.refresh_from_db()
    write_figures(orgs)
    return orgs


def _card(org) -> dashboards.Dashboard:
    return dashboards.dashboard(Organization.objects.get(pk=org.pk), today=TODAY)


def _html(d: dashboards.Dashboard) -> str:
    section = {"title": "概览", "dashboard": d, "charts": dashboards.draw(d), "first": True}
    return render_to_string("reports/dashboard.html", {"section": section})


# ---------------------------------------------------------------- the numbers


def test_coverage_bars_are_the_reviews_rollup_by_child(tree):
    d = _card(tree["K"])
    rolled = figures.rollup("reviews", tree["K"], Q3)
    shown = {row.org.pk: row.raw for row in d.coverage if row.kind == "child"}
    assert shown == {org.pk: raw for org, raw in rolled.children}
    assert d.coverage_total.raw == rolled.total
    # T's subtree: 12 of 19 members, 1 of 2 organisations; B3's: 2 of 8, none of 1
    html = _html(d)
    assert "组织DT" in html and "63.2%（12/19）" in html and "50.0%（1/2）" in html
    assert "25.0%（2/8）" in html and "0.0%（0/1）" in html


def test_trend_is_the_subtree_total_of_each_begun_quarter(tree):
    d = _card(tree["K"])
    assert [q for q, _ in d.trend] == Period.all_of(2026, "Q")
    assert d.trend[0][1] == figures.subtree_total("reviews", tree["K"], Q1)
    assert not any(d.trend[1][1].values())  # begun, nothing kept
    assert d.trend[2][1] == figures.subtree_total("reviews", tree["K"], Q3)
    assert d.trend[3][1] is None  # not begun
    html = _html(d)
    # members: Q1 15/20, Q3 14/27; organisations: Q1 4/4, Q3 2/4
    desc = re.search(r'<desc id="dash\d+-trend-d">(.*?)</desc>', html).group(1)
    assert desc == (
        "党员：一季度 75.0%，二季度 —，三季度 51.9%，四季度 —；"
        "基层党组织：一季度 100.0%，二季度 —，三季度 50.0%，四季度 —"
    )


def test_pledges_and_appraisal_are_the_subtree_totals(tree):
    d = _card(tree["K"])
    assert d.pledges == figures.subtree_total("pledges", tree["K"], YEAR)
    assert d.appraisal == figures.subtree_total("appraisal", tree["K"], YEAR)
    assert d.appraisal_year == YEAR
    html = _html(d)
    assert (
        "承诺事项：17；已审定：10；已公示：0；已兑现：2；部分兑现：1；未兑现：0；超期未完成：1"
        in html
    )
    assert "党员评定（共 18 人）：优秀 3，合格 13，基本合格 0，不合格 1，暂缓评议 1" in html
    assert "党组织满意率（共 2 个）：90%以上 1，80%–90% 0，60%–80% 1，60%以下 0" in html
    # the headline rates: 14 of 27 members reviewed this quarter, 12 of 22 pledged this year
    assert "<dd>51.9%</dd>" in html and "<dd>54.5%</dd>" in html


def test_appraisal_falls_back_to_last_year_while_this_year_has_no_results(tree):
    AppraisalFigure.objects.filter(period=YEAR.slug).delete()
    AppraisalFigure.objects.create(  # this year's sessions are owed, none held yet
        org=tree["B1"], period=YEAR.slug, computed_at=AS_OF, sessions_owed=1
    )
    AppraisalFigure.objects.create(
        org=tree["B1"], period=LAST_YEAR.slug, computed_at=AS_OF, members_pass=4
    )
    d = _card(tree["K"])
    assert d.appraisal_year == LAST_YEAR
    assert d.appraisal == figures.subtree_total("appraisal", tree["K"], LAST_YEAR)
    assert "民主评议结果（2025年度）" in _html(d)


def test_gaps_rank_the_children_and_link_to_their_drill_down(tree):
    d = _card(tree["K"])
    # not reviewed: T's subtree 3 + 0 + 4 = 7, B3 6; not pledged: T's 1 + 3 = 4, B3 6
    assert d.unreviewed.total == 13 and d.unpledged.total == 10
    assert [(g.label, g.count) for g in d.unreviewed.items] == [("组织DT", 7), ("组织DB3", 6)]
    assert [(g.label, g.count) for g in d.unpledged.items] == [("组织DB3", 6), ("组织DT", 4)]
    t, b3 = tree["T"], tree["B3"]
    # a committee's gap is spread over its children: its table; a branch's: its names
    assert d.unreviewed.items[0].url == reverse("reports:table", args=["reviews", t.pk, "2026Q3"])
    assert d.unreviewed.items[1].url == reverse(
        "reports:names", args=["reviews", b3.pk, "2026Q3", "members_owed-members_reviewed"]
    )
    assert d.unpledged.items[0].url == reverse(
        "reports:names", args=["pledges", b3.pk, "2026Y1", "members_owed-members_pledged"]
    )
    html = _html(d)
    assert f'href="{d.unreviewed.items[1].url}"' in html


def test_a_committees_own_members_are_a_gap_of_its_own(tree):
    d = _card(tree["T"])
    own = [g for g in d.unreviewed.items if g.label == "本级"]
    assert own and own[0].count == 4
    assert own[0].url == reverse(
        "reports:names", args=["reviews", tree["T"].pk, "2026Q3", "members_owed-members_reviewed"]
    )
    assert [g.label for g in d.unreviewed.items] == ["本级", "组织DB1"]  # B2 has none


def test_coverage_bars_link_to_each_childs_table(tree):
    html = _html(_card(tree["K"]))
    for code in ("T", "B3"):
        url = reverse("reports:table", args=["reviews", tree[code].pk, "2026Q3"])
        assert f'<a href="{url}" class="chart-link">' in html


def test_a_branch_shows_its_own_numbers_and_the_names_behind_its_gaps(tree, monkeypatch):
    asked = []

    def names(period, org, drill):
        asked.append((period.slug, org.pk, drill))
        return [Named(f"党员{i}", f"/m/{i}/", "第三季度") for i in range(3)]

    for key in ("reviews", "pledges"):
        src = figures.source(key)
        monkeypatch.setitem(figures._sources, key, dataclasses.replace(src, names=names))
    b1 = tree["B1"]
    d = _card(b1)
    assert [row.label for row in d.coverage] == ["本级"]
    assert d.coverage_total.raw == figures.subtree_total("reviews", b1, Q3)
    assert d.unreviewed.of_names and d.unreviewed.total == 3
    assert asked == [
        ("2026Q3", b1.pk, "members_owed-members_reviewed"),
        ("2026Y1", b1.pk, "members_owed-members_pledged"),
    ]
    html = _html(d)
    assert '<a href="/m/0/">党员0</a>' in html
    full = reverse(
        "reports:names", args=["reviews", b1.pk, "2026Q3", "members_owed-members_reviewed"]
    )
    assert f'<a href="{full}">查看完整名单</a>' in html


def test_a_branch_with_nothing_missing_asks_for_no_names(tree, monkeypatch):
    def names(period, org, drill):
        raise AssertionError("no gap: no names to list")

    src = figures.source("reviews")
    monkeypatch.setitem(figures._sources, "reviews", dataclasses.replace(src, names=names))
    d = _card(tree["B2"])  # 4 of 4 reviewed
    assert d.unreviewed.total == 0 and d.unreviewed.items == []
    assert "已全部完成" in _html(d)


def test_an_organisation_without_figures_shows_empty_charts(tree):
    write_figures(tree, {})
    html = _html(_card(tree["K"]))
    assert "<svg" not in html
    assert html.count("暂无数据") == 6  # four charts and the two lists of gaps


def test_many_children_show_the_lowest_rates(tree):
    k = tree["K"]
    extra = [make_org(f"DX{i:02d}", OrgKind.BRANCH, k) for i in range(17)]
    write_figures(tree)  # again: creating an organisation refreshes its parent's figures
    ReviewFigure.objects.bulk_create(
        ReviewFigure(
            org=org, period=Q3.slug, computed_at=AS_OF, members_owed=20, members_reviewed=i
        )
        for i, org in enumerate(extra)
    )
    d = _card(k)
    rows, cut = dashboards._coverage_rows(d)
    assert cut and len(rows) == dashboards.COVERAGE_ROWS == 15
    # the lowest members' rates: DX00 … DX12 (0 to 12 of 20), B3 (2 of 8) and T (12 of 19), not
    # DX13 … DX16 (13 of 20 and more); equal rates keep the table's order
    labels = [row.label for row in rows]
    assert labels[:7] == [*(f"组织DX{i:02d}" for i in range(5)), "组织DB3", "组织DX05"]
    assert set(labels) == {*(f"组织DX{i:02d}" for i in range(13)), "组织DB3", "组织DT"}
    rates = [row.values["members_rate"] for row in rows]
    assert rates == sorted(rates)
    # K's own row (本级, owing an organisation's review) is one of those counted
    assert "共20个组织，只列出党员点评率最低的15个" in _html(d)


# ---------------------------------------------------------------- escaping


def test_an_organisation_named_like_markup_stays_text(tree):
    t = tree["T"]
    Organization.objects.filter(pk=t.pk).update(name='<script>alert("x")</script>&')
    html = _html(_card(tree["K"]))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in html


def test_a_long_name_is_cut_with_its_whole_text_in_the_tooltip(tree):
    long = "某某市某某县某某镇某某村第一党支部委员会联合党组织"
    Organization.objects.filter(pk=tree["B3"].pk).update(name=long)
    html = _html(_card(tree["K"]))
    label = re.search(r'<text class="label" x="0" y="[\d.]+">(某[^<]*)</text>', html).group(1)
    assert label.endswith("…") and long.startswith(label[:-1])
    assert charts.text_width(label, charts.FONT) <= charts.WIDTH
    assert f"<title>{long}：" in html


# ---------------------------------------------------------------- the charts alone


def test_charts_draw_nothing_without_numbers():
    empty = '<p class="empty chart-empty">暂无数据</p>'
    row = charts.BarRow("甲", (charts.Value(None, "—"),))
    assert charts.bars(key="a", title="t", series=("x",), rows=[row]) == empty
    assert charts.bars(key="a", title="t", series=("x",), rows=[]) == empty
    assert charts.line(key="b", title="t", periods=["一"], series=[("x", [row.values[0]])]) == empty
    stack = charts.StackRow("乙", (0, 0))
    assert charts.stacks(key="c", title="t", names=("m", "n"), rows=[stack]) == empty


def test_bars_scale_to_the_largest_and_mark_rates_owed_nothing():
    svg = charts.bars(
        key="k",
        title="图",
        series=("数",),
        rows=[
            charts.BarRow("甲", (charts.Value(10, "10"),)),
            charts.BarRow("乙", (charts.Value(5, "5"),)),
            charts.BarRow("丙", (charts.Value(None, "—"),)),
        ],
    )
    indent = charts.text_width("甲", charts.FONT) + 8  # short labels sit beside their bars
    track = charts.WIDTH - charts.VALUE_WIDTH - indent
    found = re.findall(r'<rect class="s0" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
    assert [(float(x), float(w)) for x, w in found] == [
        (indent, track),
        (indent, track / 2),
        (indent, 0),
    ]
    assert 'viewBox="0 0 320 ' in svg and 'role="img"' in svg
    assert '<desc id="k-d">甲：10；乙：5；丙：—</desc>' in svg
    assert "style=" not in svg  # the CSP allows no inline style


def test_long_labels_sit_above_their_bars():
    rows = [charts.BarRow("甲乙丙丁戊己庚辛", (charts.Value(4, "4"),))]
    svg = charts.bars(key="k", title="图", series=("数",), rows=rows)
    assert re.search(r'<rect class="s0" x="0" y="[\d.]+" width="262"', svg)


def test_stacks_divide_the_bar_in_proportion():
    svg = charts.stacks(
        key="s", title="图", names=("好", "差"), rows=[charts.StackRow("评", (3, 1), unit="人")]
    )
    widths = re.findall(r'<rect class="s\d" [^>]*width="([\d.]+)" height="14">', svg)
    assert [float(w) for w in widths] == [240, 80]
    assert "<title>好：3人（75.0%）</title>" in svg and "共 4 人" in svg


# ---------------------------------------------------------------- the home page


def _reader(role, org, name="reader"):
    return make_user(name, role, org)


@pytest.mark.parametrize("role", [Role.SECRETARY, Role.DEPUTY, Role.OFFICE])
def test_home_shows_a_card_to_leaders_and_office(client, tree, role, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    client.force_login(_reader(role, tree["K"]))
    page = client.get(reverse("home")).content.decode()
    assert f'id="dashboard-{tree["K"].pk}"' in page
    assert "css/dashboard.css" in page and "<svg" in page
    assert "组织DK 统计概览" in page


@pytest.mark.parametrize("role", [None, Role.MEMBER, Role.CONTACT])
def test_home_still_answers_for_users_without_a_card(client, tree, role):
    user = _reader(role, tree["B1"]) if role else get_user_model().objects.create_user("nobody")
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "我的组织" in page and "统计概览" not in page and "dashboard.css" not in page


def test_home_shows_at_most_the_top_two_organisations(client, tree, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    user = _reader(Role.SECRETARY, tree["B1"])
    from orgs import services

    services.role_grant(by=None, user=user, org=tree["T"], role=Role.OFFICE)
    services.role_grant(by=None, user=user, org=tree["K"], role=Role.DEPUTY)
    services.role_grant(by=None, user=user, org=tree["B3"], role=Role.CONTACT)
    client.force_login(user)
    page = client.get(reverse("home")).content.decode()
    shown = [
        int(pk) for pk in re.findall(r'<section class="card dashboard" id="dashboard-(\d+)"', page)
    ]
    assert shown == [tree["K"].pk, tree["T"].pk]
    assert page.count("css/dashboard.css") == 1


def test_no_card_for_an_organisation_no_longer_active(tree, monkeypatch):
    user = _reader(Role.OFFICE, tree["B3"])
    orgs = [Organization.objects.get(pk=tree["B3"].pk)]
    assert [o.pk for o in dashboards.dashboard_orgs(user, orgs)] == [tree["B3"].pk]
    Organization.objects.filter(pk=tree["B3"].pk).update(is_active=False)
    user = get_user_model().objects.get(pk=user.pk)
    assert dashboards.dashboard_orgs(user, orgs) == []


def test_the_provider_is_registered():
    assert dashboards.sections in extensions.home_section_providers


# ---------------------------------------------------------------- query bounds


def _grow(tree, committees: int, branches: int) -> None:
    """More of the same under the county: committees with branches, each with figures."""
    rows = []
    for i in range(committees):
        committee = make_org(f"DG{i}", OrgKind.COMMITTEE, tree["K"])
        for j in range(branches):
            branch = make_org(f"DG{i}B{j}", OrgKind.BRANCH, committee)
            rows.append(branch)
    write_figures(tree)  # again: creating an organisation refreshes its parent's figures
    ReviewFigure.objects.bulk_create(
        ReviewFigure(org=b, period=q.slug, computed_at=AS_OF, members_owed=9, members_reviewed=3)
        for b in rows
        for q in (Q1, Q2, Q3)
    )
    PledgeFigure.objects.bulk_create(
        PledgeFigure(org=b, period=YEAR.slug, computed_at=AS_OF, members_owed=9, items=4)
        for b in rows
    )
    AppraisalFigure.objects.bulk_create(
        AppraisalFigure(org=b, period=YEAR.slug, computed_at=AS_OF, members_pass=9) for b in rows
    )


@pytest.mark.parametrize("size", [(0, 0), (6, 5)])
def test_two_cards_cost_the_same_queries_whatever_the_subtree(
    tree, size, django_assert_max_num_queries, monkeypatch
):
    _grow(tree, *size)
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    user = _reader(Role.OFFICE, tree["K"])
    from orgs import services

    services.role_grant(by=None, user=user, org=tree["T"], role=Role.SECRETARY)
    user = get_user_model().objects.get(pk=user.pk)
    orgs = [Organization.objects.get(pk=tree[c].pk) for c in ("K", "T")]
    dashboards.dashboard_orgs(user, orgs)  # the grants, read once per request by the home page
    # per card: the reviews table (children, their sums, own row), the pledges table (the
    # same three), the earlier quarters' totals in one grouped query, this and last year's
    # appraisal totals in one: 8, twice
    with django_assert_max_num_queries(16):
        found = dashboards.sections(user, orgs)
        for section in found:
            render_to_string(section["template"], {"section": section})
    assert len(found) == 2


def test_a_branch_card_costs_its_tables_and_two_names_lists(
    tree, django_assert_max_num_queries, monkeypatch
):
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    calls = []

    def names(period, org, drill):
        calls.append(drill)
        return [Named("党员")]

    for key in ("reviews", "pledges"):
        src = figures.source(key)
        monkeypatch.setitem(figures._sources, key, dataclasses.replace(src, names=names))
    user = _reader(Role.SECRETARY, tree["B1"])
    orgs = [Organization.objects.get(pk=tree["B1"].pk)]
    dashboards.dashboard_orgs(user, orgs)
    # the two tables (3 each), the earlier quarters, the appraisal years; the names lists are
    # the figures sources' (asked once each, not counted here: they are replaced)
    with django_assert_max_num_queries(8):
        dashboards.sections(user, orgs)
    assert len(calls) == 2
