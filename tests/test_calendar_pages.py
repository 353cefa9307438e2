"""The calendar pages: a user's organisations' dates, what is due next and overdue; the office's
page that moves a date for its subtree; the home page's 截止事项 (orgs.notices, orgs.views_notices,
orgs.views_site)."""

from __future__ import annotations

import datetime
import re
from types import SimpleNamespace

import pytest
from django.urls import reverse

from orgs import notices
from orgs.deadlines import calendar_for, deadline_set
from orgs.models import AuditEntry, Deadline
from orgs.periods import QUARTER, YEAR_MAX, YEAR_MIN, Period
from tests.test_notices import THIS_YEAR, fixed_today, login
from tests.test_notices import kinds as kinds  # noqa: F401 - the fixture

Q1, Q2 = Period.quarter(THIS_YEAR, 1), Period.quarter(THIS_YEAR, 2)


def _move(personas, org_code: str, *, period=Q1, due_on, steps=(7, 1, -1), kind="t_review"):
    return deadline_set(
        by=personas.user("office_inside"),
        org=personas.orgs[org_code],
        kind=kind,
        period=period,
        due_on=due_on,
        steps=list(steps),
    )


def _row(page: str, kind_label: str, short_period: str) -> tuple[str, str]:
    """(date, where it was set) of one deadline in the calendar page's list."""
    found = re.search(
        rf'<time datetime="([\d-]+)">(?:<small class="year">[^<]*</small>)?[^<]*</time>'
        rf'<span class="deadline-what">{kind_label} '
        rf'<small class="muted">{short_period} · ([^<]*)</small>',
        page,
    )
    assert found, f"{kind_label} {short_period} not on the page"
    return found.group(1), found.group(2)


def _calendar(client, personas, persona: str, monkeypatch, today, year=THIS_YEAR) -> str:
    from orgs import views_notices

    fixed_today(monkeypatch, views_notices, today)
    login(client, personas.user(persona))
    response = client.get(reverse("notices:calendar") + f"?year={year}")
    assert response.status_code == 200
    return response.content.decode()


# ---------------------------------------------------------------- the user's calendar


def test_the_nearest_office_date_above_wins_and_the_default_applies_elsewhere(
    client, personas, kinds, monkeypatch
):
    _move(personas, "K1", due_on=datetime.date(THIS_YEAR, 4, 15))
    _move(personas, "T1", due_on=datetime.date(THIS_YEAR, 4, 20))
    today = datetime.date(THIS_YEAR, 3, 1)
    page = _calendar(client, personas, "own_branch_secretary", monkeypatch, today)  # B1
    assert _row(page, "测试季度点评", "第一季度") == (f"{THIS_YEAR}-04-20", "组织T1设置")
    assert _row(page, "测试季度点评", "第二季度") == (f"{THIS_YEAR}-07-10", "默认")
    page = _calendar(client, personas, "county_secretary", monkeypatch, today)  # K1
    assert _row(page, "测试季度点评", "第一季度") == (f"{THIS_YEAR}-04-15", "组织K1设置")
    page = _calendar(client, personas, "unrelated_committee_secretary", monkeypatch, today)
    assert _row(page, "测试季度点评", "第一季度") == (f"{THIS_YEAR}-04-10", "默认")


def test_the_calendars_of_many_organisations_agree_with_the_calendar_of_each(personas, kinds):
    """orgs.notices reads several organisations' calendars at once; each is what
    orgs.deadlines.calendar_for says for that organisation alone."""
    _move(personas, "K1", due_on=datetime.date(THIS_YEAR, 4, 15))
    _move(personas, "T1", due_on=datetime.date(THIS_YEAR, 4, 20), steps=(3, -2))
    _move(personas, "B2", period=Q2, due_on=datetime.date(THIS_YEAR, 7, 1))
    kinds.window[THIS_YEAR] = [
        (personas.orgs["C1"], datetime.date(THIS_YEAR, 4, 30)),
        (personas.orgs["T1"], datetime.date(THIS_YEAR, 5, 15)),
    ]
    orgs = [personas.orgs[code] for code in ("P", "C1", "K1", "T1", "B1", "B2", "B3")]
    many = notices.calendars_for(orgs=orgs, years=[THIS_YEAR, THIS_YEAR + 1])
    for org in orgs:
        alone = calendar_for(org=org, year=THIS_YEAR) + calendar_for(org=org, year=THIS_YEAR + 1)
        alone.sort(key=lambda r: (r.due_on, r.kind.order))
        assert many[org.pk] == alone, org.code
    b1 = {(r.kind.key, r.period.slug): r for r in many[personas.orgs["B1"].pk]}
    assert b1[("t_window", f"{THIS_YEAR}Y1")].due_on == datetime.date(THIS_YEAR, 5, 15)
    assert b1[("t_review", Q1.slug)].steps == (3, -2)


