"""Democratic appraisal benchmarks, run by bench/run.py inside its Django setup:

- ballots cast per second by 20 and 100 concurrent voters against gunicorn + PostgreSQL. Every
  ballot is a new phone: it opens the voting page (CSRF cookie), sends its code, then the sheet of
  50 subjects — three requests, as in real use, with production settings behind an HTTPS proxy;
- the tally of a session of 200 ballots × 50 subjects (counting plus digest, and the whole close).

The sessions belong to a branch of 50 members made for the purpose (code BENCHPY).
"""

from __future__ import annotations

import datetime
import http.client
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("BENCH_GUNICORN_PORT", "8765"))
WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "5"))
SUBJECTS = 50
BENCH_SECRET_KEY = "bench-" + "x" * 50  # gunicorn's; load_bench signs sessions with it
TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _branch():
    from orgs import services as org_services
    from orgs.models import Organization, OrgKind

    branch = Organization.objects.filter(code="BENCHPY").first()
    if branch is None:
        town = Organization.objects.filter(kind=OrgKind.COMMITTEE).order_by("-lft").first()
        branch = org_services.organization_create(
            by=None, parent=town, name="评议测试党支部", code="BENCHPY", kind=OrgKind.BRANCH,
            sector=town.sector,
        )  # fmt: skip
    have = branch.members.count()
    for i in range(have, SUBJECTS):
        org_services.member_create(
            by=None, org=branch, name=f"评议对象{i + 1:02d}", gender="男", ethnicity="汉族",
            birth_date=datetime.date(1970, 1, 1), joined_on=datetime.date(1995, 7, 1),
            education="高中", since=datetime.date(2020, 1, 1),
        )  # fmt: skip
    return Organization.objects.get(pk=branch.pk)


def _secretary(branch):
    from django.contrib.auth import get_user_model

    from orgs import services as org_services
    from orgs.models import Role

    user, created = get_user_model().objects.get_or_create(username="bench_py_secretary")
    if created or not org_services.role_grant_exists(user=user, org=branch, role=Role.SECRETARY):
        org_services.role_grant(by=None, user=user, org=branch, role=Role.SECRETARY)
    return get_user_model().objects.get(pk=user.pk)


def _fresh_appraisal(branch, by, year: int):
    from reviews.appraisal import services
    from reviews.appraisal.models import Appraisal, Ballot

    old = Appraisal.objects.filter(org=branch, year=year)
    Ballot.objects.filter(appraisal__in=old).delete()
    old.delete()
    appraisal = services.appraisal_create(
        by=by, org=branch, kind="member", year=year, held_on=min(datetime.date(year, 11, 20), datetime.date.today()),
        place="会议室", method="code", content="基准测试", expected_member=SUBJECTS,
        expected_masses=200,
    )  # fmt: skip
    services.appraisal_advance(by=by, appraisal=appraisal)
    return services.appraisal_advance(by=by, appraisal=appraisal)


def _start_gunicorn(database_url: str) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY=BENCH_SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env["STATIC_ROOT"] = str(ROOT / "bench" / "results" / "static")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_url:
        env["REDIS_URL"] = redis_url  # the cache (rate limits) as in production
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{PORT}",
        "--workers", str(WORKERS), "--backlog", "2048", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def _vote(public_id: str, code: str, marks: dict[str, str]) -> float:
    """One phone casting one ballot; returns the seconds the final submission took."""
    from urllib.parse import urlencode

    host = f"127.0.0.1:{PORT}"
    headers = {"Host": host, "X-Forwarded-Proto": "https"}
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    path = f"/py/{public_id}/"
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    page = response.read().decode()
    cookie = next(v.split(";")[0] for k, v in response.getheaders() if k.lower() == "set-cookie")
    token = TOKEN_RE.search(page).group(1)
    post_headers = headers | {
        "Cookie": cookie,
        "Origin": f"https://{host}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    body = urlencode({"csrfmiddlewaretoken": token, "step": "code", "code": code})
    conn.request("POST", path, body=body, headers=post_headers)
    sheet = conn.getresponse().read().decode()
    assert "提交评议表" in sheet, sheet[:500]
    body = urlencode({"csrfmiddlewaretoken": token, "step": "cast", "code": code, **marks})
    started = time.perf_counter()
    conn.request("POST", path, body=body, headers=post_headers)
    done = conn.getresponse().read().decode()
    took = time.perf_counter() - started
    conn.close()
    assert "评议表已提交" in done, done[:500]
    return took


def _throughput(appraisal, by, voters: int, per_voter: int) -> dict:
    from reviews.appraisal import services
    from reviews.appraisal.models import Ballot

    issued = []
    wanted = voters * per_voter + 2 * WORKERS
    while len(issued) < wanted:
        count = min(services.MAX_BATCH, wanted - len(issued))
        issued += services.slips_issue(by=by, appraisal=appraisal, group="masses", count=count)
    rng = random.Random(voters)
    jobs = [
        (code, {f"s{i}": str(rng.choice("012344")) for i in range(1, SUBJECTS + 1)})
        for _, code in issued
    ]
    warm, jobs = jobs[: 2 * WORKERS], jobs[2 * WORKERS :]
    warmers = [threading.Thread(target=_vote, args=(appraisal.public_id, *job)) for job in warm]
    for t in warmers:  # every worker has loaded the code and compiled the templates
        t.start()
    for t in warmers:
        t.join()
    queues = [jobs[i::voters] for i in range(voters)]
    latencies: list[float] = []
    errors: list[str] = []
    barrier = threading.Barrier(voters + 1)

    def voter(queue):
        barrier.wait()
        for code, marks in queue:
            try:
                latencies.append(_vote(appraisal.public_id, code, marks))
            except Exception as error:  # noqa: BLE001 — counted and reported
                errors.append(repr(error)[:200])

    threads = [threading.Thread(target=voter, args=(q,)) for q in queues]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    stored = Ballot.objects.filter(appraisal=appraisal).count() - len(warm)
    ordered = sorted(latencies)
    return {
        "voters": voters,
        "ballots": len(latencies),
        "stored": stored,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "seconds": round(wall, 2),
        "ballots_per_s": round(len(latencies) / wall, 1),
        "requests_per_s": round(3 * len(latencies) / wall, 1),
        "cast_p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "cast_p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 1) if ordered else None,
        "gunicorn_workers": WORKERS,
        "subjects": SUBJECTS,
    }


