import io

import pytest
from openpyxl import Workbook, load_workbook

from orgs import roster
from orgs.models import AuditEntry, Member, Membership, Organization
from tests.personas import make_member


def workbook(orgs=(), members=(), org_header=None, member_header=None, sheets=("组织", "党员")):
    wb = Workbook()
    wb.remove(wb.active)
    if "组织" in sheets:
        sheet = wb.create_sheet("组织")
        sheet.append(org_header or roster.ORG_COLUMNS)
        for row in orgs:
            sheet.append(list(row))
    if "党员" in sheets:
        sheet = wb.create_sheet("党员")
        sheet.append(member_header or roster.MEMBER_COLUMNS)
        for row in members:
            sheet.append(list(row))
    stream = io.BytesIO()
    wb.save(stream)
    stream.seek(0)
    return stream


def member_row(name="赵四", org="B1", **overrides):
    row = {
        "姓名": name,
        "性别": "男",
        "民族": "汉族",
        "出生年月": "1972-03",
        "入党时间": "1998-07-01",
        "文化程度": "高中",
        "现任职务": "",
        "党员类别": "正式党员",
        "所在党组织代码": org,
        "标记": "",
    } | overrides
    return [row[c] for c in roster.MEMBER_COLUMNS]


def snapshot():
    return (
        list(
            Organization.objects.order_by("pk").values_list(
                "code", "parent_id", "name", "kind", "secretary_id", "lft", "rght"
            )
        ),
        list(Member.objects.order_by("pk").values()),
        Membership.objects.count(),
    )


def export(root) -> io.BytesIO:
    stream = io.BytesIO()
    roster.write_export(root=root, stream=stream)
    stream.seek(0)
    return stream


def test_template_has_both_sheets_with_headers():
    stream = io.BytesIO()
    roster.write_template(stream)
    wb = load_workbook(io.BytesIO(stream.getvalue()))
    assert [c.value for c in wb["组织"][1]] == roster.ORG_COLUMNS
    assert [c.value for c in wb["党员"][1]] == roster.MEMBER_COLUMNS
    assert wb["党员"].max_row == 2  # one example row


def test_import_creates_organisations_members_and_secretary(personas):
    user = personas.user("parent_committee_secretary")
    stream = workbook(
        orgs=[["B4", "T1", "新建村党支部", "党支部", "农村", "赵四"]],
        members=[
            member_row("赵四", "B4", 标记="年老体弱、流动党员"),
            member_row("钱五", "B4", 出生年月="1980.5"),
        ],
    )
    result = roster.import_roster(stream, by=user, root=personas.orgs["T1"])
    assert (result.orgs_created, result.members_created, result.secretaries_set) == (1, 2, 1)
    b4 = Organization.objects.get(code="B4")
    assert b4.parent == personas.orgs["T1"]
    assert b4.secretary.name == "赵四"
    zhao = Member.objects.get(name="赵四")
    assert zhao.is_elderly_infirm and zhao.is_mobile and not zhao.is_retired
    assert Member.objects.get(name="钱五").birth_date.isoformat() == "1980-05-01"
    assert zhao.memberships.get().org == b4


def test_reimporting_the_same_file_changes_nothing(personas):
    user = personas.user("parent_committee_secretary")
    rows = dict(
        orgs=[["B4", "T1", "新建村党支部", "党支部", "农村", "赵四"]],
        members=[member_row("赵四", "B4")],
    )
    roster.import_roster(workbook(**rows), by=user, root=personas.orgs["T1"])
    before, audit = snapshot(), AuditEntry.objects.count()
    result = roster.import_roster(workbook(**rows), by=user, root=personas.orgs["T1"])
    assert not result.changed
    assert snapshot() == before
    assert AuditEntry.objects.count() == audit