def test_the_page_shows_the_next_date_and_the_open_work_of_the_last_passed_one(
    client, personas, kinds, monkeypatch
):
    b1, b2 = personas.orgs["B1"], personas.orgs["B2"]
    kinds.open[("t_review", Q1.slug)] = {b1.pk: 2, b2.pk: 5}
    kinds.open[("t_review", Period.quarter(THIS_YEAR - 1, 4).slug)] = {b1.pk: 9}  # last year's
    today = datetime.date(THIS_YEAR, 5, 20)  # Q1's date (10 April) has passed
    page = _calendar(client, personas, "own_branch_secretary", monkeypatch, today)
    # the half-year's date (5 July) comes before the second quarter's (10 July)
    assert "下一个截止：<strong>2026年7月5日</strong>\n    测试半年评议（2026年上半年）</p>" in page
    overdue = page.split("逾期未完成")[1].split("</section>")[0]
    assert "逾期40天" in overdue and "测试季度点评（2026年第一季度）" in overdue
    assert f'组织B1：<a href="/orgs/{b1.pk}/">2名党员未点评</a>' in overdue
    assert "组织B2" not in overdue  # the sibling's work is not this secretary's
    assert "9名" not in overdue
    # the rule was asked once, for the owing branch and the last passed quarter only
    assert kinds.calls == [("t_review", Q1.slug, frozenset({b1.pk}))]


@pytest.mark.parametrize("shown_year", [THIS_YEAR, THIS_YEAR - 1])
def test_in_january_the_page_shows_last_years_fourth_quarter_overdue_and_due_next(
    client, personas, kinds, monkeypatch, shown_year
):
    """Overdue work and the next date are chosen by date, whatever the period's year and the
    year shown: on 7 January last year's fourth quarter is late at B1 (its committee moved the
    date to 3 January) and its report falls due next (16 January); the year's list stays the
    year's own periods."""
    b1 = personas.orgs["B1"]
    last = THIS_YEAR - 1
    q3, q4 = Period.quarter(last, 3), Period.quarter(last, 4)
    _move(personas, "T1", period=q4, due_on=datetime.date(THIS_YEAR, 1, 3))
    kinds.open[("t_review", q4.slug)] = {b1.pk: 4}
    kinds.open[("t_review", q3.slug)] = {b1.pk: 9}  # an earlier quarter: not the last passed
    today = datetime.date(THIS_YEAR, 1, 7)
    page = _calendar(client, personas, "own_branch_secretary", monkeypatch, today, shown_year)
    overdue = page.split("逾期未完成")[1].split("</section>")[0]
    assert "逾期4天" in overdue and f"测试季度点评（{last}年第四季度）" in overdue
    assert f'组织B1：<a href="/orgs/{b1.pk}/">4名党员未点评</a>' in overdue
    assert "9名" not in overdue
    assert kinds.calls == [("t_review", q4.slug, frozenset({b1.pk}))]
    assert (
        f"下一个截止：<strong>{THIS_YEAR}年1月16日</strong>\n    测试报表报送（{last}年第四季度）</p>"
        in page
    )
    if shown_year == THIS_YEAR:
        assert _row(page, "测试季度点评", "第四季度") == (f"{THIS_YEAR + 1}-01-10", "默认")
    else:
        assert _row(page, "测试季度点评", "第四季度") == (f"{THIS_YEAR}-01-03", "组织T1设置")


