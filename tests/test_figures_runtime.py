"""The kept figures with a real Celery worker, in CI (PostgreSQL and Redis): a write commits, its
touch queues one refresh on Redis, and the worker process writes the figures a recompute gives."""

from __future__ import annotations

import pytest
import redis
from django.db import transaction
from django.utils import timezone

from config.settings import env_bool
from orgs import figures
from orgs.periods import Period
from reviews.models import ReviewFigure
from tests.personas import build_personas
from tests.test_reminders_runtime import WORKER, Processes

pytestmark = [
    pytest.mark.skipif(
        not env_bool("CI"), reason="starts Celery against PostgreSQL and Redis (CI)"
    ),
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def procs(tmp_path, settings):
    processes = Processes(tmp_path, settings.REDIS_URL)
    processes.keyprefix = f"figures-test-{processes.keyprefix.split('-')[-1]}"
    try:
        yield processes
    finally:
        processes.kill_all()


def test_a_committed_write_is_refreshed_by_the_worker(procs, settings):
    # a queue of this test's own, which only its worker reads (no key prefix: the publisher here
    # is the suite's own app, whose connections other tests share)
    queue = procs.keyprefix.rstrip(":")
    settings.FIGURES_IMMEDIATE = False
    settings.FIGURES_QUEUE = queue
    try:
        procs.start("worker", [*WORKER, "-Q", queue], REMINDERS_TEST_KEYPREFIX="")
        people = build_personas()  # committed: the worker reads these rows
        branch = people.orgs["B1"]
        today = timezone.localdate()
        quarter = Period.containing(today, "Q")
        assert not ReviewFigure.objects.filter(org=branch, period=quarter.slug).exists()
        with transaction.atomic():
            figures.touch(branch.pk, today)
            figures.touch(branch.pk, today)  # coalesced with the first
        procs.wait_for(
            lambda: ReviewFigure.objects.filter(org=branch, period=quarter.slug).exists(),
            "the worker's refresh of B1",
            timeout=60,
        )
        # the worker wrote what a recompute gives (others, untouched, still lack theirs)
        assert [d for d in figures.check([quarter]) if d.org_id == branch.pk] == []
        assert "orgs.refresh_figures" in procs.log("worker")
    finally:
        redis.Redis.from_url(settings.REDIS_URL).delete(queue)
