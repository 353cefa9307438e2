"""The reminders sweep and sender (orgs.reminders), the command, the task and the embedded sweep.

Every test sweeps the tests' own deadline kind (tests/reminder_kinds.py) alone: each active branch
reports its activists each quarter, by the quarter's last day (2026Q1: 31 March 2026), reminded
7 and 1 days before and the day after. In the personas' province B1 (secretary `own`, deputy
`deputy_own`), B2 (`sibling`) and B3 (nobody) owe it; T1's secretary is `parent`, T2's
`unrelated`; the offices are at K1 (`office_in`) and K2 (`office_out`).
"""

from __future__ import annotations

import datetime
import io
import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orgs import deadlines, embedded, reminders, services, tasks
from orgs.deadlines import DeadlineKind, due_on_day
from orgs.models import Deadline, EmailOptOut, EmailState, OrgKind, Reminder, Role
from orgs.periods import Period
from tests.personas import make_org, make_user
from tests.reminder_kinds import KEY, KIND, mark_done

DUE = datetime.date(2026, 3, 31)
Q1 = Period.quarter(2026, 1)
UTC = datetime.UTC


def day(month: int, dom: int) -> datetime.date:
    return datetime.date(2026, month, dom)


@pytest.fixture
def kind(monkeypatch):
    """The test kind is the only deadline kind while the test runs."""
    monkeypatch.setattr(deadlines, "_KINDS", {KEY: KIND})
    return KIND


