"""The statistics tables as Excel files: the office's layout read back with openpyxl (numbers,
rates, merged headers, the total row, print settings, no formula anywhere), the one-table
download and the "download all" workbook made by a background job.

The figures are written straight into the kept figures tables for T1 (own row) and its branches
B1 and B2 of the personas' province, so every number below is known by hand.
"""

from __future__ import annotations

import datetime
import io
import urllib.parse

import pytest
from django.core.files.storage import InMemoryStorage, default_storage
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from ledgers.models import LedgerFigure
from orgs import jobs as org_jobs
from orgs import services
from orgs.models import Job, JobState, Organization, Role
from orgs.periods import Period
from pledges.models import PledgeFigure
from reports import excel, tables
from reports import jobs as report_jobs
from reviews.appraisal.models import AppraisalFigure
from reviews.models import ReviewFigure

pytestmark = pytest.mark.django_db

QUARTER = Period.parse("2026Q3")
YEAR = Period.parse("2026Y1")
HALF = Period.parse("2026H2")
AS_OF = datetime.datetime(2026, 9, 30, 8, 15, tzinfo=datetime.UTC)  # 16:15 in Beijing
TODAY = datetime.date(2026, 10, 8)
HOSTILE = '=HYPERLINK("http://evil.example/","点此")'

# own figures per organisation code, per figures model and period
FIGURES = {
    (ReviewFigure, QUARTER): {
        "B1": {"members_owed": 10, "members_reviewed": 7, "by_central": 3, "rect_raised": 1},
        "B2": {"members_owed": 4, "members_reviewed": 4, "by_individual": 4, "rect_raised": 2},
        "T1": {"orgs_owed": 2, "orgs_reviewed": 1, "secretaries_owed": 2, "exempt_orgs": 1},
    },
    (PledgeFigure, YEAR): {
        "B1": {"orgs_owed": 1, "orgs_pledged": 1, "members_owed": 2, "members_pledged": 1},
        "B2": {"orgs_owed": 1, "members_owed": 1, "members_pledged": 1, "items": 5},
    },
    (AppraisalFigure, YEAR): {
        "B1": {"sessions_owed": 1, "sessions_held": 1, "votes_1": 12, "members_pass": 2},
    },
    (LedgerFigure, HALF): {
        "B1": {"member_owed": 2, "member_open": 2, "m_review_due": 2, "m_review_signed": 1},
        "B2": {"member_owed": 1, "org_owed": 1},
    },
}


def _write_figures(orgs: dict[str, Organization]) -> None:
    for (model, period), by_code in FIGURES.items():
        model.objects.filter(period=period.slug).delete()  # whatever the scene computed
        model.objects.bulk_create(
            model(org=orgs[code], period=period.slug, computed_at=AS_OF, **values)
            for code, values in by_code.items()
        )


@pytest.fixture
def scene(personas, settings):
    """The personas' province with B2 renamed to a formula and the figures above."""
    settings.FIGURES_IMMEDIATE = False  # no recompute over the figures written by hand
    Organization.objects.filter(pk=personas.orgs["B2"].pk).update(name=HOSTILE)
    personas.orgs["B2"].name = HOSTILE
    _write_figures(personas.orgs)
    return personas


@pytest.fixture
def storage(monkeypatch):
    monkeypatch.setattr(default_storage, "_wrapped", InMemoryStorage())


@pytest.fixture
def eager():
    """Celery as in the embedded default (no Redis): a queued task runs at once, in-process."""
    from config.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


def _reviews_table(scene) -> tables.Table:
    return tables.build(tables.REVIEWS, Organization.objects.get(pk=scene.orgs["T1"].pk), QUARTER)


def _read(wb):
    """The workbook as Excel reads it: saved and loaded again."""
    return load_workbook(io.BytesIO(excel.workbook_bytes(wb)))


def _sheet(scene):
    return _read(excel.table_workbook(_reviews_table(scene), today=TODAY)).active


