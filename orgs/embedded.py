"""The embedded default (no Redis, tasks eager) still reminds: the sweep runs in the web process.

In production Celery beat runs the sweep every hour (config/celery.py). The embedded default
(`make run`: SQLite, no Redis, no worker, no beat) has nothing that would start it, so there the
web process does: `make run` runs `manage.py reminders_sweep` once before the server starts, and
a login runs the sweep and the sender again, at most once an hour per process (a key in the
process's own cache), after the login's transaction has committed. A failure is logged and never
breaks the login. Where Celery has a broker (REDIS_URL) this never runs.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

CACHE_KEY = "orgs.embedded.swept"
EVERY_SECONDS = 3600
SEND_BUDGET_SECONDS = 20  # the login waits for this run; the rest waits for the next one


def enabled() -> bool:
    """Only in the embedded default, and only when the setting leaves it on."""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER and settings.REMINDERS_SWEEP_ON_LOGIN)


def run_sweep() -> None:
    """Sweep and send now; any error is logged, never raised."""
    from orgs import reminders

    try:
        swept = reminders.sweep()
        sent = reminders.send_due(budget_seconds=SEND_BUDGET_SECONDS)
    except Exception:
        log.exception("embedded reminders sweep failed")
        return
    log.info(
        "embedded reminders sweep %s: %d new reminders, %d e-mails",
        swept.today,
        swept.created,
        sent.messages,
    )


def on_login(sender, user, request, **kwargs) -> None:
    try:
        if not enabled() or not cache.add(CACHE_KEY, True, EVERY_SECONDS):
            return
        transaction.on_commit(run_sweep)
    except Exception:
        log.exception("embedded reminders sweep could not be started")


def connect() -> None:
    """Hook the in-process sweep up (called once from the AppConfig)."""
    from django.contrib.auth.signals import user_logged_in

    user_logged_in.connect(on_login, dispatch_uid="orgs.embedded.sweep")