def test_each_organisation_shows_its_own_last_passed_period(client, personas, kinds, monkeypatch):
    """Where one branch's date has passed and another's was moved later, each shows the work of
    its own last passed period."""
    b1, b2 = personas.orgs["B1"], personas.orgs["B2"]
    user = personas.user("own_branch_secretary")
    from orgs import services
    from orgs.models import Role

    services.role_grant(by=None, user=user, org=b2, role=Role.SECRETARY)
    _move(personas, "B2", due_on=datetime.date(THIS_YEAR, 6, 1))  # Q1 later than 20 May
    kinds.open[("t_review", Q1.slug)] = {b1.pk: 2, b2.pk: 5}
    q4 = Period.quarter(THIS_YEAR - 1, 4)
    kinds.open[("t_review", q4.slug)] = {b2.pk: 7}
    page = _calendar(
        client, personas, "own_branch_secretary", monkeypatch, datetime.date(THIS_YEAR, 5, 20)
    )
    overdue = page.split("逾期未完成")[1].split("</section>")[0]
    assert "组织B1：" in overdue and "2名党员未点评" in overdue
    assert "7名党员未点评" in overdue and "5名党员未点评" not in overdue
    assert sorted(kinds.calls) == [
        ("t_review", q4.slug, frozenset({b2.pk})),
        ("t_review", Q1.slug, frozenset({b1.pk})),
    ]


def test_office_staff_see_no_overdue_branch_work_and_may_adjust_the_dates(
    client, personas, kinds, monkeypatch
):
    k1 = personas.orgs["K1"]
    kinds.open[("t_review", Q1.slug)] = {personas.orgs["B1"].pk: 2}
    kinds.open[("t_report", Q1.slug)] = {k1.pk: 1}
    page = _calendar(
        client, personas, "office_inside", monkeypatch, datetime.date(THIS_YEAR, 5, 20)
    )
    assert "逾期未完成" in page and "测试报表报送" in page
    assert "2名党员未点评" not in page  # a branch's reviews are its leaders' work
    assert f'href="{reverse("notices:org_calendar", args=[k1.pk])}?year={THIS_YEAR}"' in page


def test_a_user_without_a_role_sees_an_empty_calendar(client, personas, kinds, monkeypatch):
    from tests.personas import make_user

    nobody = make_user("nobody")
    login(client, nobody)
    assert "暂无工作日历" in client.get(reverse("notices:calendar")).content.decode()


def test_the_calendar_costs_a_fixed_number_of_queries(
    client, personas, kinds, monkeypatch, django_assert_num_queries
):
    from orgs import services
    from orgs.models import Role

    user = personas.user("own_branch_secretary")
    for code in ("B2", "T2", "B3"):  # four organisations, each with its own dates
        services.role_grant(by=None, user=user, org=personas.orgs[code], role=Role.SECRETARY)
    for code in ("K1", "T1", "B2"):
        for period in Period.all_of(THIS_YEAR, QUARTER):
            _move(personas, code, period=period, due_on=period.end)
    kinds.open[("t_review", Q1.slug)] = {personas.orgs[code].pk: 1 for code in ("B1", "B3")}
    from orgs import views_notices

    fixed_today(monkeypatch, views_notices, datetime.date(THIS_YEAR, 5, 20))
    login(client, user)
    client.get(reverse("notices:calendar"))  # the default calendar is written on first read
    # session, user, grants, the user's organisations, the calendar rows that apply to them,
    # the one rule with gaps asked once (t_report is the office's)
    with django_assert_num_queries(6):
        response = client.get(reverse("notices:calendar"))
    page = response.content.decode()
    assert page.count("下一个截止") == 4
    assert page.count("1名党员未点评") == 2


