"""The notices behind the bell, the e-mail preferences, the feed's secret address and the .ics
text (orgs.notices, orgs.views_notices).

The deadline kinds here are the test's own (`kinds`): the apps' real kinds and their obligation
rules are theirs to test, and their query costs would make the counts below depend on them.
"""

from __future__ import annotations

import datetime
import re
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from orgs import deadlines, notices
from orgs.deadlines import DeadlineKind, Gap, deadline_set
from orgs.models import CalendarFeed, Deadline, EmailOptOut, Organization, Reminder
from orgs.periods import HALF, QUARTER, YEAR, Period

THIS_YEAR = 2026


# ---------------------------------------------------------------- the test's deadline kinds


class Obligations:
    """Deadline kinds whose open work the test sets: `open[(kind, period slug)] = {org_id:
    count}`. Each rule reads the organisations in one query, as an app's rule would."""

    def __init__(self):
        self.open: dict[tuple[str, str], dict[int, int]] = {}
        self.window: dict[int, list[tuple[Organization, datetime.date]]] = {}
        self.calls: list[tuple[str, str, frozenset | None]] = []

    def gaps_of(self, key: str):
        def gaps(period: Period, org_ids):
            self.calls.append((key, period.slug, None if org_ids is None else frozenset(org_ids)))
            wanted = self.open.get((key, period.slug), {})
            ids = set(wanted) if org_ids is None else set(wanted) & set(org_ids)
            for org in Organization.objects.filter(pk__in=ids).order_by("pk"):
                yield Gap(
                    org.pk, wanted[org.pk], f"{wanted[org.pk]}名党员未点评", f"/orgs/{org.pk}/"
                )

        return gaps

    def kinds(self) -> list[DeadlineKind]:
        return [
            DeadlineKind(
                key="t_window",
                label="测试承诺时间",
                period_kind=YEAR,
                default_due=lambda p: datetime.date(p.year, 3, 31),
                setting_dates=lambda year: self.window.get(year, []),
                setting_url=lambda org, year: f"/pledges/window/{org.pk}/?year={year}",
                order=5,
            ),
            DeadlineKind(
                key="t_review",
                label="测试季度点评",
                period_kind=QUARTER,
                default_due=lambda p: p.end + datetime.timedelta(days=10),
                gaps=self.gaps_of("t_review"),
                order=10,
            ),
            DeadlineKind(
                key="t_half",
                label="测试半年评议",
                period_kind=HALF,
                default_due=lambda p: p.end + datetime.timedelta(days=5),
                order=20,
            ),
            DeadlineKind(
                key="t_report",
                label="测试报表报送",
                period_kind=QUARTER,
                default_due=lambda p: p.end + datetime.timedelta(days=16),
                gaps=self.gaps_of("t_report"),
                roles=("office",),
                order=30,
            ),
        ]


@pytest.fixture
def kinds(monkeypatch) -> Obligations:
    """The registry holds the test's kinds alone, and no default calendar is written yet."""
    obligations = Obligations()
    monkeypatch.setattr(deadlines, "_KINDS", {})
    for kind in obligations.kinds():
        deadlines.register_deadline(kind)
    Deadline.objects.all().delete()
    return obligations


def fixed_today(monkeypatch, module, day: datetime.date) -> None:
    """The view module's `timezone.localdate()` answers `day` (the rest of Django keeps time)."""
    monkeypatch.setattr(
        module, "timezone", SimpleNamespace(localdate=lambda: day, now=timezone.now)
    )


def login(client, user):
    client.force_login(get_user_model().objects.get(pk=user.pk))


def make_notice(user, *, step="-7", kind="t_review", period="2026Q2", **extra) -> Reminder:
    fields = {
        "due_on": datetime.date(2026, 7, 10),
        "items": [
            {"org": 1, "org_name": "组织B1", "text": "2名党员未点评", "count": 2, "url": "/x/"}
        ],
    } | extra
    return Reminder.objects.create(user=user, kind=kind, period=period, step=step, **fields)