@pytest.fixture
def mail(settings, mailoutbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return mailoutbox


def with_emails(*usernames: str) -> None:
    users = get_user_model().objects.filter(username__in=usernames)
    for user in users:
        user.email = f"{user.username}@example.cn"
        user.save(update_fields=["email"])


def queued() -> set[tuple[str, str]]:
    """(username, step) of every reminder of the test kind."""
    return set(Reminder.objects.filter(kind=KEY).values_list("user__username", "step"))


def row(username: str, step: str, period: str = "2026Q1") -> Reminder:
    return Reminder.objects.get(kind=KEY, period=period, step=step, user__username=username)


def item_orgs(reminder: Reminder) -> set[str]:
    return {item["org_name"] for item in reminder.items}


def recipients(messages) -> list[str]:
    return sorted(address.split("@")[0] for message in messages for address in message.to)


def fix_now(monkeypatch, iso: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(iso)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    return moment


# ---------------------------------------------------------------- which step is due when


@pytest.mark.parametrize(
    "today, step, escalations",
    [
        (day(3, 23), None, ()),
        (day(3, 24), "-7", ()),
        (day(3, 29), "-7", ()),
        (day(3, 30), "-1", ()),
        (day(3, 31), "-1", ()),
        (day(4, 1), "+1", ("up1",)),
        (day(4, 6), "+1", ("up1",)),
        (day(4, 7), "+1", ("up2",)),
        (day(4, 8), None, ("up2",)),
        (day(4, 13), None, ("up2",)),
        (day(4, 14), None, ()),
    ],
)
def test_each_day_has_its_step_and_escalation(today, step, escalations):
    assert due_on_day(DUE, (7, 1, -1), today) == deadlines.Due(step, escalations)


def test_a_missed_step_is_caught_up_for_a_week_only():
    assert due_on_day(DUE, (30,), day(3, 7)).step == "-30"
    assert due_on_day(DUE, (30,), day(3, 8)).step is None


def test_a_step_before_the_date_is_not_caught_up_after_it():
    assert due_on_day(DUE, (7, 1), day(3, 31)).step == "-1"
    assert due_on_day(DUE, (7, 1), day(4, 1)) == deadlines.Due(None, ("up1",))
    assert due_on_day(DUE, (3, -2), day(4, 1)).step is None
    assert due_on_day(DUE, (3, -2), day(4, 2)).step == "+2"


def test_a_stale_row_of_a_kind_no_longer_declared_does_not_hide_a_new_kind(db, kind):
    for n in (1, 2, 3, 4):
        Deadline.objects.create(
            year=2026, kind="gone.kind", period=f"2026Q{n}", due_on=DUE, steps=[7]
        )
    deadlines.ensure_year(2026)
    assert Deadline.objects.filter(org=None, kind=KEY, year=2026).count() == 4


def test_a_deadline_is_a_date_not_a_time(personas, kind):
    with pytest.raises(ValidationError):
        deadlines.deadline_set(
            by=personas.user("office_inside"),
            org=personas.orgs["K1"],
            kind=KEY,
            period=Q1,
            due_on=datetime.datetime(2026, 3, 31, 12, 0, tzinfo=UTC),
            steps=[7, 1],
        )


# ---------------------------------------------------------------- the sweep


def test_the_leaders_of_each_organisation_with_a_gap_get_the_step_due(personas, kind):
    result = reminders.sweep(today=day(3, 24))
    assert queued() == {("own", "-7"), ("deputy_own", "-7"), ("sibling", "-7")}
    assert result.created == 3 and result.queued == 3 and result.gaps == 3
    assert result.deadlines == [f"{KEY} 2026Q1"]
    assert item_orgs(row("own", "-7")) == {"组织B1"}
    reminder = row("own", "-7")
    assert reminder.due_on == DUE and reminder.email_state == EmailState.QUEUED
    assert reminders.unread_count(personas.user("own_branch_secretary")) == 1


def test_a_second_sweep_queues_nothing_and_a_branch_done_is_not_reminded(personas, kind):
    reminders.sweep(today=day(3, 24))
    again = reminders.sweep(today=day(3, 24))
    assert again.queued == 3 and again.created == 0
    assert Reminder.objects.filter(kind=KEY).count() == 3
    mark_done(personas.orgs["B2"], 2026)
    result = reminders.sweep(today=day(3, 30))
    assert result.created == 2
    assert queued() - {("own", "-7"), ("deputy_own", "-7"), ("sibling", "-7")} == {
        ("own", "-1"),
        ("deputy_own", "-1"),
    }


def test_an_office_date_below_moves_the_steps_for_its_subtree_only(personas, kind):
    deadlines.deadline_set(
        by=personas.user("office_inside"),
        org=personas.orgs["K1"],
        kind=KEY,
        period=Q1,
        due_on=day(4, 10),
        steps=[7, 1],
    )
    reminders.sweep(today=day(3, 30))
    # B1 and B2 are under K1: due 10 April, nothing yet; B3 keeps 31 March, but has nobody
    assert queued() == set()
    reminders.sweep(today=day(4, 3))
    # B1 and B2: seven days before 10 April; B3, three days late, goes up to T2
    assert queued() == {
        ("own", "-7"),
        ("deputy_own", "-7"),
        ("sibling", "-7"),
        ("unrelated", "up1"),
    }
    assert row("own", "-7").due_on == day(4, 10)


def test_escalation_reaches_the_parents_secretary_and_office_then_the_grandparents_office(
    personas, kind
):
    t1_office = make_user("t1_office", Role.OFFICE, personas.orgs["T1"])
    services.role_grant(by=None, user=t1_office, org=personas.orgs["T1"], role=Role.DEPUTY)

    reminders.sweep(today=day(4, 1))
    assert queued() == {
        ("own", "+1"),
        ("deputy_own", "+1"),
        ("sibling", "+1"),
        ("parent", "up1"),
        ("t1_office", "up1"),
        ("unrelated", "up1"),
    }
    assert item_orgs(row("parent", "up1")) == {"组织B1", "组织B2"}
    assert item_orgs(row("t1_office", "up1")) == {"组织B1", "组织B2"}
    assert item_orgs(row("unrelated", "up1")) == {"组织B3"}
    assert {item["late"] for item in row("parent", "up1").items} == {1}

    before = queued()
    reminders.sweep(today=day(4, 7))
    assert queued() - before == {("office_in", "up2"), ("office_out", "up2")}
    assert item_orgs(row("office_in", "up2")) == {"组织B1", "组织B2"}
    assert item_orgs(row("office_out", "up2")) == {"组织B3"}
    assert {item["late"] for item in row("office_in", "up2").items} == {7}
    # the county secretary, the contact leader and the member are never reminded
    users = set(Reminder.objects.values_list("user__username", flat=True))
    assert not users & {"county_secretary", "contact_leader", "member_self"}


def test_a_rule_that_fails_is_reported_and_the_other_deadlines_are_still_swept(
    personas, monkeypatch
):
    def broken(period, org_ids):
        raise RuntimeError("rule broken")
        yield  # pragma: no cover

    broken_kind = DeadlineKind(
        key="tests.broken",
        label="坏规则",
        period_kind="Q",
        default_due=lambda p: p.end,
        gaps=broken,
    )
    monkeypatch.setattr(deadlines, "_KINDS", {KEY: KIND, broken_kind.key: broken_kind})
    result = reminders.sweep(today=day(3, 30))
    assert result.failed == ["tests.broken 2026Q1"]
    assert result.created == 3 and len(queued()) == 3
    with pytest.raises(CommandError, match="tests.broken 2026Q1"):
        call_command("reminders_sweep", "--today", "2026-03-30", stdout=io.StringIO())


def test_the_sweep_reads_organisations_not_members_in_queries_that_do_not_grow(personas, kind):
    reminders.sweep(today=day(3, 24))  # the calendar rows are written once

    def measured():
        Reminder.objects.all().delete()  # every row is new to each measured sweep
        with CaptureQueriesContext(connection) as captured:
            reminders.sweep(today=day(3, 24))
        return [q["sql"] for q in captured.captured_queries]

    small = measured()
    for n in range(6):
        branch = make_org(f"BX{n}", OrgKind.BRANCH, personas.orgs["T1"])
        make_user(f"bx{n}", Role.SECRETARY, branch)
    large = measured()
    assert Reminder.objects.filter(kind=KEY).count() == 3 + 6
    # ensure_year for 2025 and 2026, the candidate deadlines, their rows, the tree, the role
    # holders, the savepoint, the rule's one query, the rows already queued, the insert (on
    # PostgreSQL: a temporary table, COPY into it, the insert from it, dropping it), the release
    assert len(small) == len(large) == (13 if connection.vendor == "postgresql" else 11)
    assert not [sql for sql in large if "orgs_member" in sql]


# ---------------------------------------------------------------- Asia/Shanghai's day


def test_the_task_without_a_date_sweeps_shanghais_day(personas, kind, monkeypatch):
    """The -7 step of 31 March starts at 00:00 on 24 March in Beijing (16:00 UTC the day before);
    the day after the date starts at 00:00 on 1 April (16:00 UTC on 31 March)."""

    def new_steps(iso: str) -> set[str]:
        fix_now(monkeypatch, iso)
        before = set(Reminder.objects.values_list("pk", flat=True))
        outcome = tasks.reminders_sweep.apply().get()
        assert outcome["today"] == reminders.campaign_today().isoformat()
        return set(Reminder.objects.exclude(pk__in=before).values_list("step", flat=True))

    assert new_steps("2026-03-23T15:59:59+00:00") == set()
    assert new_steps("2026-03-23T16:00:00+00:00") == {"-7"}
    assert new_steps("2026-03-31T15:59:59+00:00") == {"-1"}
    assert new_steps("2026-03-31T16:00:00+00:00") == {"+1", "up1"}
    created = Reminder.objects.filter(step="+1").values_list("created_at", flat=True)
    assert {moment.utcoffset() for moment in created} == {datetime.timedelta(0)}  # stored in UTC


def test_the_task_takes_a_date_as_if_it_were_today(personas, kind):
    outcome = tasks.reminders_sweep.apply(kwargs={"today": "2026-03-30"}).get()
    assert outcome["today"] == "2026-03-30" and outcome["created"] == 3
    assert {step for _user, step in queued()} == {"-1"}


# ---------------------------------------------------------------- the command


def test_the_command_sweeps_then_sends_and_says_what_it_did(personas, kind, mail):
    with_emails("own", "sibling")
    out = io.StringIO()
    call_command("reminders_sweep", "--today", "2026-03-30", stdout=out)
    text = out.getvalue()
    assert "提醒扫描（2026-03-30）" in text and "新提醒 3 条" in text
    assert "邮件：发出 2 封（含提醒 2 条）；无邮箱或不接收邮件 1 条" in text
    assert recipients(mail) == ["own", "sibling"]
    out = io.StringIO()
    call_command("reminders_sweep", "--today", "2026-03-30", stdout=out)
    assert "新提醒 0 条（已提醒过的 3 条不再重复）" in out.getvalue()
    assert "发出 0 封" in out.getvalue() and len(mail) == 2


def test_the_command_can_queue_without_sending(personas, kind, mail):
    with_emails("own")
    call_command("reminders_sweep", "--today", "2026-03-30", "--no-send", stdout=io.StringIO())
    assert len(queued()) == 3 and mail == []
    assert row("own", "-1").email_state == EmailState.QUEUED


@pytest.mark.parametrize("value", ["2026-02-30", "2026/03/30", "明天", "1999-12-31", ""])
def test_a_bad_date_is_a_clear_error(db, kind, value):
    with pytest.raises(CommandError, match="--today"):
        call_command("reminders_sweep", "--today", value, stdout=io.StringIO())
    assert not Reminder.objects.exists()


# ---------------------------------------------------------------- the sender


def test_one_digest_per_person_lists_all_their_items(personas, kind, mail):
    with_emails("own", "deputy_own", "sibling", "parent", "unrelated")
    deadlines.ensure_year(2026)
    Deadline.objects.filter(org=None, kind=KEY, period="2026Q2").update(due_on=DUE)
    reminders.sweep(today=day(4, 1))
    result = reminders.send_due()
    assert recipients(mail) == ["deputy_own", "own", "parent", "sibling", "unrelated"]
    assert result.messages == 5 and result.sent == 10  # two quarters each
    own = next(m for m in mail if m.to == ["own@example.cn"])
    assert own.subject == "创先争优工作提醒：2项待办"
    assert (
        "【入党积极分子数填报（测试）（2026年第一季度）】截止 2026年3月31日，逾期提醒" in own.body
    )
    assert "【入党积极分子数填报（测试）（2026年第二季度）】" in own.body
    assert "http://127.0.0.1:8000/orgs/" in own.body
    assert "http://127.0.0.1:8000/notices/settings/" in own.body  # where e-mail is turned off
    parent = next(m for m in mail if m.to == ["parent@example.cn"])
    assert parent.subject == "创先争优工作提醒：4项待办"
    assert "组织B1：未填报入党积极分子数（逾期1天）" in parent.body
    assert "组织B2" in parent.body and "组织B3" not in parent.body
    assert set(Reminder.objects.values_list("email_state", flat=True)) == {EmailState.SENT}
    assert reminders.send_due().messages == 0 and len(mail) == 5


def test_work_done_since_queueing_is_not_sent_and_its_notice_is_done(personas, kind, mail):
    with_emails("own", "deputy_own", "sibling", "parent", "unrelated")
    reminders.sweep(today=day(4, 1))
    mark_done(personas.orgs["B1"], 2026)
    result = reminders.send_due()
    assert result.cancelled == 2
    for name in ("own", "deputy_own"):
        reminder = row(name, "+1")
        assert reminder.email_state == EmailState.CANCELLED and reminder.done_at is not None
    assert reminders.unread_count(personas.user("own_branch_secretary")) == 0
    assert recipients(mail) == ["parent", "sibling", "unrelated"]
    parent = next(m for m in mail if m.to == ["parent@example.cn"])
    assert "组织B2" in parent.body and "组织B1" not in parent.body
    assert item_orgs(row("parent", "up1")) == {"组织B2"}


def test_an_opted_out_kind_and_a_missing_address_get_the_notice_without_email(personas, kind, mail):
    with_emails("own", "sibling")  # deputy_own has no address
    EmailOptOut.objects.create(user=personas.user("own_branch_secretary"), kind=KEY)
    reminders.sweep(today=day(3, 30))
    result = reminders.send_due()
    assert recipients(mail) == ["sibling"]
    assert result.skipped == 2 and result.messages == 1
    for name, persona in (("own", "own_branch_secretary"), ("deputy_own", "own_branch_deputy")):
        assert row(name, "-1").email_state == EmailState.SKIPPED
        assert reminders.unread_count(personas.user(persona)) == 1


def test_a_failed_send_waits_with_backoff_and_is_not_sent_again_before(
    personas, kind, mail, settings
):
    with_emails("own", "deputy_own", "sibling")
    reminders.sweep(today=day(3, 30))
    settings.EMAIL_BACKEND = "tests.reminder_kinds.FailingMailBackend"
    t0 = timezone.now()
    assert reminders.send_due(now=t0).failed == 3
    for reminder in Reminder.objects.all():
        assert reminder.email_state == EmailState.QUEUED and reminder.attempts == 1
        assert reminder.next_attempt_at == t0 + datetime.timedelta(minutes=5)
        assert "Connection unexpectedly closed" in reminder.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert reminders.send_due(now=t0 + datetime.timedelta(minutes=4, seconds=59)).messages == 0
    assert mail == []
    assert reminders.send_due(now=t0 + datetime.timedelta(minutes=5)).messages == 3
    assert recipients(mail) == ["deputy_own", "own", "sibling"]
    assert {r.last_error for r in Reminder.objects.all()} == {""}


def test_the_backoff_doubles_up_to_six_hours_and_the_last_attempt_gives_up(
    personas, kind, mail, settings
):
    assert [reminders.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 7, 8)] == [
        5,
        10,
        20,
        320,
        360,
    ]
    with_emails("own")
    reminders.sweep(today=day(3, 30))
    Reminder.objects.filter(user__username="own").update(attempts=reminders.MAX_ATTEMPTS - 1)
    settings.EMAIL_BACKEND = "tests.reminder_kinds.FailingMailBackend"
    reminders.send_due()
    gave_up = row("own", "-1")
    assert gave_up.email_state == EmailState.FAILED
    assert gave_up.attempts == reminders.MAX_ATTEMPTS
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert reminders.send_due(now=timezone.now() + datetime.timedelta(days=1)).messages == 0
    assert mail == [] and row("own", "-1").email_state == EmailState.FAILED
    assert reminders.unread_count(personas.user("own_branch_secretary")) == 1


def test_a_claim_past_its_lease_is_taken_back_and_a_live_one_is_left(personas, kind, mail):
    with_emails("own", "deputy_own", "sibling")
    reminders.sweep(today=day(3, 30))
    now = timezone.now()
    past_lease = now - reminders.CLAIM_LEASE - datetime.timedelta(seconds=1)
    Reminder.objects.filter(user__username="own").update(
        email_state=EmailState.SENDING, claim="dead", claimed_at=past_lease
    )
    Reminder.objects.filter(user__username="deputy_own").update(
        email_state=EmailState.SENDING,
        claim="alive",
        claimed_at=now - datetime.timedelta(minutes=1),
    )
    result = reminders.send_due(now=now)
    assert recipients(mail) == ["own", "sibling"] and result.messages == 2
    assert row("own", "-1").email_state == EmailState.SENT
    alive = row("deputy_own", "-1")
    assert alive.email_state == EmailState.SENDING and alive.claim == "alive"


# ---------------------------------------------------------------- the embedded default


@pytest.fixture
def embedded_mode(settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.REMINDERS_SWEEP_ON_LOGIN = True
    cache.delete(embedded.CACHE_KEY)
    fix_now(monkeypatch, "2026-03-30T02:00:00+00:00")
    yield
    cache.delete(embedded.CACHE_KEY)


def test_a_login_sweeps_once_an_hour_in_the_embedded_default(
    personas, kind, client, embedded_mode, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.force_login(personas.user("own_branch_secretary"))
    assert len(queued()) == 3
    Reminder.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        client.force_login(personas.user("sibling_branch_secretary"))
    assert queued() == set()  # within the hour
    cache.delete(embedded.CACHE_KEY)  # the hour is over
    with django_capture_on_commit_callbacks(execute=True):
        client.force_login(personas.user("sibling_branch_secretary"))
    assert len(queued()) == 3


@pytest.mark.parametrize(
    "eager, on_login", [(False, True), (True, False)], ids=["with-a-broker", "turned-off"]
)
def test_a_login_does_not_sweep_with_a_broker_or_when_turned_off(
    personas,
    kind,
    client,
    embedded_mode,
    settings,
    eager,
    on_login,
    django_capture_on_commit_callbacks,
):
    settings.CELERY_TASK_ALWAYS_EAGER = eager
    settings.REMINDERS_SWEEP_ON_LOGIN = on_login
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.force_login(personas.user("own_branch_secretary"))
    assert queued() == set() and embedded.run_sweep not in callbacks


def test_a_failing_sweep_never_breaks_the_login(
    personas, kind, client, embedded_mode, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(reminders, "sweep", broken)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/login/", {"username": "own", "password": "pw-123456"})
    assert response.status_code == 302
    assert "embedded reminders sweep failed" in caplog.text
    assert client.get("/").status_code == 200


# ---------------------------------------------------------------- at the same time


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL (CI): SQLite's shared in-memory test database refuses a second writer "
    "('database table is locked') instead of waiting for it",
)
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_and_two_senders_at_once_queue_and_send_each_reminder_once(personas, kind, mail):
    """Committed rows, two threads with their own connections: the unique key under concurrent
    inserts, and the senders' SKIP LOCKED claims."""
    for n in range(20):
        branch = make_org(f"BP{n}", OrgKind.BRANCH, personas.orgs["T1"])
        make_user(f"bp{n}", Role.SECRETARY, branch)
    get_user_model().objects.update(email="x@example.cn")
    expected = 3 + 20

    def in_two_threads(work):
        barrier = threading.Barrier(2)
        results, errors = [], []

        def run():
            try:
                barrier.wait(timeout=10)
                results.append(work())
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        return results

    swept = in_two_threads(lambda: reminders.sweep(today=day(3, 30)))
    assert Reminder.objects.filter(kind=KEY).count() == expected
    # both offered every row; between them each was new once
    assert [result.queued for result in swept] == [expected, expected]
    assert sum(result.created for result in swept) == expected
    sent = in_two_threads(reminders.send_due)
    assert sum(result.messages for result in sent) == expected == len(mail)
    assert set(Reminder.objects.values_list("email_state", flat=True)) == {EmailState.SENT}


# ---------------------------------------------------------------- the one schedule


def test_the_beat_schedule_sweeps_hourly_and_a_missed_message_expires_before_the_next(settings):
    from celery.schedules import crontab
    from django_celery_beat.schedulers import ModelEntry

    from config.celery import app

    schedule = app.conf.beat_schedule
    assert schedule["reminders-sweep"]["task"] == "orgs.reminders_sweep"
    assert schedule["reminders-sweep"]["schedule"] == crontab(minute=5)
    assert schedule["reminders-send"]["schedule"] == crontab(minute="*/10")
    # the options reach django-celery-beat's rows (CELERY_BEAT_SCHEDULER) under their own name
    assert settings.CELERY_BEAT_SCHEDULER.startswith("django_celery_beat.")
    for name, period in (("reminders-sweep", 3600), ("reminders-send", 600)):
        unpacked = ModelEntry._unpack_options(**schedule[name]["options"])
        assert 0 < unpacked["expire_seconds"] < period


def test_the_recheck_drops_each_gap_done_and_refreshes_the_rest(personas, monkeypatch, mail):
    """An organisation can owe two things for one deadline (two pages): finishing one drops that
    item only, and the other's count is the one at sending time, not at queueing."""
    from orgs.deadlines import DeadlineKind, Gap
    from orgs.periods import QUARTER

    b1 = personas.orgs["B1"].pk
    open_gaps = {"/a/": 3, "/b/": 2}

    def gaps(period, org_ids):
        for url, count in open_gaps.items():
            if count and (org_ids is None or b1 in org_ids):
                yield Gap(org_id=b1, count=count, text=f"{count} 项未办（{url}）", url=url)

    two = DeadlineKind(
        key="tests.two",
        label="两项工作（测试）",
        period_kind=QUARTER,
        default_due=lambda period: period.end,
        gaps=gaps,
    )
    monkeypatch.setattr(deadlines, "_KINDS", {two.key: two})
    with_emails("own")
    reminders.sweep(today=day(3, 30))
    queued = Reminder.objects.get(kind=two.key, user__username="own")
    assert [item["url"] for item in queued.items] == ["/a/", "/b/"]
    open_gaps.update({"/a/": 0, "/b/": 1})
    reminders.send_due()
    queued.refresh_from_db()
    assert [(item["url"], item["count"]) for item in queued.items] == [("/b/", 1)]
    own = next(m for m in mail if m.to == ["own@example.cn"])
    assert "1 项未办（/b/）" in own.body and "/a/" not in own.body


# ---------------------------------------------------------------- who, when, and exactly once


def items_of(username: str, step: str) -> set[str]:
    """The organisations named in all of a person's reminders at `step` (any date)."""
    rows = Reminder.objects.filter(kind=KEY, user__username=username, step=step)
    return {item["org_name"] for row in rows for item in row.items}


def test_a_sender_slower_than_its_lease_does_not_mail_what_another_took_back(
    personas, kind, mail, monkeypatch
):
    """Sender A claims two people's rows; before it reaches the second person, more than
    CLAIM_LEASE passes and the next sender takes the second person's rows back and mails them.
    A's claim no longer holds when it comes to them, so it does not mail them again."""
    with_emails("own", "sibling")
    reminders.sweep(today=day(3, 24))
    real_digest = reminders.digest
    seen = []

    def slow_digest(user, rows):
        seen.append(user.username)
        if len(seen) == 2:  # A is about to send to its second person, 16 minutes late
            reminders.send_due(now=timezone.now() + datetime.timedelta(minutes=16))
        return real_digest(user, rows)

    monkeypatch.setattr(reminders, "digest", slow_digest)
    reminders.send_due()
    to = sorted(address for message in mail for address in message.to)
    assert to == ["own@example.cn", "sibling@example.cn"], f"mailed twice or not at all: {to}"


def test_no_mail_to_someone_who_no_longer_holds_the_role(personas, kind, mail):
    with_emails("own")
    reminders.sweep(today=day(3, 24))
    own = personas.user("own_branch_secretary")
    services.role_revoke(by=None, user=own, org=personas.orgs["B1"], role=Role.SECRETARY)
    reminders.send_due()
    assert [m.to for m in mail if m.to == ["own@example.cn"]] == []
    assert reminders.unread_count(own) == 0  # the notice left the bell too


def test_each_date_under_one_person_is_reminded_in_turn(personas, kind):
    """A secretary of two branches whose office moved one branch's date gets both branches'
    reminders, each at its own date; a parent hears of each child's lateness at its date."""
    own = personas.user("own_branch_secretary")
    services.role_grant(by=None, user=own, org=personas.orgs["B2"], role=Role.SECRETARY)
    deadlines.deadline_set(
        by=personas.user("office_inside"),
        org=personas.orgs["B2"],
        kind=KEY,
        period=Period.quarter(2026, 1),
        due_on=day(4, 10),
        steps=[7, 1, -1],
    )
    reminders.sweep(today=day(3, 24))  # 7 days before B1's date
    assert items_of("own", "-7") == {"组织B1"}
    reminders.sweep(today=day(4, 1))  # B1 late: to the parent
    assert items_of("parent", "up1") == {"组织B1"}
    reminders.sweep(today=day(4, 3))  # 7 days before B2's date
    assert items_of("own", "-7") == {"组织B1", "组织B2"}
    reminders.sweep(today=day(4, 11))  # B2 late: to the parent too
    assert items_of("parent", "up1") == {"组织B1", "组织B2"}
    reminders.sweep(today=day(4, 11))
    assert Reminder.objects.filter(user__username="parent", step="up1").count() == 2


def test_a_leader_of_a_branch_and_its_parent_hears_of_each_gap_once(personas, kind, mail):
    parent = personas.user("parent_committee_secretary")
    services.role_grant(by=None, user=parent, org=personas.orgs["B1"], role=Role.SECRETARY)
    with_emails("parent")
    reminders.sweep(today=day(4, 1))
    reminders.send_due()
    body = next(m.body for m in mail if m.to == ["parent@example.cn"])
    assert body.count("组织B1：") == 1, body