def _rows_by_label(ws) -> dict[str, list]:
    first = excel.FIRST_DATA_ROW
    return {
        row[0].value: row
        for row in ws.iter_rows(min_row=first, max_row=ws.max_row)
        if row[0].value and not str(row[0].value).startswith("说明")
    }


def _column(spec: tables.TableSpec, key: str) -> int:
    """The 0-based index of a figure's column in a row (the unit's name is first)."""
    return 1 + [c.key for c in spec.cols].index(key)


# ---------------------------------------------------------------- the sheet


def test_the_sheet_has_the_title_unit_dates_and_time_of_the_figures(scene):
    ws = _sheet(scene)
    width = 1 + len(tables.REVIEWS.cols)
    assert ws["A1"].value == "2026年第三季度领导点评情况统计表"
    assert f"A1:{get_column_letter(width)}1" in {str(r) for r in ws.merged_cells.ranges}
    info = [c.value for c in ws[2] if c.value]
    assert info == ["填报单位：组织T1", "填报日期：2026年10月8日", "数据截至：2026年9月30日 16:15"]
    assert ws.title == "领导点评情况统计表"


def test_the_header_merges_each_group_over_its_columns_and_the_unit_over_both_rows(scene):
    ws = _sheet(scene)
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert "A3:A4" in merged and ws["A3"].value == "单位"
    column = 2
    for group, span in tables.REVIEWS.groups:
        first = ws.cell(row=3, column=column)
        last = ws.cell(row=3, column=column + span - 1)
        assert first.value == group
        if span > 1:
            assert f"{first.coordinate}:{last.coordinate}" in merged
        column += span
    assert [c.value for c in ws[4]][1:] == [c.label for c in tables.REVIEWS.cols]
    # the groups as the office's form has them
    assert ws["B3"].value == "基层党组织" and "B3:D3" in merged
    assert [ws.cell(row=4, column=i).value for i in (2, 3, 4)] == ["应点评", "已点评", "点评率"]


def test_a_column_without_a_group_spans_both_header_rows():
    spec = tables.TableSpec(
        key="t",
        title="测试表",
        source="reviews",
        period_kind=QUARTER.kind,
        cols=(
            tables.Col("a", "", "合计数"),
            tables.Col("b", "组", "甲"),
            tables.Col("c", "组", "乙"),
        ),
    )
    root = Organization(name="组织X")
    total = tables.Row("total", root, "合计", {"a": 1, "b": 2, "c": 3})
    table = tables.Table(spec=spec, root=root, period=QUARTER, rows=[], total=total, as_of=None)
    ws = _read(excel.table_workbook(table, today=TODAY)).active
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A3:A4", "B3:B4", "C3:D3"} <= merged
    assert ws["B3"].value == "合计数" and ws["C3"].value == "组"
    assert ws["A2"].value == "填报单位：组织X" and ws["O2"].value is None
    assert "数据截至：暂无数据" in [c.value for c in ws[2]]


def test_numbers_are_numbers_rates_are_percentages_and_nothing_owed_is_empty(scene):
    ws = _sheet(scene)
    spec = tables.REVIEWS
    rows = _rows_by_label(ws)
    assert list(rows) == ["组织B1", HOSTILE, "本级", "合计"]
    b1 = rows["组织B1"]
    assert b1[_column(spec, "members_owed")].value == 10
    assert type(b1[_column(spec, "members_owed")].value) is int
    assert b1[_column(spec, "members_owed")].data_type == "n"
    rate = b1[_column(spec, "members_rate")]
    assert rate.value == pytest.approx(0.7) and rate.number_format == "0.0%"
    nothing_owed = b1[_column(spec, "orgs_rate")]  # B1 owes no organisation reviews
    assert nothing_owed.value is None and nothing_owed.number_format == "0.0%"
    assert rows["本级"][_column(spec, "orgs_rate")].value == pytest.approx(0.5)