@pytest.mark.parametrize(
    "asked, shown, previous, following",
    [
        ("2030", 2030, 2029, 2031),
        (str(YEAR_MAX), YEAR_MAX, YEAR_MAX - 1, None),
        (str(YEAR_MIN), YEAR_MIN, None, YEAR_MIN + 1),
        ("abc", THIS_YEAR, THIS_YEAR - 1, THIS_YEAR + 1),
    ],
)
def test_the_year_switcher_stays_inside_the_campaign_years(
    client, personas, kinds, monkeypatch, asked, shown, previous, following
):
    from orgs import periods

    monkeypatch.setattr(
        periods, "timezone", SimpleNamespace(localdate=lambda: datetime.date(THIS_YEAR, 5, 1))
    )
    login(client, personas.user("own_branch_secretary"))
    page = client.get(reverse("notices:calendar") + f"?year={asked}").content.decode()
    assert f"工作日历 · {shown}年" in page
    links = set(int(y) for y in re.findall(r'href="\?year=(\d+)"', page))
    assert links == {y for y in (previous, following) if y is not None}


# ---------------------------------------------------------------- the office's page


def _edit_url(org, year=THIS_YEAR) -> str:
    return reverse("notices:org_calendar", args=[org.pk]) + f"?year={year}"


def _post_row(client, org, **data):
    fields = {"kind": "t_review", "period": Q1.slug, "due_on": "2026-04-25", "steps": "7,3,-2"}
    return client.post(_edit_url(org), fields | data)


def test_the_office_moves_a_date_for_its_subtree_and_it_is_audited(client, personas, kinds):
    b1 = personas.orgs["B1"]
    login(client, personas.user("office_inside"))
    response = _post_row(client, b1, steps="7，3、 -2")
    assert response.status_code == 302
    assert response["Location"] == _edit_url(b1) + f"#t_review-{Q1.slug}"
    row = Deadline.objects.get(org=b1, kind="t_review", period=Q1.slug)
    assert row.due_on == datetime.date(THIS_YEAR, 4, 25) and row.steps == [7, 3, -2]
    entry = AuditEntry.objects.get(action="deadline_set")
    assert entry.org == b1 and entry.actor.pk == personas.user("office_inside").pk
    assert entry.changes["after"] == {"due_on": "2026-04-25", "steps": [7, 3, -2]}
    page = client.get(_edit_url(b1)).content.decode()
    assert "本组织设置" in page and "恢复上级设置" in page
    assert 'value="7,3,-2"' in page


def test_without_configure_the_page_and_the_change_are_refused(client, personas, kinds):
    b1 = personas.orgs["B1"]
    for persona in ("own_branch_secretary", "parent_committee_secretary", "county_secretary"):
        login(client, personas.user(persona))
        assert client.get(_edit_url(b1)).status_code == 403
        assert _post_row(client, b1).status_code == 403
    login(client, personas.user("office_outside"))
    assert _post_row(client, b1).status_code == 404
    assert not Deadline.objects.filter(org__isnull=False).exists()
    assert not AuditEntry.objects.filter(action="deadline_set").exists()


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"due_on": "2026-13-45"}, "截止日期", "有效的日期"),
        ({"due_on": ""}, "截止日期", "必填"),
        ({"due_on": "2029-01-01"}, "截止日期", "结束后一年之内"),
        ({"due_on": "2025-12-15"}, "截止日期", "开始（2026年"),
        ({"steps": "7,abc"}, "提醒时间", "整数天数"),
        ({"steps": "１_0"}, "提醒时间", "整数天数"),  # int() would read 10
        ({"steps": "1_0"}, "提醒时间", "整数天数"),
        ({"steps": "７"}, "提醒时间", "整数天数"),
        ({"steps": "+7"}, "提醒时间", "整数天数"),  # int() would read 7 days before
        ({"steps": "7 1"}, "提醒时间", "整数天数"),
        ({"steps": "7,,1"}, "提醒时间", "整数天数"),
        ({"steps": "7;1"}, "提醒时间", "整数天数"),
        ({"steps": "--1"}, "提醒时间", "整数天数"),
        ({"steps": "-0"}, "提醒时间", "不能为0"),
        ({"steps": "9" * 61}, "提醒时间", "60"),
        ({"steps": "0"}, "提醒时间", "不能为0"),
        ({"steps": "7,6,5,4,3,2"}, "提醒时间", "最多5个"),
    ],
)
def test_bad_input_names_the_field_keeps_what_was_typed_and_saves_nothing(
    client, personas, kinds, data, field, message
):
    b1 = personas.orgs["B1"]
    login(client, personas.user("office_inside"))
    response = _post_row(client, b1, **data)
    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(rf'<p class="error">{field}：[^<]*{message}', page), page
    typed = {"due_on": "2026-04-25", "steps": "7,3,-2"} | data
    row = page.split(f'id="t_review-{Q1.slug}"')[1].split("</li>")[0]
    for value in typed.values():
        if value:
            assert f'value="{value}"' in row
    assert "未保存" in page
    assert not Deadline.objects.filter(org__isnull=False).exists()
    assert not AuditEntry.objects.filter(action="deadline_set").exists()