def test_export_then_import_round_trips(personas):
    o = personas.orgs
    from orgs import services

    services.organization_update(by=None, org=o["B1"], secretary=personas.members["m1"])
    services.organization_update(by=None, org=o["T1"], secretary=personas.members["m2"])
    before = snapshot()
    result = roster.import_roster(export(o["C1"]), by=None, root=o["C1"])
    assert not result.changed, result.summary()
    assert snapshot() == before
    wb = load_workbook(export(o["C1"]))
    assert [r[0] for r in wb["组织"].iter_rows(min_row=2, values_only=True)] == [
        "C1",
        "K1",
        "T1",
        "B1",
        "B2",
    ]
    assert wb["组织"]["F5"].value == "李一"


def test_moving_a_member_by_import_is_a_dated_transfer(personas):
    m1 = personas.members["m1"]
    row = member_row("李一", "B2", 出生年月="1970-05", 入党时间="1995-07-01")
    result = roster.import_roster(workbook(members=[row]), by=None, root=personas.orgs["T1"])
    assert result.members_transferred == 1
    m1.refresh_from_db()
    assert m1.org == personas.orgs["B2"]
    assert m1.memberships.count() == 2


def test_bad_rows_are_listed_by_sheet_row_and_column_and_nothing_is_written(personas):
    user = personas.user("parent_committee_secretary")
    before = snapshot()
    stream = workbook(
        orgs=[
            ["B5", "T1", "好支部", "党支部", "农村", ""],
            ["B6", "T1", "坏支部", "支部", "农村", ""],
            ["B7", "B1", "坏党委", "基层党委", "农村", ""],
            ["B8", "T2", "别人的支部", "党支部", "农村", ""],
            ["B9", "T1", "", "党支部", "火星", "无名氏"],
        ],
        members=[
            member_row("好人", "B5"),
            member_row("坏日期", "B5", 出生年月="1972-13"),
            member_row("坏民族", "B5", 民族="火星族"),
            member_row("无组织", "NOPE"),
            member_row("好人", "B5"),
            member_row("", "B5", 性别="未知"),
        ],
    )
    with pytest.raises(roster.RosterImportError) as info:
        roster.import_roster(stream, by=user, root=personas.orgs["T1"])
    found = {(e.sheet, e.row, e.column) for e in info.value.errors}
    assert {
        ("组织", 3, "组织类别"),
        ("组织", 4, "组织类别"),
        ("组织", 5, "上级组织代码"),
        ("组织", 6, "组织名称"),
        ("组织", 6, "行业类别"),
        ("党员", 3, "出生年月"),
        ("党员", 4, "民族"),
        ("党员", 5, "所在党组织代码"),
        ("党员", 6, "姓名"),
        ("党员", 7, "姓名"),
        ("党员", 7, "性别"),
    } <= found
    messages = [str(e) for e in info.value.errors]
    assert "“组织”表第5行【上级组织代码】：“T2”不在您可导入的范围内。" in messages
    assert snapshot() == before


def test_existing_organisation_outside_the_scope_is_an_error(personas):
    stream = workbook(orgs=[["B3", "T1", "抢来的支部", "党支部", "农村", ""]])
    with pytest.raises(roster.RosterImportError) as info:
        roster.import_roster(stream, by=None, root=personas.orgs["T1"])
    assert info.value.errors[0].column == "组织代码"
    assert Organization.objects.get(code="B3").parent == personas.orgs["T2"]


def test_member_of_another_scope_is_not_pulled_in(personas):
    m3 = personas.members["m3"]
    row = member_row(m3.name, "B1", 出生年月="1970-05", 入党时间="1995-07-01")
    with pytest.raises(roster.RosterImportError) as info:
        roster.import_roster(workbook(members=[row]), by=None, root=personas.orgs["T1"])
    assert "管理范围以外" in info.value.errors[0].message


@pytest.mark.parametrize(
    "stream,message",
    [
        (io.BytesIO(b"not a workbook"), "无法读取该文件"),
        (lambda: workbook(sheets=("组织",)), "缺少名为“党员”的工作表"),
        (lambda: workbook(member_header=["姓名", "性别"]), "表头缺少列"),
        (lambda: workbook(), "两张表都没有数据"),
    ],
)
def test_unreadable_or_malformed_files_are_refused(personas, stream, message):
    stream = stream() if callable(stream) else stream
    with pytest.raises(roster.RosterImportError) as info:
        roster.import_roster(stream, by=None, root=personas.orgs["T1"])
    assert any(message in str(e) for e in info.value.errors)


