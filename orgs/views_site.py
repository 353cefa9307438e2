"""The site's own pages, which belong to no organisation: the home page, the load balancer's
health check and the page shown when a form's CSRF token has expired."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from orgs import extensions, notices, selectors

logger = logging.getLogger(__name__)

# How long the health check waits for the broker: the load balancer's own timeout is longer.
BROKER_TIMEOUT_SECONDS = 2


@require_GET
def home(request):
    orgs = list(selectors.user_organizations(user=request.user))
    return render(
        request,
        "orgs/home.html",
        {
            "orgs": orgs,
            "own_member": selectors.own_member(user=request.user),
            "due": notices.due_work(user=request.user, today=timezone.localdate(), orgs=orgs),
            "todo": extensions.todo_for(request.user),
            "sections": extensions.home_sections_for(request.user, orgs),
        },
    )


def _database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker_answers() -> None:
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_SECONDS) as broker:
        # no retry: a broker that does not answer at once is reported, not waited for
        broker.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)


@login_not_required
@require_GET
def healthz(request):
    """For the load balancer: the database answers, and the broker too where there is one
    (REDIS_URL; without it tasks run in the web process). 200 when every part answers, else 503;
    the body names each part checked, "ok" or "failed"."""
    checks = {"database": _database_answers}
    if settings.REDIS_URL:
        checks["broker"] = _broker_answers
    parts = {}
    for part, check in checks.items():
        try:
            check()
        except Exception:  # noqa: BLE001 - whatever the part raises, it did not answer
            logger.warning("health check: the %s did not answer", part, exc_info=True)
            parts[part] = "failed"
        else:
            parts[part] = "ok"
    healthy = all(state == "ok" for state in parts.values())
    return JsonResponse(parts, status=200 if healthy else 503)


def csrf_failure(request, reason=""):
    return HttpResponse("页面已过期，请返回后刷新页面再提交。", status=403)
