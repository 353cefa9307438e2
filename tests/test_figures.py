"""The kept figures' machinery (orgs/figures.py): refresh on commit, coalesced; roll-up by nested-set
range; rebuild and check; the stats_rebuild and stats_check commands.

A fake source counts the members on each organisation's own roll into ReviewFigure's
members_owed, so that the tests hold the machinery, not any app's rules."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from orgs import figures
from orgs.models import Member, Organization, OrgKind, Sector
from orgs.periods import QUARTER, Period
from reviews.models import ReviewFigure

pytestmark = pytest.mark.django_db

Q = Period.quarter(2026, 3)
DAY = datetime.date(2026, 8, 1)


def _count_members(period, org_ids):
    counted = {}
    for org_id in Member.objects.filter(org_id__in=org_ids).values_list("org_id", flat=True):
        counted.setdefault(org_id, {"members_owed": 0})["members_owed"] += 1
    return counted


@pytest.fixture
def fake(monkeypatch):
    source = figures.FigureSource(
        key="fake", model=ReviewFigure, period_kind=QUARTER, compute=_count_members, label="测试"
    )
    monkeypatch.setattr(figures, "_sources", {"fake": source})
    return source


def _org(name, parent=None, kind=OrgKind.BRANCH):
    return Organization.objects.create(
        name=name, code=name, kind=kind, sector=Sector.RURAL, parent=parent
    )


def _member(org, n=1):
    for i in range(n):
        Member.objects.create(
            org=org,
            name=f"{org.name}党员{i}",
            gender="男",
            birth_date=datetime.date(1980, 1, 1),
            joined_on=datetime.date(2005, 1, 1),
            education="大学",
        )


@pytest.fixture
def tree():
    county = _org("县委", kind=OrgKind.COUNTY)
    t1 = _org("一镇", county, OrgKind.COMMITTEE)
    t2 = _org("二镇", county, OrgKind.COMMITTEE)
    b1, b2, b3 = _org("支部一", t1), _org("支部二", t1), _org("支部三", t2)
    for org in Organization.objects.all():
        org.refresh_from_db()
    _member(b1, 3)
    _member(b2, 2)
    _member(b3, 4)
    _member(county, 1)
    return {o.name: Organization.objects.get(pk=o.pk) for o in (county, t1, t2, b1, b2, b3)}


def test_periods_overlapping_a_span():
    spans = figures.periods_overlapping(QUARTER, datetime.date(2026, 3, 31), DAY)
    assert [p.slug for p in spans] == ["2026Q1", "2026Q2", "2026Q3"]


def test_rollup_sums_children_subtrees_own_rows_and_total(fake, tree, django_assert_num_queries):
    figures.rebuild([Q])
    county = tree["县委"]
    with django_assert_num_queries(3):
        rolled = figures.rollup("fake", county, Q)
    by_name = {org.name: values["members_owed"] for org, values in rolled.children}
    assert by_name == {"一镇": 5, "二镇": 4}
    assert rolled.own["members_owed"] == 1
    assert rolled.total["members_owed"] == 10
    assert rolled.as_of is not None
    assert figures.subtree_total("fake", county, Q)["members_owed"] == 10
    assert figures.own_figures("fake", Q, [tree["支部一"].pk])[tree["支部一"].pk] == {
        c: (3 if c == "members_owed" else 0) for c in figures.columns(ReviewFigure)
    }


def test_touch_refreshes_once_on_commit_for_every_touch_of_the_transaction(
    fake, tree, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.FIGURES_IMMEDIATE = False
    calls = []
    monkeypatch.setattr(
        "orgs.tasks.refresh_figures.apply_async",
        lambda args, queue=None: calls.append(args[0]),
    )
    b1, b2 = tree["支部一"], tree["支部二"]
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            figures.touch(b1.pk, DAY)
            figures.touch([b1.pk, b2.pk], DAY)
            assert calls == []  # nothing before the commit
    assert calls == [
        [[b1.pk, "2026-08-01", "2026-08-01", None], [b2.pk, "2026-08-01", "2026-08-01", None]]
    ]


def test_the_queued_task_writes_the_figures(fake, tree):
    from orgs.tasks import refresh_figures

    b1 = tree["支部一"]
    assert not ReviewFigure.objects.filter(org=b1).exists()
    refresh_figures([[b1.pk, "2026-08-01", "2026-08-01"]])
    refresh_figures([[b1.pk, "2026-08-01", "2026-08-01"]])  # idempotent
    assert list(ReviewFigure.objects.filter(org=b1).values_list("period", "members_owed")) == [
        ("2026Q3", 3)
    ]


def test_immediate_touch_follows_a_write(fake, tree):
    b3 = tree["支部三"]
    figures.rebuild([Q])
    _member(b3, 1)
    figures.touch(b3.pk, DAY)
    assert figures.own_figures("fake", Q, [b3.pk])[b3.pk]["members_owed"] == 5


def test_check_finds_a_kept_figure_that_differs_and_rebuild_mends_it(fake, tree):
    figures.rebuild([Q])
    assert figures.check([Q]) == []
    ReviewFigure.objects.filter(org=tree["支部一"]).update(members_owed=7)
    found = figures.check([Q])
    assert [(d.org_id, d.column, d.kept, d.recomputed) for d in found] == [
        (tree["支部一"].pk, "members_owed", 7, 3)
    ]
    with pytest.raises(CommandError) as raised:
        call_command("stats_check", "--period", "2026Q3")
    assert raised.value.returncode == 1
    call_command("stats_rebuild", "--period", "2026Q3")
    call_command("stats_check", "--period", "2026Q3")  # no difference: no error


def test_rebuild_drops_the_rows_of_an_organisation_no_longer_active(fake, tree):
    figures.rebuild([Q])
    Organization.objects.filter(pk=tree["支部二"].pk).update(is_active=False)
    figures.rebuild([Q])
    assert not ReviewFigure.objects.filter(org=tree["支部二"]).exists()
    rolled = figures.rollup("fake", tree["一镇"], Q)
    assert [org.name for org, _ in rolled.children] == ["支部一"]


def test_a_bad_period_is_refused_by_the_commands():
    with pytest.raises(CommandError, match="无法识别的期间"):
        call_command("stats_rebuild", "--period", "2026Q9")


def test_the_beat_schedule_rebuilds_the_figures_nightly():
    from config.celery import app

    entry = app.conf.beat_schedule["figures-rebuild"]
    assert entry["task"] == "orgs.rebuild_figures"
    assert entry["schedule"].hour == {2}
