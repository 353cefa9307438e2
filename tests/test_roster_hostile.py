"""Hostile and odd roster workbooks: zip bombs, oversized sheets, malformed XML, encrypted files,
row caps, and plans that fail only while they are applied. Each is refused with the error table
and writes nothing."""

import io
import zipfile
from xml.sax.saxutils import escape

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.test import override_settings
from django.urls import reverse
from openpyxl.utils import get_column_letter

from orgs import roster, services
from orgs.models import Member, Organization
from orgs.roster import parsing
from tests.test_roster import member_row, snapshot, workbook

MEMBER_SHEET_PART = "xl/worksheets/sheet2.xml"  # workbook() writes 组织 first, then 党员
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def sheet_xml(rows, *, dimension=None, prolog="", rows_xml="") -> bytes:
    """A worksheet part with inline strings, so it needs no shared strings table."""
    parts = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{prolog}']
    parts.append(f'<worksheet xmlns="{MAIN_NS}">')
    if dimension:
        parts.append(f'<dimension ref="{dimension}"/>')
    parts.append("<sheetData>")
    for r, row in enumerate(rows, start=1):
        cells = "".join(
            f'<c r="{get_column_letter(c)}{r}" t="inlineStr"><is><t>{escape(str(v))}</t></is></c>'
            for c, v in enumerate(row, start=1)
            if v not in (None, "")
        )
        parts.append(f'<row r="{r}">{cells}</row>')
    parts.append(rows_xml)
    parts.append("</sheetData></worksheet>")
    return "".join(parts).encode()


def rewrite(stream, replace=None, extra=None) -> io.BytesIO:
    """A copy of the xlsx in `stream` with some parts replaced or added."""
    replace, extra = replace or {}, extra or {}
    out = io.BytesIO()
    with zipfile.ZipFile(stream) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = replace.get(item.filename, src.read(item.filename))
            dst.writestr(item.filename, data)
        for name, data in extra.items():
            dst.writestr(name, data)
    out.seek(0)
    return out


def member_sheet(rows, **kwargs) -> io.BytesIO:
    return rewrite(
        workbook(), {MEMBER_SHEET_PART: sheet_xml([roster.MEMBER_COLUMNS, *rows], **kwargs)}
    )


def refused(stream, *, root, limits=None) -> list[str]:
    before = snapshot()
    with pytest.raises(roster.RosterImportError) as info:
        roster.import_roster(stream, by=None, root=root, limits=limits)
    assert snapshot() == before
    return [str(e) for e in info.value.errors]


@pytest.fixture
def never_parsed(monkeypatch):
    """Fails the test if the workbook reaches openpyxl."""

    def load_workbook(*args, **kwargs):
        raise AssertionError("the workbook was parsed")

    monkeypatch.setattr(parsing, "load_workbook", load_workbook)


def test_a_good_member_sheet_built_by_these_helpers_imports(personas):
    result = roster.import_roster(
        member_sheet([member_row("新人", "B1")]), by=None, root=personas.orgs["T1"]
    )
    assert result.members_created == 1


def test_zip_bomb_is_refused_before_parsing(personas, never_parsed):
    # 30 MB of one letter compresses to ~30 KB: a ratio no real sheet has.
    bomb = member_sheet([member_row("新人", "B1"), ["a" * 30_000_000]])
    assert len(bomb.getvalue()) < 100_000
    messages = refused(bomb, root=personas.orgs["T1"])
    assert any("压缩比" in m and MEMBER_SHEET_PART in m for m in messages), messages


def test_uncompressed_size_caps_per_part_and_in_total(personas, never_parsed):
    rows = [member_row(f"人{i}", "B1") for i in range(50)]
    small = roster.ReadLimits(max_rows=100, max_sheet_bytes=2_000)
    messages = refused(member_sheet(rows), root=personas.orgs["T1"], limits=small)
    assert any("解压后" in m and MEMBER_SHEET_PART in m for m in messages), messages
    small_total = roster.ReadLimits(max_rows=100, max_total_bytes=10_000)
    messages = refused(member_sheet(rows), root=personas.orgs["T1"], limits=small_total)
    assert any("解压后共" in m for m in messages), messages