def test_the_total_row_is_bold_and_each_number_the_sum_of_the_rows_above(scene):
    ws = _sheet(scene)
    spec = tables.REVIEWS
    rows = _rows_by_label(ws)
    total = rows.pop("合计")
    assert all(cell.font.b for cell in total)
    assert not any(cell.font.b for cell in rows["组织B1"])
    for col in spec.cols:
        index = _column(spec, col.key)
        if col.is_rate:
            done, owed = col.rate_of
            expected = total[_column(spec, done)].value / total[_column(spec, owed)].value
            assert total[index].value == pytest.approx(expected)
        else:
            assert total[index].value == sum(r[index].value for r in rows.values())
    assert total[_column(spec, "members_owed")].value == 14
    assert total[_column(spec, "members_rate")].value == pytest.approx(11 / 14)
    assert total[_column(spec, "rect_raised")].value == 3


def test_no_cell_is_a_formula_even_for_an_organisation_named_like_one(scene):
    wb = _read(excel.all_tables_workbook(_all_tables(scene), today=TODAY))
    named = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if cell.value == HOSTILE:
                    named.append(cell)
    assert len(named) == 4  # B2's row on each sheet, shown as it is named
    assert all(c.data_type == "s" and c.quotePrefix for c in named)


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_lead_is_written_as_text(scene, lead):
    Organization.objects.filter(pk=scene.orgs["B1"].pk).update(name=f"{lead}1+1")
    ws = _sheet(scene)
    cell = ws.cell(row=excel.FIRST_DATA_ROW, column=1)
    # XML reads a carriage return back as a line feed
    assert cell.value == f"{lead}1+1".replace("\r", "\n") and cell.data_type == "s"


def test_the_sheet_prints_on_a4_landscape_fitted_to_width_with_the_header_repeated(scene):
    ws = _sheet(scene)
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4) == 9
    assert int(ws.page_setup.fitToWidth) == 1 and int(ws.page_setup.fitToHeight) == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$3:$4"
    assert ws.freeze_panes == "B5"
    assert ws["A5"].font.name == "宋体"


def test_the_unit_column_is_wide_enough_for_the_longest_name(scene):
    Organization.objects.filter(pk=scene.orgs["B1"].pk).update(name="某某县某某镇某某村党支部")
    ws = _sheet(scene)
    assert ws.column_dimensions["A"].width >= 2 * len("某某县某某镇某某村党支部")
    assert 7 <= ws.column_dimensions["B"].width <= 12


def test_a_table_without_figures_says_so_and_keeps_its_rows(scene):
    empty = QUARTER.previous()
    ReviewFigure.objects.filter(period=empty.slug).delete()
    table = tables.build(tables.REVIEWS, Organization.objects.get(pk=scene.orgs["T1"].pk), empty)
    ws = _read(excel.table_workbook(table, today=TODAY)).active
    assert "数据截至：暂无数据" in [c.value for c in ws[2]]
    rows = _rows_by_label(ws)
    assert list(rows) == ["组织B1", HOSTILE, "合计"]
    assert rows["合计"][_column(tables.REVIEWS, "members_owed")].value == 0


def _all_tables(scene) -> list[tables.Table]:
    root = Organization.objects.get(pk=scene.orgs["T1"].pk)
    periods = {"reviews": QUARTER, "pledges": YEAR, "appraisal": YEAR, "ledgers": HALF}
    return [tables.build(spec, root, periods[key]) for key, spec in tables.TABLES.items()]


def test_the_workbook_of_all_tables_has_a_sheet_per_table_each_with_its_period(scene):
    wb = _read(excel.all_tables_workbook(_all_tables(scene), today=TODAY))
    assert wb.sheetnames == [
        "领导点评情况统计表",
        "公开承诺统计表",
        "民主评议统计表",
        "写实簿统计表",
    ]
    titles = [ws["A1"].value for ws in wb.worksheets]
    assert titles == [
        "2026年第三季度领导点评情况统计表",
        "2026年度公开承诺统计表",
        "2026年度民主评议统计表",
        "2026年下半年写实簿统计表",
    ]
    ledgers = _rows_by_label(wb["写实簿统计表"])
    index = _column(tables.LEDGERS, "m_review_signed")
    assert ledgers["合计"][index].value == 1
    group = wb["写实簿统计表"].cell(row=3, column=_column(tables.LEDGERS, "m_review_due") + 1)
    assert group.value == "党员领导点评"


