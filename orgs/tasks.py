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
