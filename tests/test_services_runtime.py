"""The runtime pieces: in CI these run against the real PostgreSQL and Redis."""

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app, ping
from config.settings import env_bool

IN_CI = env_bool("CI")
only_in_ci = pytest.mark.skipif(not IN_CI, reason="checks the CI services (CI=true)")


@only_in_ci
@pytest.mark.django_db
def test_ci_uses_postgresql_and_redis():
    assert connection.vendor == "postgresql"
    assert settings.REDIS_URL and not settings.CELERY_TASK_ALWAYS_EAGER


def test_task_round_trip():
    """Eager without Redis; with Redis, through the broker to a real worker and back."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        assert ping.delay().get(timeout=5) == "pong"
        return
    from celery.contrib.testing.worker import start_worker

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert ping.delay().get(timeout=30) == "pong"


@pytest.mark.django_db
def test_healthz_answers_without_login(client):
    response = client.get("/healthz/")
    assert response.status_code == 200
    # the broker is checked where there is one (REDIS_URL)
    assert response.json() == {"database": "ok"} | ({"broker": "ok"} if settings.REDIS_URL else {})
