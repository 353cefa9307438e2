"""The site's own pages (orgs.views_site): the health check answers for each part it checks."""

import pytest
from django.db import OperationalError
from django.urls import reverse

from orgs import views_site

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


class _DatabaseDown:
    def cursor(self):
        raise OperationalError("could not connect to server: Connection refused")


@pytest.fixture
def with_broker(settings):
    """The production layout: a Redis broker, here one that does not answer."""
    settings.REDIS_URL = settings.CELERY_BROKER_URL = UNREACHABLE_BROKER
    return settings


@pytest.mark.django_db
def test_the_health_check_answers_for_the_database_alone_without_a_broker(client, settings):
    settings.REDIS_URL = ""
    response = client.get(reverse("healthz"))
    assert (response.status_code, response.json()) == (200, {"database": "ok"})


@pytest.mark.django_db
def test_the_health_check_names_the_database_when_it_does_not_answer(client, monkeypatch, settings):
    settings.REDIS_URL = ""  # the database alone, whatever the run's broker
    monkeypatch.setattr(views_site, "connection", _DatabaseDown())
    response = client.get(reverse("healthz"))
    assert (response.status_code, response.json()) == (503, {"database": "failed"})


@pytest.mark.django_db
def test_the_health_check_names_the_broker_when_it_does_not_answer(client, with_broker):
    response = client.get(reverse("healthz"))
    assert (response.status_code, response.json()) == (503, {"database": "ok", "broker": "failed"})


@pytest.mark.django_db
def test_the_health_check_reports_a_broker_that_answers(client, with_broker, monkeypatch):
    reached = []
    monkeypatch.setattr(views_site, "_broker_answers", lambda: reached.append(True))
    response = client.get(reverse("healthz"))
    assert (response.status_code, response.json()) == (200, {"database": "ok", "broker": "ok"})
    assert reached == [True]


@pytest.mark.django_db
def test_the_health_check_names_every_part_that_failed(client, with_broker, monkeypatch):
    monkeypatch.setattr(views_site, "connection", _DatabaseDown())
    response = client.get(reverse("healthz"))
    assert (response.status_code, response.json()) == (
        503,
        {"database": "failed", "broker": "failed"},
    )
