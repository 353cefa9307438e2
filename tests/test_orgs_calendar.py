"""The foundation's periods and the office calendar (orgs.periods, orgs.calendar)."""

from __future__ import annotations

import datetime
import importlib
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.test import RequestFactory

from orgs.calendar import (
    SettingKind,
    office_setting_set,
    register_setting,
    setting_for,
    settings_at,
)
from orgs.models import AuditEntry, OfficeSetting
from orgs.periods import (
    HALF,
    QUARTER,
    YEAR,
    Period,
    parse_year,
    year_from,
    year_or_404,
)
from orgs.refusals import refuse

# ---------------------------------------------------------------- periods


@pytest.mark.parametrize(
    "period, start, end, label",
    [
        (Period.quarter(2026, 1), (1, 1), (3, 31), "2026年第一季度"),
        (Period.quarter(2026, 2), (4, 1), (6, 30), "2026年第二季度"),
        (Period.quarter(2026, 4), (10, 1), (12, 31), "2026年第四季度"),
        (Period.half(2026, 1), (1, 1), (6, 30), "2026年上半年"),
        (Period.half(2026, 2), (7, 1), (12, 31), "2026年下半年"),
        (Period.whole_year(2026), (1, 1), (12, 31), "2026年度"),
    ],
)
def test_a_period_knows_its_dates_and_label(period, start, end, label):
    assert period.start == datetime.date(2026, *start)
    assert period.end == datetime.date(2026, *end)
    assert period.label == label == str(period)
    assert Period.parse(period.slug) == period
    assert period.contains(period.start) and period.contains(period.end)
    assert not period.contains(period.end + datetime.timedelta(days=1))


def test_periods_follow_each_other_across_years():
    assert Period.quarter(2026, 4).next() == Period.quarter(2027, 1)
    assert Period.quarter(2026, 1).previous() == Period.quarter(2025, 4)
    assert Period.half(2026, 2).next() == Period.half(2027, 1)
    assert Period.whole_year(2026).previous() == Period.whole_year(2025)
    assert Period.all_of(2026, QUARTER) == [Period.quarter(2026, n) for n in (1, 2, 3, 4)]
    assert Period.containing(datetime.date(2026, 8, 15), QUARTER) == Period.quarter(2026, 3)
    assert Period.containing(datetime.date(2026, 8, 15), HALF) == Period.half(2026, 2)
    assert Period.containing(datetime.date(2026, 8, 15), YEAR) == Period.whole_year(2026)
    assert Period.quarter(2026, 3).has_begun(datetime.date(2026, 7, 1))
    assert not Period.quarter(2026, 3).has_begun(datetime.date(2026, 6, 30))


@pytest.mark.parametrize(
    "slug", ["2026Q5", "2026H3", "2026Y2", "1999Q1", "２０２６Q1", "2026X1", ""]
)
def test_a_bad_period_is_refused(slug):
    with pytest.raises(ValueError):
        Period.parse(slug)


@pytest.mark.parametrize(
    "value, expected",
    [("2026", 2026), (" 2030 ", 2030), ("1999", None), ("2101", None), ("２０２６", None),
     ("20x6", None), ("", None), (None, None), ("02026", None)],
)  # fmt: skip
def test_one_year_bound_for_every_page(value, expected):
    assert parse_year(value) == expected


def test_a_page_year_falls_back_and_a_url_year_outside_the_bound_is_a_404():
    request = RequestFactory().get("/", {"year": "3000"})
    assert year_from(request, default=2025) == 2025
    assert year_from(RequestFactory().get("/", {"year": "2027"}), default=2025) == 2027
    assert year_or_404(2026) == 2026
    with pytest.raises(Http404):
        year_or_404(1999)


# ---------------------------------------------------------------- office settings


@dataclass(frozen=True)
class Limit:
    most: int


def _clean(value: Limit, year: int) -> None:
    if value.most < 1:
        refuse("至少为 1。", "most")


TEST_KIND = register_setting(
    SettingKind(
        key="tests.limit",
        label="测试上限",
        default=lambda year: Limit(10),
        load=lambda value: Limit(value["most"]),
        dump=lambda limit: {"most": limit.most},
        clean=_clean,
    )
)


def test_a_key_is_declared_once():
    register_setting(TEST_KIND)  # the same declaration again is harmless
    with pytest.raises(ValueError):
        register_setting(SettingKind("tests.limit", "另一个", lambda y: 1, int, dict))


def test_the_nearest_setting_above_wins_and_costs_one_query(personas, django_assert_num_queries):
    office = personas.user("office_inside")  # office at K1
    b1 = personas.orgs["B1"]
    # the default, where no office has set one
    with django_assert_num_queries(1):  # the nearest OfficeSetting at or above B1
        found = setting_for(key=TEST_KIND.key, org=b1, year=2026)
    assert found.value == Limit(10) and found.set_at is None
    office_setting_set(by=office, key=TEST_KIND.key, org=personas.orgs["K1"], year=2026,
                       value=Limit(5))  # fmt: skip
    office_setting_set(by=office, key=TEST_KIND.key, org=personas.orgs["T1"], year=2026,
                       value=Limit(7))  # fmt: skip
    with django_assert_num_queries(1):  # the same single query, the org joined in
        found = setting_for(key=TEST_KIND.key, org=b1, year=2026)
    assert found.value == Limit(7) and found.set_at == personas.orgs["T1"]
    assert setting_for(key=TEST_KIND.key, org=personas.orgs["K1"], year=2026).value == Limit(5)
    assert setting_for(key=TEST_KIND.key, org=b1, year=2025).value == Limit(10)
    assert setting_for(key=TEST_KIND.key, org=personas.orgs["B3"], year=2026).value == Limit(10)
    assert set(settings_at(org=personas.orgs["T1"], year=2026)) == {TEST_KIND.key}