# ---------------------------------------------------------------- the download of one table


def _xlsx_url(scene, table="reviews", org="T1", period="2026Q3") -> str:
    return reverse(
        "reports:xlsx", kwargs={"table": table, "org_pk": scene.orgs[org].pk, "period": period}
    )


def test_the_download_is_the_table_as_a_workbook_named_in_chinese(scene, client):
    client.force_login(scene.user("office_inside"))
    response = client.get(_xlsx_url(scene))
    assert response.status_code == 200
    assert response["Content-Type"] == excel.XLSX
    disposition = response["Content-Disposition"]
    name = "组织T1-2026年第三季度领导点评情况统计表.xlsx"
    assert disposition.startswith("attachment;")
    assert f"filename*=utf-8''{urllib.parse.quote(name)}" in disposition
    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert ws["A1"].value == "2026年第三季度领导点评情况统计表"
    total = _rows_by_label(ws)["合计"]
    assert total[_column(tables.REVIEWS, "members_reviewed")].value == 11


def test_the_download_costs_the_same_queries_however_many_children(
    scene, client, django_assert_max_num_queries
):
    client.force_login(scene.user("county_secretary"))
    url = _xlsx_url(scene, org="K1")
    # session, user, role grants, the organisation; the table: children, roll-up, own row
    with django_assert_max_num_queries(7):
        assert client.get(url).status_code == 200
    t1 = scene.orgs["T1"]
    for code in ("B4", "B5", "B6"):
        services.organization_create(
            by=None, parent=t1, name=f"组织{code}", code=code, kind="branch", sector="rural"
        )
    with django_assert_max_num_queries(7):
        assert client.get(_xlsx_url(scene, org="T1")).status_code == 200


@pytest.mark.parametrize(
    ("table", "period"),
    [("nosuch", "2026Q3"), ("reviews", "2026Y1"), ("pledges", "2026Q3"), ("reviews", "2026Q5")],
)
def test_an_unknown_table_or_a_period_of_another_kind_is_not_found(scene, client, table, period):
    client.force_login(scene.user("office_inside"))
    url = _xlsx_url(scene).replace("/reviews/", f"/{table}/").replace("/2026Q3/", f"/{period}/")
    assert client.get(_xlsx_url(scene)).status_code == 200
    assert client.get(url).status_code == 404


def test_outside_the_scope_is_not_found_and_a_member_inside_is_refused(scene, client):
    url = _xlsx_url(scene)
    for persona, status in (
        ("sibling_branch_secretary", 404),
        ("office_outside", 404),
        ("unrelated_committee_secretary", 404),
        ("member_self", 404),  # a member reads B1 alone, not T1
        ("parent_committee_secretary", 200),
    ):
        client.force_login(scene.user(persona))
        assert client.get(url).status_code == status, persona
    client.force_login(scene.user("member_self"))
    assert client.get(_xlsx_url(scene, org="B1")).status_code == 403


# ---------------------------------------------------------------- download all, as a job


def _all_url(scene, org="T1") -> str:
    return reverse("reports:xlsx_all", kwargs={"org_pk": scene.orgs[org].pk})


