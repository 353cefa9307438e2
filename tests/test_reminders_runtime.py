"""The reminders with real processes, in CI (PostgreSQL and Redis): a Celery worker and beat
started as subprocesses (`celery -A tests.celery_app …`, see tests/celery_app.py) against the
committed rows of the test database.

Every test owes the same work: the tests' deadline kind (tests/reminder_kinds.py) is due
tomorrow (Beijing time) in each of the year's four quarters, and B1 (`own`, `deputy_own`) and B2
(`sibling`) have not done it, so the beat's sweep queues twelve reminders ("-1": due tomorrow) and
the sender mails each of the three one digest with their four items. The worker writes its mail
to files (EMAIL_FILE_PATH); the beat runs the reminders every second instead of hourly.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from config.settings import env_bool
from orgs import reminders
from orgs.models import Deadline, EmailState, OrgKind, Reminder, Role
from orgs.periods import QUARTER, Period
from tests.personas import Personas, build_personas, make_org, make_user
from tests.reminder_kinds import KEY

pytestmark = [
    pytest.mark.skipif(
        not env_bool("CI"), reason="starts Celery against PostgreSQL and Redis (CI)"
    ),
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parent.parent
CELERY = [sys.executable, "-m", "celery", "-A", "tests.celery_app"]


def worker(pool: str = "solo", concurrency: int = 1) -> list[str]:
    return [
        *CELERY,
        "worker",
        "-P",
        pool,
        "-c",
        str(concurrency),
        "-l",
        "info",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


WORKER = worker()
BEAT = [*CELERY, "beat", "-l", "info", "--max-interval", "1"]
OWING = ["deputy_own", "own", "sibling"]
EXPECTED = len(OWING) * 4
FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
SLOW_BACKEND = "tests.reminder_kinds.FileMailBackend"


class Processes:
    """Subprocesses each in its own process group, killed with everything they started."""

    def __init__(self, folder: Path, redis_url: str):
        self.folder = folder
        self.redis_url = redis_url
        self.running: dict[str, subprocess.Popen] = {}
        self.mail = folder / "mail"
        db = settings.DATABASES["default"]
        password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
        self.database_url = (
            f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}"  # the test database, with the rows this test committed
        )
        self.keyprefix = f"reminders-test-{uuid.uuid4().hex[:8]}:"

    def start(self, name: str, args: list[str], **extra: str) -> subprocess.Popen:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PYTEST", "DJANGO_"))
        }
        env |= {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": "reminders-runtime-test",
            "DEBUG": "false",
            "EMAIL_BACKEND": FILE_BACKEND,
            "EMAIL_FILE_PATH": str(self.mail),
            "REMINDERS_TEST_BEAT_SECONDS": "1",
            "REMINDERS_TEST_KEYPREFIX": self.keyprefix,
        } | extra
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            args,
            cwd=self.folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.running[name] = process
        return process

    def kill(self, name: str) -> None:
        """kill -9 of the process and its children (a prefork pool, if any)."""
        process = self.running.pop(name)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)

    def kill_pool_process(self, name: str) -> int:
        """kill -9 of the one pool process of a prefork worker (-c 1); its pid."""
        main = self.running[name].pid
        children = Path(f"/proc/{main}/task/{main}/children").read_text().split()
        assert len(children) == 1, children
        os.kill(int(children[0]), signal.SIGKILL)
        return int(children[0])

    def kill_all(self) -> None:
        for name in list(self.running):
            self.kill(name)

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(
            f"===== {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.folder.glob("*.log"))
        )

    def wait_for(self, condition, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.running.items():
                if process.poll() is not None:
                    raise AssertionError(f"{name} exited ({process.returncode})\n{self.logs()}")
            if condition():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")


@pytest.fixture
def procs(tmp_path):
    processes = Processes(tmp_path, settings.REDIS_URL)
    try:
        yield processes
    finally:
        processes.kill_all()
        _drop_keys(settings.REDIS_URL, processes.keyprefix)


def _drop_keys(url: str, prefix: str) -> None:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
    except redis.RedisError:
        pass


@pytest.fixture
def due_tomorrow(db):
    """The test kind due tomorrow (Beijing time) in all four quarters of the year."""
    tomorrow = reminders.campaign_today() + datetime.timedelta(days=1)
    for period in Period.all_of(tomorrow.year, QUARTER):
        Deadline.objects.create(
            org=None,
            year=period.year,
            kind=KEY,
            period=period.slug,
            due_on=tomorrow,
            steps=[7, 1, -1],
        )


def owe_work() -> Personas:
    """The personas, committed at once: B1 and B2 owe the work. Written after the processes were
    started, while they start up (their sweeps before it find nothing to do)."""
    with transaction.atomic():
        people = build_personas()
        for user in get_user_model().objects.filter(username__in=OWING):
            user.email = f"{user.username}@example.cn"
            user.save(update_fields=["email"])
    return people


def reminder_count() -> int:
    return Reminder.objects.filter(kind=KEY).count()


def sent_count() -> int:
    return Reminder.objects.filter(kind=KEY, email_state=EmailState.SENT).count()


QUARTER_IN_MAIL = re.compile(r"（(\d{4})年第(.)季度）】")


def mails(folder: Path) -> list[tuple[str, frozenset[str]]]:
    """(addressee, the quarters the digest lists) of every message written, in either backend's
    files (the file backend puts a connection's messages in one file, between rules)."""
    out = []
    for path in sorted(folder.glob("*")) if folder.exists() else []:
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if not chunk.strip():
                continue
            message = email.message_from_bytes(chunk, policy=email.policy.default)
            body = message.get_body().get_content()
            quarters = frozenset(
                f"{y}Q{'一二三四'.index(n) + 1}" for y, n in QUARTER_IN_MAIL.findall(body)
            )
            out.append((str(message["To"]).split("@")[0], quarters))
    return out


def assert_each_reminder_once() -> None:
    keys = list(Reminder.objects.filter(kind=KEY).values_list("user__username", "period", "step"))
    assert len(keys) == len(set(keys)) == EXPECTED
    assert sorted({user for user, _period, _step in keys}) == OWING
    assert {step for _user, _period, step in keys} == {"-1"}


def listed_items(folder: Path) -> Counter:
    """How many digests listed each (addressee, quarter)."""
    return Counter((to, quarter) for to, quarters in mails(folder) for quarter in quarters)


def every_item() -> set[tuple[str, str]]:
    year = reminders.campaign_today().year
    return {(user, f"{year}Q{n}") for user in OWING for n in (1, 2, 3, 4)}


def test_a_worker_and_two_beats_against_redis_queue_each_notice_and_mail_each_item_once(
    due_tomorrow, procs
):
    """End to end, with a second beat started by mistake: both send every sweep, and a worker
    with two processes runs them side by side."""
    procs.start("beat1", BEAT)
    procs.start("beat2", BEAT)
    procs.start("worker", worker(pool="prefork", concurrency=2))
    owe_work()
    procs.wait_for(
        lambda: (
            sent_count() == EXPECTED
            and all(
                procs.log(beat).count("Sending due task reminders-sweep (orgs.reminders_sweep)")
                >= 2
                for beat in ("beat1", "beat2")
            )
        ),
        "every reminder sent, and both beats sending sweeps",
        timeout=45,
    )
    assert_each_reminder_once()
    own = get_user_model().objects.get(username="own")
    assert reminders.unread_count(own) == 4  # the in-app notices
    listed = listed_items(procs.mail)
    assert set(listed) == every_item() and set(listed.values()) == {1}


def test_a_worker_killed_mid_sweep_and_mid_send_loses_nothing_and_doubles_no_notice(
    due_tomorrow, procs
):
    """kill -9 of the whole worker in the middle of a sweep, then a new worker; kill -9 of the
    pool process in the middle of sending (its worker starts another in its place)."""
    procs.start("beat", BEAT)
    # each deadline's rule takes a second: kill -9 the worker when some of the four are queued
    procs.start("worker1", WORKER, REMINDERS_TEST_GAP_DELAY="1")
    owe_work()
    procs.wait_for(lambda: reminder_count() > 0, "the first deadline queued")
    procs.kill("worker1")
    at_kill = reminder_count()
    assert 0 < at_kill < EXPECTED and sent_count() == 0

    # the next worker goes on (the beat's queued sends and sweeps, in their order); each message
    # takes 1.5 s after the "SMTP server" took it: kill -9 the pool process sending there, before
    # its rows are marked sent. The worker starts another, which takes the dead claim back after
    # its lease (3 s here) and sends the rest.
    procs.start(
        "worker2",
        worker(pool="prefork"),
        EMAIL_BACKEND=SLOW_BACKEND,
        REMINDERS_TEST_MAIL_DELAY="1.5",
        REMINDERS_TEST_CLAIM_LEASE="3",
    )
    procs.wait_for(lambda: len(mails(procs.mail)) > 0, "the first message written")
    killed = procs.kill_pool_process("worker2")
    assert Reminder.objects.filter(email_state=EmailState.SENDING).exists()  # claimed, in flight
    procs.wait_for(lambda: sent_count() == EXPECTED, "every reminder sent", timeout=30)
    assert f"pid:{killed} exited with 'signal 9 (SIGKILL)'" in procs.log("worker2")
    assert_each_reminder_once()
    listed = listed_items(procs.mail)
    assert set(listed) == every_item()
    # at most the one digest in flight at the kill went twice
    twice = {key for key, count in listed.items() if count > 1}
    assert max(listed.values()) <= 2 and len({user for user, _quarter in twice}) <= 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_worker_and_beat_carry_on_after_redis_restarts(due_tomorrow, tmp_path):
    """A Redis of the test's own (the machine's is shared), killed in the middle of a sweep and
    started again empty: the worker and the beat reconnect and the work completes."""
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    procs = Processes(tmp_path, url)
    redis_args = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    try:
        procs.start("redis", redis_args)
        procs.wait_for(lambda: _answers(url), "redis-server up", timeout=10)
        procs.start("beat", BEAT)
        procs.start("worker", WORKER, REMINDERS_TEST_GAP_DELAY="0.5")
        people = owe_work()
        procs.wait_for(lambda: reminder_count() > 0, "the sweep under way")

        procs.kill("redis")  # everything in it is lost: queued messages, unacked ones, results
        time.sleep(1)
        procs.start("redis", redis_args)
        procs.wait_for(lambda: _answers(url), "redis-server back", timeout=10)
        # work that appears after the restart is reminded too: the beat and the worker are back
        newcomer = make_org("BN", OrgKind.BRANCH, people.orgs["T1"])
        make_user("newcomer", Role.SECRETARY, newcomer)

        procs.wait_for(
            lambda: (
                Reminder.objects.filter(kind=KEY, user__username="newcomer").count() == 4
                and sent_count() == EXPECTED
            ),
            "the reminders of the work that appeared after the restart, and every e-mail",
            timeout=40,
        )
        assert reminder_count() == EXPECTED + 4
        assert "Connection to broker lost" in procs.log("worker")
    finally:
        procs.kill_all()


def _answers(url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False