def bell_count(page: str) -> int:
    found = re.search(r'<span class="badge" id="unread-count">(\d+)</span>', page)
    return int(found.group(1)) if found else 0


# ---------------------------------------------------------------- the bell and the list


def test_bell_counts_exactly_the_unread_notices_the_list_highlights(client, personas, kinds):
    user = personas.user("own_branch_secretary")
    for step in ("-7", "-1", "+1"):
        make_notice(user, step=step)
    make_notice(user, period="2026Q1", read_at=timezone.now())
    make_notice(user, period="2026Q3", done_at=timezone.now())  # the work was done since
    make_notice(personas.user("sibling_branch_secretary"))  # someone else's
    login(client, user)
    page = client.get(reverse("notices:list")).content.decode()
    highlighted = page.count('class="card notice unread"')
    assert bell_count(page) == highlighted == 3
    assert notices.unread_notices(user=user).count() == 3
    assert page.count('class="card notice done"') == 1 and "已办结" in page
    assert page.count("标为已读</button>") == 3 + 1  # each unread one, and 全部标为已读


def test_the_bell_is_on_every_page_of_a_logged_in_user_and_not_on_the_login_page(client, personas):
    user = personas.user("own_branch_secretary")
    make_notice(user)
    assert 'class="bell"' not in client.get(reverse("login")).content.decode()
    login(client, user)
    for url in (reverse("home"), reverse("orgs:member_list"), reverse("notices:calendar")):
        page = client.get(url).content.decode()
        assert f'href="{reverse("notices:list")}"' in page
        assert bell_count(page) == 1


def test_marking_one_notice_read_takes_it_off_the_bell(client, personas, kinds):
    user = personas.user("own_branch_secretary")
    first, second = make_notice(user, step="-7"), make_notice(user, step="-1")
    login(client, user)
    assert client.get(reverse("notices:read", args=[first.pk])).status_code == 405
    response = client.post(reverse("notices:read", args=[first.pk]), {"page": "2"})
    assert response.status_code == 302 and response["Location"].endswith("?page=2")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None
    assert bell_count(client.get(reverse("notices:list")).content.decode()) == 1


def test_marking_all_read_clears_the_bell(client, personas, kinds):
    user = personas.user("own_branch_secretary")
    for step in ("-7", "-1"):
        make_notice(user, step=step)
    other = make_notice(personas.user("sibling_branch_secretary"))
    login(client, user)
    response = client.post(reverse("notices:read_all"), follow=True)
    page = response.content.decode()
    assert bell_count(page) == 0 and "全部标为已读" not in page
    assert not Reminder.objects.filter(user=user, read_at=None).exists()
    other.refresh_from_db()
    assert other.read_at is None


def test_another_users_notice_is_not_found_and_stays_unread(client, personas, kinds):
    notice = make_notice(personas.user("own_branch_secretary"))
    login(client, personas.user("own_branch_deputy"))  # the same branch, not the same person
    assert client.post(reverse("notices:read", args=[notice.pk])).status_code == 404
    notice.refresh_from_db()
    assert notice.read_at is None
    with pytest.raises(Exception) as refused:
        notices.notice_mark_read(notice=notice, by=personas.user("own_branch_deputy"))
    assert "自己的通知" in str(refused.value)


def test_a_notice_names_its_deadline_step_and_items_linking_to_the_work(client, personas, kinds):
    user = personas.user("parent_committee_secretary")
    b1 = personas.orgs["B1"]
    make_notice(
        user,
        step="up1",
        period="2026Q1",
        due_on=datetime.date(2026, 4, 10),
        items=[
            {
                "org": b1.pk,
                "org_name": "组织B1",
                "text": "3名党员未点评",
                "count": 3,
                "url": f"/orgs/{b1.pk}/",
                "late": 4,
            },
            {
                "org": 0,
                "org_name": "组织X",
                "text": "外部链接",
                "count": 1,
                "url": "https://evil.example/",
            },
        ],
    )
    login(client, user)
    page = client.get(reverse("notices:list")).content.decode()
    assert "测试季度点评（2026年第一季度）" in page
    assert "下级组织逾期未完成" in page
    assert "截止 2026年4月10日" in page
    assert (
        f'组织B1：<a href="/orgs/{b1.pk}/">3名党员未点评</a> <span class="badge">3</span>' in page
    )
    assert "逾期4天" in page
    assert "evil.example" not in page and "组织X：外部链接" in page


