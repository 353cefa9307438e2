"""The reminders at province scale, run by bench/run.py inside its Django setup.

- Every organisation gets a secretary login with an e-mail address, and every county, city and
  the province an office login (written once, by COPY), so that every gap has someone to remind.
- The sweep runs in a fresh process (its wall time and peak memory, `ru_maxrss`) for a day on
  which every quarter's and half-year's obligations are due (the day before 30 June: member
  fulfilment and reviews for Q2, organisations' fulfilment and reviews for H1, the secretaries'
  quarterly reports), then for the day after (overdue steps and the escalation to the parents),
  each twice: the second run finds every reminder already in the outbox. The floor is a process
  that only starts Django and counts the review table, as the other benchmarks' floor.
- Sending: the queued reminders go out through the locmem e-mail backend for BENCH_SEND_SECONDS;
  messages and reminder rows per second for one sender.
- The county roster export as a background job: time from start_job to done.

    BENCH_ONLY=reminders make bench
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEND_SECONDS = float(os.environ.get("BENCH_SEND_SECONDS", "30"))
DAYS = ("2026-06-29", "2026-07-01")

_CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
started = time.perf_counter()
out = {{}}
if {mode!r} == "floor":
    from reviews.models import LeaderReview
    out["value"] = LeaderReview.objects.count()
else:
    import datetime
    from orgs.reminders import sweep
    result = sweep(today=datetime.date.fromisoformat({mode!r}))
    out.update(gaps=result.gaps, queued=result.queued, created=result.created,
               deadlines=result.deadlines)
out["seconds"] = round(time.perf_counter() - started, 2)
out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print(json.dumps(out))
"""


def _child(mode: str) -> dict:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(root=str(ROOT), mode=mode)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_seconds"] = round(time.perf_counter() - started, 2)
    return out


def ensure_people() -> dict:
    """A secretary login at every organisation and an office login at every county and above."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from orgs.demo import bulk_copy
    from orgs.models import Organization, OrganizationUserObjectPermission, Role

    User = get_user_model()
    orgs = list(Organization.objects.values_list("id", "kind"))
    if User.objects.filter(username__startswith="bs").count() >= len(orgs):
        return {"people": "kept"}
    from django.contrib.auth.models import Permission

    perms = {
        p.codename: p.pk
        for p in Permission.objects.filter(
            codename__in=[Role.SECRETARY.codename, Role.OFFICE.codename]
        )
    }
    password = "!"  # an unusable password: these logins only receive reminders
    now = timezone.now()
    first = (User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    rows, grants = [], []
    pk = first
    for org_id, kind in orgs:
        rows.append(
            (
                pk,
                f"bs{org_id}",
                password,
                False,
                "",
                "",
                f"bs{org_id}@example.org",
                False,
                True,
                now,
            )
        )
        grants.append((perms[Role.SECRETARY.codename], pk, org_id))
        pk += 1
        if kind in ("province", "city", "county"):
            rows.append(
                (
                    pk,
                    f"bo{org_id}",
                    password,
                    False,
                    "",
                    "",
                    f"bo{org_id}@example.org",
                    False,
                    True,
                    now,
                )
            )
            grants.append((perms[Role.OFFICE.codename], pk, org_id))
            pk += 1
    columns = [
        "id",
        "username",
        "password",
        "is_superuser",
        "first_name",
        "last_name",
        "email",
        "is_staff",
        "is_active",
        "date_joined",
    ]
    bulk_copy(User._meta.db_table, columns, rows)
    bulk_copy(
        OrganizationUserObjectPermission._meta.db_table,
        ["permission_id", "user_id", "content_object_id"],
        grants,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{User._meta.db_table}', 'id'), %s)", [pk]
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
            f"(SELECT max(id) FROM {OrganizationUserObjectPermission._meta.db_table}))",
            [OrganizationUserObjectPermission._meta.db_table],
        )
        cursor.execute("ANALYZE")
    return {"people": len(rows), "grants": len(grants)}


def run(results: dict, *, timed) -> None:
    from django.db import connection

    from orgs.models import Reminder

    results["reminders_people"] = ensure_people()
    floor = _child("floor")
    results["reminders_floor"] = floor
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Reminder._meta.db_table}")
    for day in DAYS:
        first = _child(day)
        again = _child(day)
        results[f"reminders_sweep_{day}"] = {
            "first": first,
            "again": again,
            "ratio_to_floor": round(first["seconds"] / max(floor["seconds"], 0.001), 1),
            "rss_over_floor_mb": round(first["peak_rss_mb"] - floor["peak_rss_mb"], 1),
        }
    results["reminders_outbox"] = {"rows": Reminder.objects.count()}
    _send(results)
    _export_job(results)


def _send(results: dict) -> None:
    from django.conf import settings
    from django.core import mail

    from orgs import reminders
    from orgs.models import EmailState, Reminder

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    started = time.perf_counter()
    sent = reminders.send_due(budget_seconds=SEND_SECONDS)
    seconds = time.perf_counter() - started
    results["reminders_send"] = {
        "seconds": round(seconds, 1),
        "messages": sent.messages,
        "rows_sent": sent.sent,
        "cancelled": sent.cancelled,
        "messages_per_second": round(sent.messages / seconds, 1),
        "rows_per_second": round((sent.sent + sent.cancelled + sent.skipped) / seconds, 1),
        "left_queued": Reminder.objects.filter(email_state=EmailState.QUEUED).count(),
    }
    mail.outbox = []


def _export_job(results: dict) -> None:
    from django.contrib.auth import get_user_model

    from orgs import jobs
    from orgs.models import Job, Organization

    county = Organization.objects.get(code="JY0101")
    user = get_user_model().objects.get(username="xian_office")
    kind = "roster_export"
    try:
        jobs.job_kind(kind)
    except KeyError:
        results["roster_export_job"] = {"skipped": "no roster_export job kind"}
        return
    started = time.perf_counter()
    job = Job.objects.create(user=user, kind=kind, title="bench", params={"org_id": county.pk})
    jobs.run(job.pk)
    job.refresh_from_db()
    results["roster_export_job"] = {
        "seconds": round(time.perf_counter() - started, 1),
        "state": job.state,
        "rows": job.total,
        "file": job.result_name,
    }
    job.result.delete(save=False)
    job.delete()