def test_setting_again_changes_the_row_and_audits_before_and_after(personas):
    office = personas.user("office_inside")
    k1 = personas.orgs["K1"]
    office_setting_set(by=office, key=TEST_KIND.key, org=k1, year=2026, value=Limit(5))
    office_setting_set(by=office, key=TEST_KIND.key, org=k1, year=2026, value=Limit(6))
    assert OfficeSetting.objects.filter(key=TEST_KIND.key).count() == 1
    changes = [e.changes for e in AuditEntry.objects.filter(action="office_setting").order_by("pk")]
    assert changes == [
        {"key": TEST_KIND.key, "year": 2026, "before": None, "after": {"most": 5}},
        {"key": TEST_KIND.key, "year": 2026, "before": {"most": 5}, "after": {"most": 6}},
    ]


@pytest.mark.parametrize(
    "who, org, year, value, field",
    [
        ("own_branch_secretary", "B1", 2026, 3, None),  # a branch secretary configures nothing
        ("office_outside", "K1", 2026, 3, None),  # an office outside the subtree
        ("office_inside", "K1", 1999, 3, "year"),
        ("office_inside", "K1", 2026, 0, "most"),  # the kind's own rule
    ],
)
def test_a_setting_is_refused_and_nothing_is_written(personas, who, org, year, value, field):
    with pytest.raises(ValidationError) as refused:
        office_setting_set(by=personas.user(who), key=TEST_KIND.key, org=personas.orgs[org],
                           year=year, value=Limit(value))  # fmt: skip
    if field:
        assert field in refused.value.message_dict
    assert not OfficeSetting.objects.exists()
    assert not AuditEntry.objects.filter(action="office_setting").exists()


# ---------------------------------------------------------------- rows moved by the migrations


class _Rows:
    def __init__(self, rows):
        self.rows = rows
        self.created = []

    def all(self):
        return self.rows

    def bulk_create(self, rows):
        self.created.extend(rows)


def _old_model(rows):
    manager = _Rows(rows)

    def model(**fields):
        return SimpleNamespace(**fields)

    model.objects = manager
    return model


def _apps(**models):
    return SimpleNamespace(get_model=lambda app, name: models[name])


@pytest.mark.django_db
def test_the_migrations_move_windows_and_grade_rules_to_office_settings(personas):
    k1, t1 = personas.orgs["K1"], personas.orgs["T1"]
    office = personas.user("office_inside")
    window = importlib.import_module("pledges.migrations.0003_window_to_office_setting")
    rule = importlib.import_module("reviews.migrations.0008_grade_rule_to_office_setting")
    window.forward(
        _apps(
            PledgeWindow=_old_model([
                SimpleNamespace(org_id=k1.pk, year=2026, start=datetime.date(2026, 1, 1),
                                end=datetime.date(2026, 5, 31), set_by_id=office.pk),
            ]),
            OfficeSetting=OfficeSetting,
        ),
        None,
    )  # fmt: skip
    figures = dict(excellent_good_min=60, excellent_poor_max=4, basic_positive_min=55,
                   fail_poor_min=30, commend_satisfaction_min=85, turnout_min=70)  # fmt: skip
    rule.forward(
        _apps(
            GradeRule=_old_model(
                [SimpleNamespace(org_id=t1.pk, year=2026, set_by_id=None, **figures)]
            ),
            OfficeSetting=OfficeSetting,
        ),
        None,
    )
    from pledges.services import window_for
    from reviews.appraisal.rules import thresholds_for

    b1 = personas.orgs["B1"]
    assert window_for(org=b1, year=2026) == (datetime.date(2026, 1, 1), datetime.date(2026, 5, 31))
    found = thresholds_for(org=b1, year=2026)
    assert (found.excellent_good_min, found.turnout_min, found.set_at) == (60, 70, t1.name)

    # and back: the rows come out as they went in, and the settings go
    old_windows = _old_model([])
    window.backward(_apps(PledgeWindow=old_windows, OfficeSetting=OfficeSetting), None)
    [back] = old_windows.objects.created
    assert (back.org_id, back.start, back.end, back.set_by_id) == (
        k1.pk, datetime.date(2026, 1, 1), datetime.date(2026, 5, 31), office.pk,
    )  # fmt: skip
    old_rules = _old_model([])
    rule.backward(_apps(GradeRule=old_rules, OfficeSetting=OfficeSetting), None)
    [back] = old_rules.objects.created
    assert {name: getattr(back, name) for name in figures} == figures
    assert not OfficeSetting.objects.exists()