def run(results: dict, *, database_url: str, timed) -> None:
    from django.db import connection, reset_queries, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from reviews.appraisal import services, tally

    branch = _branch()
    secretary = _secretary(branch)
    year = datetime.date.today().year

    # ---- tally: 200 ballots × 50 subjects
    appraisal = _fresh_appraisal(branch, secretary, year - 1)
    rng = random.Random(5)
    for _, code in services.slips_issue(
        by=secretary, appraisal=appraisal, group="member", count=200
    ):
        marks = {i: rng.choice([None, 1, 2, 3, 4]) for i in range(1, SUBJECTS + 1)}
        services.ballot_cast(appraisal_id=appraisal.pk, code=code, marks=marks)

    median, low, high, _ = timed(lambda: tally.count_and_digest(appraisal))
    results["appraisal_tally_200x50"] = {
        "median_ms": round(median * 1000, 2), "min_ms": round(low * 1000, 2),
        "max_ms": round(high * 1000, 2),
    }  # fmt: skip

    def close_and_roll_back():
        with transaction.atomic():
            services.appraisal_close(by=secretary, appraisal=appraisal)
            transaction.set_rollback(True)

    median, low, high, _ = timed(close_and_roll_back)
    results["appraisal_close_200x50"] = {
        "median_ms": round(median * 1000, 2), "min_ms": round(low * 1000, 2),
        "max_ms": round(high * 1000, 2),
    }  # fmt: skip
    closed = services.appraisal_close(by=secretary, appraisal=appraisal)
    client = Client()
    client.force_login(secretary)
    url = f"/appraisal/{closed.pk}/results/"
    reset_queries()  # a full query log (DEBUG keeps 9,000) would capture nothing
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    median, low, high, _ = timed(lambda: client.get(url).status_code)
    results["appraisal_results_page_200x50"] = {
        "median_ms": round(median * 1000, 2), "queries": len(ctx.captured_queries),
    }  # fmt: skip

    # ---- printing 200 slips, the most at a time (the PDF is made before the slips are saved)
    printing = _fresh_appraisal(branch, secretary, year)
    slips_url = f"/appraisal/{printing.pk}/slips/"

    def print_slips():
        response = client.post(slips_url, {"group": "member", "count": "200"})
        assert response["Content-Type"] == "application/pdf"
        return len(response.content)

    median, low, high, size = timed(print_slips, runs=3)
    results["appraisal_print_200_slips"] = {
        "median_ms": round(median * 1000, 1), "min_ms": round(low * 1000, 1),
        "max_ms": round(high * 1000, 1), "pdf_bytes": size,
    }  # fmt: skip

    # ---- ballots per second through gunicorn
    server = _start_gunicorn(database_url)
    try:
        for voters, per_voter in ((20, 30), (100, 8)):
            appraisal = _fresh_appraisal(branch, secretary, year)
            connection.close()  # the voters' requests go through gunicorn's own connections
            results[f"appraisal_ballots_{voters}_voters"] = _throughput(
                appraisal, secretary, voters, per_voter
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