def test_download_all_starts_a_job_that_makes_a_sheet_per_table(
    scene, client, storage, eager, django_capture_on_commit_callbacks
):
    clerk = scene.user("office_inside")
    client.force_login(clerk)
    chosen = {"reviews": "2026Q3", "pledges": "2026Y1", "appraisal": "2026Y1", "ledgers": "2026H2"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_all_url(scene), chosen)
    job = Job.objects.get(user=clerk, kind=report_jobs.WORKBOOK)
    assert response.status_code == 302 and response["Location"] == reverse(
        "jobs:detail", args=[job.pk]
    )
    assert job.state == JobState.DONE, job.error
    assert job.params == {"org_id": scene.orgs["T1"].pk, "periods": chosen}
    assert job.result_name.startswith("组织T1-统计报表-") and job.result_name.endswith(".xlsx")
    wb = load_workbook(job.result.open("rb"))
    assert wb.sheetnames == [
        "领导点评情况统计表",
        "公开承诺统计表",
        "民主评议统计表",
        "写实簿统计表",
    ]
    assert wb["领导点评情况统计表"]["A1"].value == "2026年第三季度领导点评情况统计表"
    pledges = _rows_by_label(wb["公开承诺统计表"])
    assert pledges["合计"][_column(tables.PLEDGES, "items")].value == 5
    assert "2026年下半年写实簿统计表" in job.message
    t1 = scene.orgs["T1"]
    assert org_jobs.job_link(job) == ("返回组织T1统计报表", reverse("reports:index", args=[t1.pk]))
    download = client.get(reverse("jobs:download", args=[job.pk]))
    assert download.status_code == 200
    assert urllib.parse.quote(job.result_name) in download["Content-Disposition"]


def test_download_all_without_a_choice_takes_each_tables_current_period(scene, client):
    client.force_login(scene.user("county_secretary"))
    assert client.post(_all_url(scene, org="K1")).status_code == 302
    job = Job.objects.get(kind=report_jobs.WORKBOOK)
    today = timezone.localdate()
    assert job.params["periods"] == {
        key: Period.containing(today, spec.period_kind).slug for key, spec in tables.TABLES.items()
    }
    assert job.state == JobState.QUEUED  # queued on commit, which a test never reaches


def test_download_all_refuses_a_period_of_the_wrong_kind_and_starts_nothing(scene, client):
    client.force_login(scene.user("office_inside"))
    response = client.post(_all_url(scene), {"reviews": "2026H1", "pledges": "今年"}, follow=True)
    page = response.content.decode()
    assert "“领导点评情况统计表”的期间“2026H1”有误：应为季度，如 2026Q3。" in page
    assert "“公开承诺统计表”的期间“今年”有误" in page
    assert not Job.objects.filter(kind=report_jobs.WORKBOOK).exists()


def test_download_all_takes_post_only_and_is_not_found_outside_the_scope(scene, client):
    client.force_login(scene.user("office_inside"))
    assert client.get(_all_url(scene)).status_code == 405
    client.force_login(scene.user("office_outside"))
    assert client.post(_all_url(scene)).status_code == 404
    assert not Job.objects.filter(kind=report_jobs.WORKBOOK).exists()


def test_the_job_refuses_once_the_right_to_read_is_withdrawn_and_so_does_the_download(
    scene, storage
):
    clerk = scene.user("office_inside")
    k1 = scene.orgs["K1"]
    periods = report_jobs.chosen_periods({}, today=TODAY)
    done = report_jobs.workbook_start(by=clerk, org=k1, periods=periods)
    assert org_jobs.run(done.pk) == "done"
    done.refresh_from_db()
    assert org_jobs.may_download(done)
    waiting = report_jobs.workbook_start(by=clerk, org=k1, periods=periods)
    services.role_revoke(by=None, user=clerk, org=k1, role=Role.OFFICE)
    assert org_jobs.run(waiting.pk) == "failed"
    waiting.refresh_from_db()
    assert "您已没有导出“组织K1”统计报表的权限" in waiting.error and not waiting.result
    done.refresh_from_db()
    assert not org_jobs.may_download(done)


def test_a_job_with_tampered_periods_fails_with_a_message(scene, storage):
    job = report_jobs.workbook_start(
        by=scene.user("office_inside"),
        org=scene.orgs["K1"],
        periods=report_jobs.chosen_periods({}, today=TODAY),
    )
    Job.objects.filter(pk=job.pk).update(params={"org_id": job.params["org_id"], "periods": "x"})
    assert org_jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.error == "任务参数有误。"