def test_too_many_archive_entries_are_refused(personas, never_parsed):
    extra = {f"xl/media/pad{i}.bin": b"x" for i in range(roster.ReadLimits().max_entries)}
    messages = refused(rewrite(workbook(), extra=extra), root=personas.orgs["T1"])
    assert any("部件过多" in m for m in messages), messages


def test_a_huge_declared_dimension_is_refused_before_reading_rows(personas):
    stream = member_sheet([member_row("新人", "B1")], dimension="A1:XFD1048576")
    messages = refused(stream, root=personas.orgs["T1"])
    assert any("列" in m and "上限" in m for m in messages), messages


def test_a_far_away_row_number_is_refused_not_walked(personas):
    far = '<row r="1048577"><c r="A1048577" t="inlineStr"><is><t>x</t></is></c></row>'
    stream = member_sheet([member_row("新人", "B1")], rows_xml=far)
    messages = refused(stream, root=personas.orgs["T1"], limits=roster.COMMAND_LIMITS)
    assert any("行" in m and "上限" in m for m in messages), messages


def test_rows_beyond_a_too_small_declared_dimension_are_still_read(personas):
    stream = member_sheet(
        [member_row("甲", "B1"), member_row("乙", "B1", 出生年月="1980-01")], dimension="A1:J2"
    )
    result = roster.import_roster(stream, by=None, root=personas.orgs["T1"])
    assert result.members_created == 2


def test_an_overlong_cell_is_refused_naming_row_and_column(personas):
    stream = member_sheet([member_row("新人", "B1", 现任职务="长" * 5_000)])
    messages = refused(stream, root=personas.orgs["T1"])
    assert any("第2行【现任职务】" in m and "5000" in m for m in messages), messages


@pytest.mark.parametrize(
    "replace,expected",
    [
        ({MEMBER_SHEET_PART: b"<worksheet><sheetData><row>"}, "XML"),
        (
            {
                MEMBER_SHEET_PART: sheet_xml(
                    [roster.MEMBER_COLUMNS, member_row("新人", "B1")], dimension="A1:J2"
                )[:-40]
            },
            "XML",
        ),
        (
            {
                MEMBER_SHEET_PART: sheet_xml(
                    [roster.MEMBER_COLUMNS, member_row("&e;", "B1")],
                    prolog='<!DOCTYPE w [<!ENTITY e "x">]>',
                ).replace(b"&amp;e;", b"&e;")
            },
            "DTD",
        ),
        (
            {
                "[Content_Types].xml": b'<?xml version="1.0"?><!DOCTYPE t SYSTEM "file:///etc/passwd">'
            },
            "DTD",
        ),
        (
            {MEMBER_SHEET_PART: sheet_xml([roster.MEMBER_COLUMNS]).decode().encode("utf-16")},
            "编码",
        ),
        ({"xl/workbook.xml": b"<workbook>"}, "XML"),
    ],
    ids=[
        "broken-sheet",
        "cut-sheet",
        "entity-in-sheet",
        "dtd-in-content-types",
        "utf16",
        "broken-workbook",
    ],
)
def test_malformed_workbooks_get_the_error_table(personas, replace, expected):
    messages = refused(rewrite(workbook(), replace), root=personas.orgs["T1"])
    assert any(expected in m for m in messages), messages


def test_encrypted_workbooks_are_refused_with_a_clear_message(personas):
    # An Excel file with an opening password is an OLE compound file, not a zip.
    ole = io.BytesIO(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2000)
    assert any("加密" in m for m in refused(ole, root=personas.orgs["T1"]))

    # A zip whose entries are flagged encrypted (general purpose bit 0, local and central).
    data = bytearray(workbook(members=[member_row("新人", "B1")]).getvalue())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        while start != -1:
            data[start + offset] |= 0x1
            start = data.find(signature, start + 1)
    zipped = io.BytesIO(bytes(data))
    assert any("加密" in m for m in refused(zipped, root=personas.orgs["T1"]))


