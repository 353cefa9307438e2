"""Load benchmark of the secretary pages, run by bench/run.py inside its Django setup.

gunicorn with production settings (DEBUG=0, behind an HTTPS proxy: X-Forwarded-Proto) on the
province database; 20 concurrent connections from a bounded thread pool on 127.0.0.1. Each page
is requested for BENCH_LOAD_SECONDS by every thread, one page at a time, and /healthz/ (one
`SELECT 1`) before and after the pages in the same run. Each page's requests per second is
reported as a ratio to /healthz/'s, with its query count (measured once in-process).
bench/stats_bench.py runs the statistics pages (`stats_pages`) the same way, for their p95.

    BENCH_ONLY=load make bench
"""

from __future__ import annotations

import datetime
import http.client
import os
import statistics
import threading
import time

from appraisal_bench import BENCH_SECRET_KEY, PORT, WORKERS, _start_gunicorn

CONNECTIONS = int(os.environ.get("BENCH_LOAD_CONNECTIONS", "20"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "10"))


def _pages() -> list[tuple[str, str, str]]:
    """(name, username, path): the pages a secretary opens most, at the demo's largest scopes."""
    from django.utils import timezone

    from orgs.models import Organization
    from orgs.periods import QUARTER, Period

    today = timezone.localdate()
    quarter = Period.containing(today, QUARTER).previous()
    branch = Organization.objects.get(secretary__user__username="zhibu_shuji")
    county = Organization.objects.get(code="JY0101")
    return [
        ("home_branch_secretary", "zhibu_shuji", "/"),
        ("home_county_secretary", "xian_shuji", "/"),
        ("org_county", "xian_shuji", f"/orgs/{county.pk}/"),
        ("org_branch", "zhibu_shuji", f"/orgs/{branch.pk}/"),
        ("pledge_year_branch", "zhibu_shuji", f"/pledges/org/{branch.pk}/{today.year}/"),
        ("vet_queue_township", "zhen_shuji", "/pledges/vet/"),
        ("quarter_review_branch", "zhibu_shuji", f"/reviews/quarter/{branch.pk}/{quarter.slug}/"),
        ("coverage_county", "xian_shuji", f"/reviews/coverage/{county.pk}/{quarter.slug}/"),
    ]


def stats_pages() -> list[tuple[str, str, str]]:
    """(name, username, path): the statistics tables the offices open, for the province and a
    county, and the names behind one number of a branch (the bottom of a drill-down)."""
    from django.utils import timezone

    from orgs.models import Organization
    from reports.tables import TABLES, default_period

    today = timezone.localdate()
    province = Organization.objects.get(code="JY")
    county = Organization.objects.get(code="JY0101")
    branch = Organization.objects.get(secretary__user__username="zhibu_shuji")
    quarter = default_period(TABLES["reviews"], today).slug
    pages = [
        (
            f"{key}_province",
            "sheng_office",
            f"/reports/{key}/{province.pk}/{default_period(spec, today).slug}/",
        )
        for key, spec in TABLES.items()
    ]
    return [
        *pages,
        ("reviews_county", "xian_office", f"/reports/reviews/{county.pk}/{quarter}/"),
        (
            "reviews_names_branch",
            "xian_office",
            f"/reports/reviews/{branch.pk}/{quarter}/names/members_owed-members_reviewed/",
        ),
    ]


def _session_cookie(user) -> str:
    """A logged-in session for gunicorn, stored in the database as a login would store it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.test.utils import override_settings

    with override_settings(SECRET_KEY=BENCH_SECRET_KEY):  # the key gunicorn runs with
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.set_expiry(datetime.timedelta(hours=2))
        session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def _get(path: str, cookie: str) -> tuple[int, float]:
    headers = {"Host": f"127.0.0.1:{PORT}", "X-Forwarded-Proto": "https"}
    if cookie:
        headers["Cookie"] = cookie
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        conn.close()


def _load(path: str, cookie: str) -> dict:
    """CONNECTIONS threads request `path` for SECONDS; requests per second and latencies."""
    latencies: list[float] = []
    failures: list[int] = []
    barrier = threading.Barrier(CONNECTIONS + 1)
    stop = threading.Event()

    def client():
        barrier.wait()
        while not stop.is_set():
            try:
                status, took = _get(path, cookie)
            except OSError:
                status, took = 0, 0.0
            if status == 200:
                latencies.append(took)
            else:
                failures.append(status)

    threads = [threading.Thread(target=client) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(SECONDS)
    stop.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started  # includes the requests in flight at the stop
    ordered = sorted(latencies)
    return {
        "requests_per_s": round(len(latencies) / wall, 1),
        "requests": len(latencies),
        "failures": len(failures),
        "first_failure_status": failures[0] if failures else None,
        "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "p95_ms": round(ordered[max(int(len(ordered) * 0.95) - 1, 0)] * 1000, 1)
        if ordered
        else None,
    }


def _query_count(user, path: str) -> int:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    reset_queries()  # a full query log (DEBUG keeps 9,000) would capture nothing
    with CaptureQueriesContext(connection) as ctx:
        status = client.get(path).status_code
    assert status == 200, (path, status)
    return len(ctx.captured_queries)


def run(
    results: dict,
    *,
    database_url: str,
    pages: list[tuple[str, str, str]] | None = None,
    prefix: str = "load",
    healthz: bool = True,
) -> None:
    """Each of `pages` (default: the secretary pages) under load, as results[f"{prefix}_{name}"];
    with `healthz`, /healthz/ before and after, and each page's rate as a ratio to it."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from orgs import accounts

    pages = pages if pages is not None else _pages()
    users = {
        u.username: u for u in get_user_model().objects.filter(username__in=[p[1] for p in pages])
    }
    for user in users.values():  # the secretaries have chosen their own passwords by now
        accounts.password_set_by(user=user, by=user)
    queries = {name: _query_count(users[username], path) for name, username, path in pages}
    cookies = {username: _session_cookie(user) for username, user in users.items()}
    connection.close()
    server = _start_gunicorn(database_url)
    try:
        for name, username, path in pages:  # every worker has compiled every template
            for _ in range(2 * WORKERS):
                status, _ = _get(path, cookies[username])
                assert status == 200, (name, path, status)
        healthz_before = _load("/healthz/", "") if healthz else None
        rows = {name: _load(path, cookies[username]) for name, username, path in pages}
        healthz_after = _load("/healthz/", "") if healthz else None
    finally:
        server.terminate()
        server.wait(timeout=30)
    rate = None
    if healthz:
        rate = (healthz_before["requests_per_s"] + healthz_after["requests_per_s"]) / 2
        results[f"{prefix}_healthz"] = {
            "requests_per_s": round(rate, 1),
            "before": healthz_before,
            "after": healthz_after,
            "connections": CONNECTIONS,
            "seconds_per_page": SECONDS,
            "gunicorn_workers": WORKERS,
        }
    for name, row in rows.items():
        results[f"{prefix}_{name}"] = {
            **({"ratio_to_healthz": round(row["requests_per_s"] / rate, 2)} if rate else {}),
            "queries": queries[name],
            "connections": CONNECTIONS,
            **row,
        }