@pytest.mark.parametrize(
    "typed, saved",
    [
        ("7,1,-1", [7, 1, -1]),
        ("-1，7、1", [7, 1, -1]),
        (" 30 , 007 ,-30 ", [30, 7, -30]),
    ],
)
def test_steps_take_ascii_digits_with_a_minus_sign_separated_by_commas(
    client, personas, kinds, typed, saved
):
    login(client, personas.user("office_inside"))
    assert _post_row(client, personas.orgs["B1"], steps=typed).status_code == 302
    assert Deadline.objects.get(org=personas.orgs["B1"]).steps == saved


def test_a_row_that_is_not_on_the_page_is_refused_with_a_message(client, personas, kinds):
    b1 = personas.orgs["B1"]
    login(client, personas.user("office_inside"))
    for data in ({"kind": "nope"}, {"period": "2031Q1"}, {"kind": "t_window", "period": "2026Y1"}):
        response = _post_row(client, b1, **data)
        assert response.status_code == 302
    assert not Deadline.objects.filter(org__isnull=False).exists()
    page = client.get(_edit_url(b1)).content.decode()
    assert "没有找到这个截止事项" in page


def test_restoring_the_setting_above_drops_the_own_date_after_a_confirmation(
    client, personas, kinds
):
    b1 = personas.orgs["B1"]
    _move(personas, "T1", due_on=datetime.date(THIS_YEAR, 4, 20))
    _move(personas, "B1", due_on=datetime.date(THIS_YEAR, 4, 25))
    login(client, personas.user("office_inside"))
    page = client.get(_edit_url(b1)).content.decode()
    assert 'data-confirm="恢复后' in page
    url = reverse("notices:org_calendar_clear", args=[b1.pk]) + f"?year={THIS_YEAR}"
    assert client.get(url).status_code == 405
    response = client.post(url, {"kind": "t_review", "period": Q1.slug})
    assert response.status_code == 302
    assert not Deadline.objects.filter(org=b1).exists()
    assert AuditEntry.objects.filter(action="deadline_clear", org=b1).count() == 1
    page = client.get(_edit_url(b1)).content.decode()
    assert 'value="2026-04-20"' in page and "组织T1设置" in page
    # nothing of its own left to restore: said so, nothing written
    client.post(url, {"kind": "t_review", "period": Q1.slug})
    assert AuditEntry.objects.filter(action="deadline_clear").count() == 1


def test_a_date_that_comes_from_another_setting_links_to_it(client, personas, kinds):
    b1 = personas.orgs["B1"]
    login(client, personas.user("office_inside"))
    page = client.get(_edit_url(b1)).content.decode()
    row = page.split(f'id="t_window-{THIS_YEAR}Y1"')[1].split("</li>")[0]
    assert f'href="/pledges/window/{b1.pk}/?year={THIS_YEAR}"' in row
    assert "<form" not in row


def test_the_organisation_page_link_is_offered_to_the_office_alone(personas):
    b1 = personas.orgs["B1"]
    assert notices.org_links(personas.user("office_inside"), b1) == [
        {"text": "截止日期设置", "url": reverse("notices:org_calendar", args=[b1.pk])}
    ]
    assert notices.org_links(personas.user("own_branch_secretary"), b1) == []


# ---------------------------------------------------------------- the home page's 截止事项


def _home(client, personas, persona, monkeypatch, today) -> str:
    from orgs import views_site

    fixed_today(monkeypatch, views_site, today)
    login(client, personas.user(persona))
    return client.get(reverse("home")).content.decode()


def _due_section(page: str) -> str:
    if 'id="due-work"' not in page:
        return ""
    return page.split('id="due-work"')[1].split("</section>")[0]


