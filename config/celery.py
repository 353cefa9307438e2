import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The beat schedule lives here and only here; later apps add their reminders to it.
app.conf.beat_schedule = {}


@app.task(name="config.ping")
def ping() -> str:
    """Round trip used by the health check and the CI service test."""
    return "pong"
