"""The background tasks of the foundation: the reminders sweep and sender, and jobs."""

from celery import shared_task

from orgs import jobs, reminders


@shared_task(name="orgs.reminders_sweep")
def reminders_sweep(today: str | None = None) -> dict:
    """Queue the reminders due today, then deliver them."""
    import datetime

    day = datetime.date.fromisoformat(today) if today else None
    swept = reminders.sweep(today=day)
    sent = reminders.send_due()
    return {"queued": swept.queued, "created": swept.created, "messages": sent.messages}


@shared_task(name="orgs.reminders_send")
def reminders_send() -> dict:
    """Deliver queued reminders and retry failed ones whose wait is over."""
    sent = reminders.send_due()
    return {"messages": sent.messages, "failed": sent.failed}


@shared_task(name="orgs.run_job")
def run_job(job_id: int) -> str:
    return jobs.run(job_id)


@shared_task(name="orgs.expire_jobs")
def expire_jobs() -> int:
    return jobs.expire_jobs()