@pytest.mark.parametrize(
    "failure",
    [IntegrityError("UNIQUE constraint failed"), ValidationError("该党员已被锁定。")],
    ids=["integrity", "validation"],
)
def test_a_plan_that_fails_while_applying_writes_nothing(personas, monkeypatch, failure):
    def member_create(**kwargs):
        raise failure

    monkeypatch.setattr(services, "member_create", member_create)
    stream = workbook(
        orgs=[["B4", "T1", "新建村党支部", "党支部", "农村", ""]],
        members=[member_row("新人", "B4")],
    )
    messages = refused(stream, root=personas.orgs["T1"])
    assert any(m.startswith("“党员”表第2行") and "未导入任何数据" in m for m in messages)
    assert not Organization.objects.filter(code="B4").exists()


def upload(stream, name="roster.xlsx"):
    data = io.BytesIO(stream.getvalue())
    data.name = name
    return data


@pytest.fixture
def own_client(client, personas):
    client.force_login(personas.user("own_branch_secretary"))
    return client


def test_the_page_shows_a_malformed_workbook_as_the_error_table(own_client, personas):
    # Cut off inside the rows of a sheet that declares its size: openpyxl opens it, and the
    # damage shows only while the rows are streamed.
    cut = sheet_xml([roster.MEMBER_COLUMNS, member_row("新人", "B1")], dimension="A1:J2")[:-40]
    broken = rewrite(workbook(), {MEMBER_SHEET_PART: cut})
    url = reverse("orgs:roster_import", args=[personas.orgs["B1"].pk])
    response = own_client.post(url, {"file": upload(broken)})
    assert response.status_code == 200
    assert "发现 1 处错误" in response.content.decode()


def test_the_page_shows_an_apply_failure_as_the_error_table(own_client, personas, monkeypatch):
    def member_create(**kwargs):
        raise IntegrityError("UNIQUE constraint failed")

    monkeypatch.setattr(services, "member_create", member_create)
    url = reverse("orgs:roster_import", args=[personas.orgs["B1"].pk])
    before = Member.objects.count()
    response = own_client.post(url, {"file": upload(workbook(members=[member_row("新人", "B1")]))})
    assert response.status_code == 200
    assert "未导入任何数据" in response.content.decode()
    assert Member.objects.count() == before


@override_settings(ROSTER_PAGE_MAX_ROWS=3)
def test_page_imports_have_a_row_cap_that_points_to_the_command(own_client, personas, tmp_path):
    rows = [member_row(f"新人{i}", "B1", 出生年月=f"1980-{i + 1:02d}") for i in range(4)]
    url = reverse("orgs:roster_import", args=[personas.orgs["B1"].pk])
    response = own_client.post(url, {"file": upload(workbook(members=rows))})
    page = response.content.decode()
    assert response.status_code == 200
    assert "超过 3 行" in page and "manage.py import_roster" in page
    assert not Member.objects.filter(name__startswith="新人").exists()
    # The same file within the cap on the page, and the whole file by the command.
    response = own_client.post(url, {"file": upload(workbook(members=rows[:3]))})
    assert response.status_code == 302
    path = tmp_path / "big.xlsx"
    path.write_bytes(workbook(members=rows).getvalue())
    call_command("import_roster", str(path), "--user", "own")
    assert Member.objects.filter(name__startswith="新人").count() == 4


def test_the_command_reports_a_hostile_file_without_a_traceback(personas, tmp_path):
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(member_sheet([["a" * 30_000_000]]).getvalue())
    stderr = io.StringIO()
    with pytest.raises(CommandError, match="导入未执行"):
        call_command("import_roster", str(path), "--user", "own", stderr=stderr)
    assert "压缩比" in stderr.getvalue()
