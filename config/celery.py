import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The beat schedule lives here and only here (times in Asia/Shanghai, CELERY_TIMEZONE). Every
# entry is safe to run twice: the reminders outbox and the job claims make repeats no-ops, so two
# beats by mistake, or a run retried after a crash, change nothing. A message not taken before the
# next run of its entry expires, so a worker outage leaves no pile of stale sweeps behind it
# (`expire_seconds` is the option's name in django-celery-beat's DatabaseScheduler, the
# CELERY_BEAT_SCHEDULER).
app.conf.beat_schedule = {
    "reminders-sweep": {
        "task": "orgs.reminders_sweep",
        "schedule": crontab(minute=5),
        "options": {"expire_seconds": 50 * 60},
    },
    "reminders-send": {
        "task": "orgs.reminders_send",
        "schedule": crontab(minute="*/10"),
        "options": {"expire_seconds": 9 * 60},
    },
    "figures-rebuild": {  # nightly: the kept statistics recomputed from the raw rows
        "task": "orgs.rebuild_figures",
        "schedule": crontab(hour=2, minute=30),
        "options": {"expire_seconds": 3 * 60 * 60},
    },
    "jobs-expire": {
        "task": "orgs.expire_jobs",
        "schedule": crontab(minute=20),  # hourly: a slips file lives two hours only
        "options": {"expire_seconds": 50 * 60},
    },
}


@app.task(name="config.ping")
def ping() -> str:
    """Round trip used by the health check and the CI service test."""
    return "pong"