def test_ambiguous_secretary_name_is_an_error(personas):
    make_member(personas.orgs["B1"], "李一", birth_date=__import__("datetime").date(1960, 1, 1))
    stream = workbook(orgs=[["B1", "T1", "组织B1", "党支部", "农村", "李一"]])
    with pytest.raises(roster.RosterImportError) as info:
        roster.import_roster(stream, by=None, root=personas.orgs["T1"])
    assert "有2名" in info.value.errors[0].message


def test_cycles_are_refused(personas):
    stream = workbook(
        orgs=[["X1", "X2", "甲", "党总支", "农村", ""], ["X2", "X1", "乙", "党总支", "农村", ""]]
    )
    with pytest.raises(roster.RosterImportError):
        roster.import_roster(stream, by=None, root=None)
    assert not Organization.objects.filter(code__in=["X1", "X2"]).exists()


def test_import_roster_command_reports_errors_and_writes_nothing(personas, tmp_path):
    from django.core.management import CommandError, call_command

    path = tmp_path / "bad.xlsx"
    path.write_bytes(workbook(members=[member_row("坏日期", "B1", 出生年月="abc")]).getvalue())
    with pytest.raises(CommandError, match="导入未执行"):
        call_command("import_roster", str(path), "--user", "own")
    good = tmp_path / "good.xlsx"
    good.write_bytes(workbook(members=[member_row("新人", "B1")]).getvalue())
    call_command("import_roster", str(good), "--user", "own")
    assert Member.objects.filter(name="新人", org=personas.orgs["B1"]).exists()


def test_names_of_only_invisible_characters_are_blank_and_edges_are_trimmed(personas):
    before = snapshot()
    stream = workbook(
        orgs=[["B5", "T1", "\u200b\u3000\u200e", "党支部", "农村", ""]],
        members=[member_row("\u2060\ufeff", "B1")],
    )
    with pytest.raises(roster.RosterImportError) as info:
        roster.import_roster(stream, by=None, root=personas.orgs["T1"])
    found = {(e.sheet, e.row, e.column) for e in info.value.errors}
    assert {("组织", 2, "组织名称"), ("党员", 2, "姓名")} <= found
    assert snapshot() == before
    roster.import_roster(
        workbook(members=[member_row("\u200b赵四\u200f", "B1")]), by=None, root=personas.orgs["T1"]
    )
    assert Member.objects.filter(name="赵四").exists()


def test_a_name_with_a_space_inside_is_the_member_already_on_the_roll(personas):
    """ "李 一" in a workbook is 李一, as the member form stores names: the same person (an update,
    here no change), never a second record."""
    m1 = personas.members["m1"]
    row = member_row(
        "李\u3000一",
        "B1",
        出生年月=m1.birth_date.strftime("%Y-%m"),
        入党时间=m1.joined_on.isoformat(),
    )
    before = Member.objects.count()
    roster.import_roster(workbook(members=[row]), by=None, root=personas.orgs["T1"])
    assert Member.objects.count() == before


def test_names_stored_before_the_name_rule_are_normalised_and_reimport_finds_them(personas):
    """A name kept from before names lost their inner spaces ("李 一") is brought to 李一 by the
    migration, and the unchanged export re-imports without making a second record."""
    import importlib

    from django.apps import apps

    m1 = personas.members["m1"]
    Member.objects.filter(pk=m1.pk).update(name="李\u3000一")
    importlib.import_module("orgs.migrations.0007_member_names_normalised").normalise_names(
        apps, None
    )
    m1.refresh_from_db()
    assert m1.name == "李一"
    before = Member.objects.count()
    result = roster.import_roster(export(personas.orgs["C1"]), by=None, root=personas.orgs["C1"])
    assert not result.changed and Member.objects.count() == before
