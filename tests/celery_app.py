"""The Celery app the runtime tests (tests/test_reminders_runtime.py) start as real worker and beat
processes: `celery -A tests.celery_app worker` / `beat`.

It is config.celery's app with its one beat schedule (config/celery.py); for a test, and only
here, the environment may shorten what production keeps long:

- REMINDERS_TEST_BEAT_SECONDS: the reminders entries of that schedule run every so many seconds
  instead of on their crontab (the entries themselves, their tasks and options, stay as declared);
- REMINDERS_TEST_CLAIM_LEASE: seconds before a sender's claim is taken back (15 minutes);
- REMINDERS_TEST_KEYPREFIX: a prefix for every broker key, so a test's queue and its unacked
  messages are its own on a Redis that others use too;
- REMINDERS_TEST_GAP_DELAY, REMINDERS_TEST_MAIL_DELAY: see tests/reminder_kinds.py.

The sweep knows the tests' deadline kind only, so the tests do not depend on the apps' rules.
"""

import datetime
import os

import django

from config.celery import app

django.setup()

from orgs import reminders  # noqa: E402
from tests import reminder_kinds  # noqa: E402

reminder_kinds.use_only_test_kind()
app.conf.task_ignore_result = True  # the tests read the database; no results left in Redis

REMINDER_TASKS = {"orgs.reminders_sweep", "orgs.reminders_send"}

if seconds := os.environ.get("REMINDERS_TEST_BEAT_SECONDS"):
    app.conf.beat_schedule = {
        name: entry | {"schedule": float(seconds)}
        for name, entry in app.conf.beat_schedule.items()
        if entry["task"] in REMINDER_TASKS
    }

if lease := os.environ.get("REMINDERS_TEST_CLAIM_LEASE"):
    reminders.CLAIM_LEASE = datetime.timedelta(seconds=float(lease))

if prefix := os.environ.get("REMINDERS_TEST_KEYPREFIX"):
    app.conf.broker_transport_options = {
        "global_keyprefix": prefix,
        "visibility_timeout": 10,
        "unacked_restore_throttle": 1,
    }