def test_a_notice_of_a_kind_no_app_declares_shows_its_key(client, personas, kinds):
    user = personas.user("own_branch_secretary")
    make_notice(user, kind="gone_kind")
    login(client, user)
    assert "gone_kind" in client.get(reverse("notices:list")).content.decode()


def test_the_empty_list_says_what_will_come(client, personas):
    login(client, personas.user("member_self"))
    page = client.get(reverse("notices:list")).content.decode()
    assert "暂无通知" in page and bell_count(page) == 0


def test_the_list_costs_the_same_few_queries_for_many_notices(
    client, personas, kinds, django_assert_num_queries
):
    user = personas.user("own_branch_secretary")
    for n in range(30):
        make_notice(user, period=f"20{10 + n // 4:02d}Q{n % 4 + 1}")
    login(client, user)
    # session, user (with its unread count), the page's count, the page of notices
    with django_assert_num_queries(4):
        response = client.get(reverse("notices:list"))
    assert response.content.decode().count('class="card notice unread"') == 20
    assert "第 1 / 2 页" in response.content.decode()


# ---------------------------------------------------------------- e-mail preferences


def test_settings_turn_the_email_of_chosen_kinds_off(client, personas, kinds):
    user = personas.user("own_branch_secretary")
    login(client, user)
    response = client.post(reverse("notices:settings"), {"email": ["t_review", "not_a_kind"]})
    assert response.status_code == 302
    off = set(EmailOptOut.objects.filter(user=user).values_list("kind", flat=True))
    assert off == {"t_window", "t_half", "t_report"}
    client.post(reverse("notices:settings"), {"email": ["t_review", "t_report"]})
    off = set(EmailOptOut.objects.filter(user=user).values_list("kind", flat=True))
    assert off == {"t_window", "t_half"}
    page = client.get(reverse("notices:settings")).content.decode()
    assert 'value="t_report" checked' in page and 'value="t_half">' in page
    assert "不能关闭" in page
    assert not EmailOptOut.objects.exclude(user=user).exists()


def test_settings_say_where_the_email_goes_or_that_only_in_app_notices_come(
    client, personas, kinds
):
    user = personas.user("own_branch_secretary")
    login(client, user)
    assert "只会收到站内通知" in client.get(reverse("notices:settings")).content.decode()
    get_user_model().objects.filter(pk=user.pk).update(email="own@example.org")
    page = client.get(reverse("notices:settings")).content.decode()
    assert "own@example.org" in page and "只会收到站内通知" not in page


# ---------------------------------------------------------------- the feed


def _feed_token(page: str) -> str:
    return re.search(r"/notices/feed/([A-Za-z0-9_-]+)\.ics", page).group(1)


def test_the_settings_page_shows_one_secret_feed_address(client, personas, kinds):
    user = personas.user("own_branch_secretary")
    login(client, user)
    first = client.get(reverse("notices:settings")).content.decode()
    token = _feed_token(first)
    assert len(token) >= 43  # 32 random bytes
    # the address the page was reached by (the test client's host)
    assert "http://testserver" + reverse("notices:feed", args=[token]) in first
    assert _feed_token(client.get(reverse("notices:settings")).content.decode()) == token
    assert CalendarFeed.objects.filter(user=user).count() == 1