def test_home_lists_the_open_work_of_deadlines_near_today(client, personas, kinds, monkeypatch):
    b1, b2 = personas.orgs["B1"], personas.orgs["B2"]
    kinds.open[("t_review", Q2.slug)] = {b1.pk: 3, b2.pk: 4}
    kinds.open[("t_review", Q1.slug)] = {b1.pk: 1}
    # Q2 is due on 10 July: 20 days ahead; Q1's date (10 April) is 71 days past, out of the window
    due = _due_section(
        _home(client, personas, "own_branch_secretary", monkeypatch, datetime.date(2026, 6, 20))
    )
    assert "还有20天" in due and "测试季度点评（2026年第二季度）" in due
    assert (
        f'组织B1：<a href="/orgs/{b1.pk}/">3名党员未点评</a>&nbsp;<span class="badge">3</span>'
        in due
    )
    assert "组织B2" not in due and "1名党员未点评" not in due
    due = _due_section(
        _home(client, personas, "own_branch_secretary", monkeypatch, datetime.date(2026, 7, 13))
    )
    assert "逾期3天" in due


@pytest.mark.parametrize(
    "today, shown",
    [
        (datetime.date(2026, 6, 9), False),  # 31 days ahead
        (datetime.date(2026, 6, 10), True),  # 30 days ahead
        (datetime.date(2026, 8, 9), True),  # 30 days late
        (datetime.date(2026, 8, 10), False),  # 31 days late
    ],
)
def test_home_looks_thirty_days_either_way(client, personas, kinds, monkeypatch, today, shown):
    kinds.open[("t_review", Q2.slug)] = {personas.orgs["B1"].pk: 3}
    page = _home(client, personas, "own_branch_secretary", monkeypatch, today)
    assert ("3名党员未点评" in _due_section(page)) is shown


def test_home_finds_last_years_deadline_falling_due_in_january(
    client, personas, kinds, monkeypatch
):
    q4 = Period.quarter(THIS_YEAR - 1, 4)  # due on 10 January
    kinds.open[("t_review", q4.slug)] = {personas.orgs["B1"].pk: 6}
    page = _home(client, personas, "own_branch_secretary", monkeypatch, datetime.date(2026, 1, 5))
    assert "6名党员未点评" in _due_section(page) and "还有5天" in _due_section(page)


def test_home_lists_last_years_deadline_an_office_moved_into_the_summer(
    client, personas, kinds, monkeypatch
):
    q4 = Period.quarter(THIS_YEAR - 1, 4)
    _move(personas, "K1", period=q4, due_on=datetime.date(THIS_YEAR, 8, 15))
    kinds.open[("t_review", q4.slug)] = {personas.orgs["B1"].pk: 6}
    page = _home(client, personas, "own_branch_secretary", monkeypatch, datetime.date(2026, 8, 8))
    due = _due_section(page)
    assert "6名党员未点评" in due and "还有7天" in due and f"{THIS_YEAR - 1}年第四季度" in due


# every persona who owes some work of the test's kinds
OWING = (
    "own_branch_secretary",
    "own_branch_deputy",
    "sibling_branch_secretary",
    "parent_committee_secretary",
    "unrelated_committee_secretary",
    "county_secretary",
    "office_inside",
    "office_outside",
)
SWEEP_DAYS = [
    datetime.date(2026, 1, 12),
    datetime.date(2026, 1, 20),
    datetime.date(2026, 4, 3),
    datetime.date(2026, 5, 11),
    datetime.date(2026, 7, 15),
    datetime.date(2026, 8, 8),
    datetime.date(2026, 8, 12),
    datetime.date(2026, 10, 5),
    datetime.date(2026, 10, 9),
    datetime.date(2027, 1, 4),
]


