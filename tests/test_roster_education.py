"""文化程度: the national standard's levels and their usual short forms, one stored name each."""

import importlib

import pytest
from django.apps import apps

from orgs import roster
from orgs.forms import MemberForm
from orgs.models import Education, Member
from tests.test_orgs_views import MEMBER_FORM
from tests.test_roster import member_row, workbook

STANDARD = [
    "博士研究生",
    "硕士研究生",
    "研究生",
    "大学本科",
    "大学专科",
    "中等专科",
    "职业高中",
    "技工学校",
    "高中",
    "初中",
    "小学",
    "其他",
]


def test_the_standard_levels_are_the_choices():
    assert Education.values == STANDARD


@pytest.mark.parametrize(
    "written,stored",
    [(level, level) for level in STANDARD]
    + [
        ("本科", "大学本科"),
        ("大专", "大学专科"),
        ("中专", "中等专科"),
        ("硕士", "硕士研究生"),
        ("博士", "博士研究生"),
        ("职高", "职业高中"),
        ("技校", "技工学校"),
        ("初中及以下", "初中"),
    ],
)
def test_import_accepts_standard_levels_and_short_forms(personas, written, stored):
    stream = workbook(members=[member_row("新人", "B1", 文化程度=written)])
    roster.import_roster(stream, by=None, root=personas.orgs["T1"])
    assert Member.objects.get(name="新人").education == stored


def test_an_unknown_level_is_refused_listing_the_allowed_ones(personas):
    stream = workbook(members=[member_row("新人", "B1", 文化程度="文盲")])
    with pytest.raises(roster.RosterImportError) as info:
        roster.import_roster(stream, by=None, root=personas.orgs["T1"])
    message = str(info.value.errors[0])
    assert "第2行【文化程度】" in message and "小学" in message and "本科" in message
    assert not Member.objects.filter(name="新人").exists()


def test_the_template_lists_the_levels_and_short_forms():
    import io

    from openpyxl import load_workbook

    stream = io.BytesIO()
    roster.write_template(stream)
    notes = {row[0]: row[1] for row in load_workbook(stream)["说明"].iter_rows(values_only=True)}
    assert all(level in notes["文化程度"] for level in STANDARD)
    assert "本科" in notes["文化程度"] and "大专" in notes["文化程度"]


@pytest.mark.parametrize("level", ["小学", "硕士研究生", "技工学校"])
def test_the_member_form_offers_the_standard_levels(level):
    form = MemberForm(data=MEMBER_FORM | {"education": level})
    assert form.is_valid(), form.errors


def test_the_data_migration_maps_the_old_values(personas):
    migration = importlib.import_module("orgs.migrations.0005_education_levels")
    m1, m2, m3 = (personas.members[k] for k in ("m1", "m2", "m3"))
    for member, old in ((m1, "中专"), (m2, "初中及以下"), (m3, "大学本科")):
        Member.objects.filter(pk=member.pk).update(education=old)
    migration.forwards(apps, None)
    assert [Member.objects.get(pk=m.pk).education for m in (m1, m2, m3)] == [
        "中等专科",
        "初中",
        "大学本科",
    ]