def test_resetting_the_feed_address_stops_the_old_one(client, personas, kinds):
    user = personas.user("own_branch_secretary")
    old = notices.calendar_feed_for(user=user).token
    assert client.get(reverse("notices:feed", args=[old])).status_code == 200  # no login
    login(client, user)
    assert client.get(reverse("notices:feed_reset")).status_code == 405
    response = client.post(reverse("notices:feed_reset"))
    assert response.status_code == 302
    new = CalendarFeed.objects.get(user=user).token
    assert new != old
    client.logout()
    assert client.get(reverse("notices:feed", args=[old])).status_code == 404
    assert client.get(reverse("notices:feed", args=[new])).status_code == 200


@pytest.mark.parametrize("token", ["x" * 43, "short", "a" * 70, "bad%20token" + "a" * 30])
def test_an_unknown_feed_address_is_not_found(client, personas, kinds, token):
    notices.calendar_feed_for(user=personas.user("own_branch_secretary"))
    assert client.get(f"/notices/feed/{token}.ics").status_code == 404


def test_an_inactive_users_feed_is_not_found(client, personas, kinds):
    user = personas.user("own_branch_secretary")
    token = notices.calendar_feed_for(user=user).token
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert client.get(reverse("notices:feed", args=[token])).status_code == 404


def _unfold(text: str) -> list[str]:
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # every line ends with CRLF
    physical = text[:-2].split("\r\n")
    for line in physical:
        assert len(line.encode("utf-8")) <= 75, line
    logical: list[str] = []
    for line in physical:
        if line.startswith(" "):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    return logical


def _events(lines: list[str]) -> list[dict[str, str]]:
    events, current = [], None
    for line in lines:
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            events.append(current)
            current = None
        elif current is not None:
            name, _, value = line.partition(":")
            current[name] = value
    return events


def _ics_unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def test_the_feed_has_each_deadline_of_the_users_organisations_once(
    client, personas, kinds, monkeypatch
):
    from orgs import views_notices

    fixed_today(monkeypatch, views_notices, datetime.date(THIS_YEAR, 5, 20))
    user = personas.user("own_branch_secretary")  # B1 alone
    t1 = personas.orgs["T1"]
    deadline_set(
        by=personas.user("office_inside"),
        org=t1,
        kind="t_review",
        period=Period.quarter(THIS_YEAR, 1),
        due_on=datetime.date(THIS_YEAR, 4, 20),
        steps=[7, 1, -1],
    )
    token = notices.calendar_feed_for(user=user).token
    response = client.get(reverse("notices:feed", args=[token]))
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    lines = _unfold(response.content.decode("utf-8"))
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines
    events = _events(lines)
    uids = [e["UID"] for e in events]
    b1 = personas.orgs["B1"]
    # due from 21 March (60 days back) to 20 May next year: this year's periods, the window of
    # next year (31 March) and next year's first quarter (10 and 16 April), not its first half
    # (5 July); nothing of last year (its fourth quarter's dates are in January)
    wanted = {f"t_window-{y}Y1" for y in (THIS_YEAR, THIS_YEAR + 1)}
    wanted |= {f"t_half-{THIS_YEAR}H{n}" for n in (1, 2)}
    wanted |= {
        f"{key}-{p.slug}"
        for key in ("t_review", "t_report")
        for p in Period.all_of(THIS_YEAR, QUARTER) + [Period.quarter(THIS_YEAR + 1, 1)]
    }
    assert len(uids) == len(set(uids)) == len(wanted) == 14
    assert {uid.split("-org")[0] for uid in uids} == wanted
    assert all(uid.endswith(f"-org{b1.pk}@{_host()}") for uid in uids)
    moved = next(e for e in events if e["UID"].startswith(f"t_review-{THIS_YEAR}Q1-org{b1.pk}@"))
    assert moved["DTSTART;VALUE=DATE"] == f"{THIS_YEAR}0420"
    assert moved["DTEND;VALUE=DATE"] == f"{THIS_YEAR}0421"
    assert "组织T1设置" in _ics_unescape(moved["DESCRIPTION"])
    default = next(e for e in events if e["UID"].startswith(f"t_review-{THIS_YEAR}Q2-org{b1.pk}@"))
    assert default["DTSTART;VALUE=DATE"] == f"{THIS_YEAR}0710"
    assert all(re.fullmatch(r"\d{8}T\d{6}Z", e["DTSTAMP"]) for e in events)
    # the same address again: the same UIDs (a phone calendar updates, never duplicates)
    again = _events(_unfold(client.get(reverse("notices:feed", args=[token])).content.decode()))
    assert [e["UID"] for e in again] == uids