def test_home_lists_every_deadline_the_sweep_reminds_the_user_of(personas, kinds):
    """On each day, the kinds and periods of the reminders the sweep queues for a person (their
    own work; escalations about their children's are notices only) are on their home page."""
    from orgs import reminders
    from orgs.models import Reminder

    codes = ("B1", "B2", "T1", "K1", "B3", "T2", "K2")
    for year in (THIS_YEAR - 1, THIS_YEAR, THIS_YEAR + 1):
        for period in Period.all_of(year, QUARTER):
            for key in ("t_review", "t_report"):
                kinds.open[(key, period.slug)] = {personas.orgs[c].pk: 1 for c in codes}
    # last year's fourth quarter moved into the summer; a reminder two months ahead and one a
    # month late; a step three months ahead of a date moved to the year's end
    _move(
        personas, "K1", period=Period.quarter(THIS_YEAR - 1, 4), due_on=datetime.date(2026, 8, 15)
    )
    _move(personas, "T1", period=Q2, due_on=datetime.date(2026, 7, 10), steps=(60, 7, -30))
    deadline_set(
        by=personas.user("office_outside"),
        org=personas.orgs["K2"],
        kind="t_report",
        period=Period.quarter(THIS_YEAR, 3),
        due_on=datetime.date(2026, 12, 31),
        steps=[90, -1],
    )
    reminded = set()
    for today in SWEEP_DAYS:
        Reminder.objects.all().delete()
        reminders.sweep(today=today)
        assert Reminder.objects.exclude(step__in=["up1", "up2"]).exists(), today
        for persona in OWING:
            user = personas.user(persona)
            swept = set(
                Reminder.objects.filter(user=user)
                .exclude(step__in=["up1", "up2"])
                .values_list("kind", "period")
            )
            listed = {(i.kind.key, i.period.slug) for i in notices.due_work(user=user, today=today)}
            assert swept <= listed, (today, persona, swept - listed)
            reminded |= {(today, persona, kind, period) for kind, period in swept}
    # the cases the days were chosen for did come
    for case in [
        (datetime.date(2026, 8, 8), "own_branch_secretary", "t_review", "2025Q4"),
        (datetime.date(2026, 5, 11), "own_branch_secretary", "t_review", "2026Q2"),
        (datetime.date(2026, 8, 12), "own_branch_deputy", "t_review", "2026Q2"),
        (datetime.date(2026, 10, 5), "office_outside", "t_report", "2026Q3"),
        (datetime.date(2027, 1, 4), "sibling_branch_secretary", "t_review", "2026Q4"),
        (datetime.date(2026, 1, 12), "unrelated_committee_secretary", "t_review", "2025Q4"),
        (datetime.date(2026, 1, 12), "office_outside", "t_report", "2025Q4"),
    ]:
        assert case in reminded, case


def test_home_shows_office_staff_only_the_work_their_own_role_owes(
    client, personas, kinds, monkeypatch
):
    kinds.open[("t_review", Q2.slug)] = {personas.orgs["B1"].pk: 3}
    kinds.open[("t_report", Q2.slug)] = {personas.orgs["K1"].pk: 1}
    due = _due_section(
        _home(client, personas, "office_inside", monkeypatch, datetime.date(2026, 7, 1))
    )
    assert "测试报表报送" in due and "测试季度点评" not in due


def test_home_costs_a_fixed_number_of_queries_with_due_work(
    client, personas, kinds, monkeypatch, django_assert_num_queries
):
    from orgs import views_site

    b1 = personas.orgs["B1"]
    for quarter in (Q1, Q2):
        kinds.open[("t_review", quarter.slug)] = {b1.pk: 2}
    fixed_today(monkeypatch, views_site, datetime.date(2026, 6, 20))
    login(client, personas.user("own_branch_secretary"))
    client.get(reverse("home"))  # the default calendars are written on first read
    kinds.calls.clear()
    baseline = _home_queries_without_kinds(client, monkeypatch)
    # on top of the page without due work: the calendar rows of the two years, and the one rule
    # asked once (for Q2; Q1's date is out of the window)
    with django_assert_num_queries(baseline + 2):
        response = client.get(reverse("home"))
    assert "2名党员未点评" in _due_section(response.content.decode())
    assert kinds.calls == [("t_review", Q2.slug, frozenset({b1.pk}))]


def _home_queries_without_kinds(client, monkeypatch) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orgs import deadlines

    with monkeypatch.context() as patch:
        patch.setattr(deadlines, "_KINDS", {})
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("home"))
    return len(ctx.captured_queries)
