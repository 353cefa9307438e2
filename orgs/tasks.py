"""The background tasks of the foundation: the reminders sweep and sender, and jobs.

Each takes ids or plain values and is safe to run twice (the outbox's unique key, the sender's
claims and the jobs' claims make a repeat a no-op), so a message Celery delivers again after a
worker was killed, or a second beat, changes nothing."""

import datetime
import logging

from celery import shared_task

from orgs import jobs, reminders

log = logging.getLogger(__name__)


@shared_task(name="orgs.reminders_sweep")
def reminders_sweep(today: str | None = None) -> dict:
    """Queue the reminders due today (Asia/Shanghai's date unless `today` is given, YYYY-MM-DD),
    then deliver them."""
    day = datetime.date.fromisoformat(today) if today else None
    swept = reminders.sweep(today=day)
    sent = reminders.send_due()
    if swept.failed:
        # the other deadlines were swept and sent; the failed ones are retried by the next beat
        log.error("reminders sweep: %s failed", ", ".join(swept.failed))
    return {
        "today": swept.today.isoformat(),
        "queued": swept.queued,
        "created": swept.created,
        "failed": swept.failed,
        "messages": sent.messages,
        "sent": sent.sent,
    }


@shared_task(name="orgs.reminders_send")
def reminders_send() -> dict:
    """Deliver queued reminders and retry failed ones whose wait is over."""
    sent = reminders.send_due()
    return {"messages": sent.messages, "sent": sent.sent, "failed": sent.failed}


@shared_task(name="orgs.run_job")
def run_job(job_id: int) -> str:
    return jobs.run(job_id)


@shared_task(name="orgs.expire_jobs")
def expire_jobs() -> int:
    return jobs.expire_jobs()


@shared_task(name="orgs.refresh_figures")
def refresh_figures(spans: list[list]) -> int:
    """Refresh the kept figures of the organisations and date spans a transaction touched
    ([org_id, "YYYY-MM-DD", "YYYY-MM-DD", source or None], ...); idempotent."""
    from orgs import figures

    return figures.refresh_span(
        (
            int(org_id),
            datetime.date.fromisoformat(start),
            datetime.date.fromisoformat(end),
            key if key in {s.key for s in figures.sources()} else None,
        )
        for org_id, start, end, key, *_ in (list(span) + [None] for span in spans)
    )


@shared_task(name="orgs.rebuild_figures")
def rebuild_figures(today: str | None = None) -> dict:
    """The nightly full rebuild: every period of the current year, and of the previous year
    until its reports are in (through February)."""
    from django.utils import timezone

    from orgs import figures

    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    years = [day.year - 1, day.year] if day.month <= 2 else [day.year]
    periods = [p for year in years for p in figures.periods_of_year(year)]
    return figures.rebuild(periods)