def _host() -> str:
    from urllib.parse import urlsplit

    return urlsplit(settings.SITE_URL).hostname or "cxzy"


def _feed_events(personas, persona: str, today: datetime.date) -> dict[str, str]:
    """The feed's events on `today`: "kind-period" -> the date it falls due."""
    text = notices.calendar_ics(user=personas.user(persona), today=today)
    return {e["UID"].split("-org")[0]: e["DTSTART;VALUE=DATE"] for e in _events(_unfold(text))}


def test_the_feed_in_january_keeps_last_years_deadlines_falling_due_after_new_year(personas, kinds):
    """Deadlines are chosen by their date: on 5 January last year's fourth quarter still falls
    due (10 and 16 January), and a date an office moved into the window is there whatever its
    period's year."""
    last = THIS_YEAR - 1
    deadline_set(
        by=personas.user("office_inside"),
        org=personas.orgs["T1"],
        kind="t_review",
        period=Period.quarter(last, 2),
        due_on=datetime.date(THIS_YEAR, 2, 1),
        steps=[7, 1, -1],
    )
    events = _feed_events(personas, "own_branch_secretary", datetime.date(THIS_YEAR, 1, 5))
    assert events[f"t_review-{last}Q4"] == f"{THIS_YEAR}0110"
    assert events[f"t_report-{last}Q4"] == f"{THIS_YEAR}0116"
    assert events[f"t_half-{last}H2"] == f"{THIS_YEAR}0105"  # today
    assert events[f"t_review-{last}Q2"] == f"{THIS_YEAR}0201"  # moved by the office
    assert events[f"t_half-{THIS_YEAR}H2"] == f"{THIS_YEAR + 1}0105"  # a year ahead: the last day
    # passed more than 60 days ago (10 and 16 October), or more than a year ahead (10 January)
    for gone in (f"t_review-{last}Q3", f"t_report-{last}Q3", f"t_review-{THIS_YEAR}Q4"):
        assert gone not in events
    # the county, above the committee that moved it, keeps its default date (10 July): gone
    events = _feed_events(personas, "county_secretary", datetime.date(THIS_YEAR, 1, 5))
    assert f"t_review-{last}Q2" not in events and f"t_review-{last}Q4" in events


def test_the_feed_escapes_text_and_folds_long_lines(client, personas, kinds):
    b1 = personas.orgs["B1"]
    name = "第一支部, 东区; 西区\\南区" + "很长的名称" * 12
    Organization.objects.filter(pk=b1.pk).update(name=name)
    token = notices.calendar_feed_for(user=personas.user("own_branch_secretary")).token
    text = client.get(reverse("notices:feed", args=[token])).content.decode("utf-8")
    lines = _unfold(text)  # checks CRLF and 75 octets a line
    assert any(line.startswith(" ") for line in text.split("\r\n"))  # something was folded
    summaries = [e["SUMMARY"] for e in _events(lines)]
    assert "第一支部\\, 东区\\; 西区\\\\南区" in summaries[0]
    assert all(_ics_unescape(s).endswith(f"截止 · {name}") for s in summaries)


def test_folding_never_splits_a_character():
    line = "SUMMARY:" + "创先争优截止日期" * 30 + "abc"
    folded = notices._fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode("utf-8")) <= 75 for p in parts)
    assert parts[0] + "".join(p[1:] for p in parts[1:]) == line
    assert notices._fold("SHORT:x") == "SHORT:x"
