"""The reminders tests' own deadline kind and e-mail backends, so that those tests do not depend on
the obligation rules of the apps (which have their own tests).

The kind: every active branch reports its number of activists (入党积极分子数) for the year, each
quarter by the last day of the quarter. A branch without its `OrgYearFigure` row for the year has
a gap, so a test marks the work done by writing that row — in the test's process or, committed,
for a Celery worker in another. The rule reads organisations only (one query, streamed), never
member rows, like every obligation rule the sweep calls.

`REMINDERS_TEST_GAP_DELAY` (seconds) makes every call of the rule slow, so that a test can kill a
worker in the middle of a sweep; `FileMailBackend` writes each message to its own file and then
waits `REMINDERS_TEST_MAIL_DELAY` seconds, so that a test can kill a worker in the middle of
sending, after the "SMTP server" has taken a message and before the rows are marked sent.
"""

from __future__ import annotations

import os
import smtplib
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.db.models import Exists, OuterRef

from orgs import deadlines
from orgs.deadlines import DeadlineKind, Gap
from orgs.models import Organization, OrgKind, OrgYearFigure
from orgs.periods import QUARTER

KEY = "tests.activists"


def activist_gaps(period, org_ids):
    delay = float(os.environ.get("REMINDERS_TEST_GAP_DELAY") or 0)
    if delay:
        time.sleep(delay)
    reported = OrgYearFigure.objects.filter(org=OuterRef("pk"), year=period.year)
    branches = Organization.objects.filter(kind=OrgKind.BRANCH, is_active=True).exclude(
        Exists(reported)
    )
    if org_ids is not None:
        branches = branches.filter(pk__in=org_ids)
    for pk in branches.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=2000):
        yield Gap(org_id=pk, count=1, text="未填报入党积极分子数", url=f"/orgs/{pk}/")


KIND = DeadlineKind(
    key=KEY,
    label="入党积极分子数填报（测试）",
    period_kind=QUARTER,
    default_due=lambda period: period.end,
    gaps=activist_gaps,
    source="tests",
    order=900,
)


def use_only_test_kind() -> None:
    """Make the test kind the only one the sweep knows (in a worker started for a test)."""
    deadlines._KINDS.clear()
    deadlines.register_deadline(KIND)


def mark_done(org, year: int) -> None:
    OrgYearFigure.objects.get_or_create(org=org, year=year, defaults={"activist_count": 3})


class FailingMailBackend(BaseEmailBackend):
    """An SMTP server that drops the connection."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class FileMailBackend(BaseEmailBackend):
    """One file per message in EMAIL_FILE_PATH, written and synced before the slow part."""

    def send_messages(self, email_messages):
        folder = Path(settings.EMAIL_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        delay = float(os.environ.get("REMINDERS_TEST_MAIL_DELAY") or 0)
        for message in email_messages:
            path = folder / f"{time.time_ns()}-{uuid.uuid4().hex}.eml"
            with open(path, "wb") as stream:
                stream.write(message.message().as_bytes())
                stream.flush()
                os.fsync(stream.fileno())
            if delay:
                time.sleep(delay)
        return len(email_messages)
