"""Text that looks like a formula is exported as text and read back unchanged; a real formula in an
imported workbook is never evaluated."""

import datetime
import io
import re
import zipfile

import pytest
from openpyxl import load_workbook

from orgs import roster, services
from orgs.models import Member
from tests.personas import make_member
from tests.test_roster import export, member_row, snapshot, workbook

RISKY = ['=HYPERLINK("http://x.example/","y")', "+1", "-a", "@b", "=1+1"]


@pytest.fixture
def risky_names(personas):
    o, m = personas.orgs, personas.members
    services.organization_update(by=None, org=o["B1"], name='=HYPERLINK("x","y")')
    services.organization_update(by=None, org=o["B2"], name="@组织")
    for name, member in zip(RISKY, [m["m1"], m["m2"]], strict=False):
        services.member_update(by=None, member=member, name=name, post="-村委委员")
    for i, name in enumerate(RISKY[2:]):
        make_member(
            o["B1"],
            name,
            birth_date=datetime.date(1980, i + 1, 1),
            joined_on=datetime.date(2005, 7, 1),
            post="+主任",
        )
    services.organization_update(by=None, org=o["B1"], secretary=m["m1"])
    return o


def test_text_that_looks_like_a_formula_is_exported_as_text(risky_names):
    data = export(risky_names["C1"]).getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any(re.search(rb"<f[ >]", xml) for xml in sheets)
    wb = load_workbook(io.BytesIO(data))
    risky_cells = [
        cell
        for sheet in wb.worksheets
        for row in sheet.iter_rows(min_row=2)
        for cell in row
        if isinstance(cell.value, str) and cell.value[:1] in "=+-@"
    ]
    values = {cell.value for cell in risky_cells}
    assert set(RISKY) <= values and '=HYPERLINK("x","y")' in values and "@组织" in values
    assert all(cell.data_type == "s" and cell.quotePrefix for cell in risky_cells)


def test_export_then_import_round_trips_any_name(risky_names):
    before = snapshot()
    result = roster.import_roster(export(risky_names["C1"]), by=None, root=risky_names["C1"])
    assert not result.changed, result.summary()
    assert snapshot() == before
    assert set(RISKY) <= set(Member.objects.values_list("name", flat=True))


def test_a_real_formula_cell_is_refused_and_never_evaluated(personas):
    # openpyxl writes a value starting with "=" as a formula (no cached result).
    stream = workbook(members=[member_row('=HYPERLINK("http://x.example/","y")', "B1")])
    with zipfile.ZipFile(io.BytesIO(stream.getvalue())) as archive:
        assert b"<f>" in archive.read("xl/worksheets/sheet2.xml")
    before = snapshot()
    with pytest.raises(roster.RosterImportError) as info:
        roster.import_roster(stream, by=None, root=personas.orgs["T1"])
    messages = [str(e) for e in info.value.errors]
    assert any("第2行【姓名】" in m and "公式" in m for m in messages), messages
    assert snapshot() == before
