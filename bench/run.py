#!/usr/bin/env python
"""Benchmarks at province scale on PostgreSQL (not tests: numbers, not pass/fail).

    make bench                      # seeds the province once into database cxzy_bench, then measures
    BENCH_RESEED=1 make bench       # drop and seed again (measures the seed)
    BENCH_DATABASE_URL=... make bench
    BENCH_ONLY=appraisal make bench  # only the democratic appraisal measures
    BENCH_ONLY=home make bench       # only the home page (time, queries, plans without an index)
    BENCH_ONLY=load make bench       # only the secretary pages under load (bench/load_bench.py)
    BENCH_ONLY=reminders make bench  # only the reminders sweep, sending and the export job
    BENCH_ONLY=ledgers make bench    # only the 写实簿: one PDF, the batch job, grids, inspection
    BENCH_ONLY=stats make bench      # only the statistics (bench/stats_bench.py)
    BENCH_REBUILD=0 BENCH_ONLY=stats make bench  # the same without the full rebuild (minutes)
    BENCH_ONLY=seed make bench       # only seed the database (and rebuild the figures)

Prints a table and writes bench/results/latest.json.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "cxzy_bench"
ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
URL = os.environ.get("BENCH_DATABASE_URL", f"postgresql://postgres@127.0.0.1:5432/{BENCH_DB}")
RUNS = int(os.environ.get("BENCH_RUNS", "7"))


def ensure_database(reseed: bool) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if exists and reseed:
            conn.execute(f'DROP DATABASE "{BENCH_DB}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def timed(fn, runs=RUNS):
    samples = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), min(samples), max(samples), result


def main() -> None:
    reseed = os.environ.get("BENCH_RESEED") == "1"
    if "BENCH_DATABASE_URL" not in os.environ:
        ensure_database(reseed)
    os.environ["DATABASE_URL"] = URL
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from orgs import access, selectors
    from orgs.access import Action
    from orgs.models import Member, Organization

    settings.ALLOWED_HOSTS = ["*"]
    results: dict[str, dict] = {}
    call_command("migrate", verbosity=0)
    if not Organization.objects.exists():
        started = time.perf_counter()
        call_command("seed_demo", "--scale", "province", verbosity=1)
        results["seed_province"] = {"seconds": round(time.perf_counter() - started, 1)}
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    from pledges.models import Pledge

    if not Pledge.objects.exists():
        import random

        from django.utils import timezone

        from pledges import demo as pledge_demo

        started = time.perf_counter()
        pledge_demo.seed(
            scale="province", rng=random.Random(7), today=timezone.localdate(), log=print
        )
        results["seed_pledges"] = {"seconds": round(time.perf_counter() - started, 1)}
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    from reviews.models import LeaderReview

    if not LeaderReview.objects.exists():
        import random

        from django.utils import timezone

        from reviews import demo as review_demo

        started = time.perf_counter()
        review_demo.seed(
            scale="province", rng=random.Random(11), today=timezone.localdate(), log=print
        )
        results["seed_reviews"] = {"seconds": round(time.perf_counter() - started, 1)}
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    seeded = _seed_activity(results)
    if seeded:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    results["size"] = _size()
    only = os.environ.get("BENCH_ONLY", "")
    import stats_bench
    from django.utils import timezone

    from orgs import figures

    year = timezone.localdate().year
    kept = any(s.model.objects.exists() for s in figures.sources())
    wanted = only in ("", "seed", "stats") and os.environ.get("BENCH_REBUILD") != "0"
    if wanted or seeded or not kept:
        stats_bench.rebuild(results, year=year)  # the figures the tables read
    if only == "seed":  # only prepare the database
        report(results)
        return
    if only == "stats":
        stats_bench.run(results, timed=timed, database_url=URL)
        report(results)
        return
    if only == "appraisal":
        import appraisal_bench

        appraisal_bench.run(results, database_url=URL, timed=timed)
        report(results)
        return
    if only == "home":
        import home_bench

        home_bench.run(results, timed=timed)
        report(results)
        return
    if only == "reminders":
        import reminders_bench

        reminders_bench.run(results, timed=timed)
        report(results)
        return
    if only == "ledgers":
        import ledgers_bench

        ledgers_bench.run(results, timed=timed, runs=RUNS)
        report(results)
        return
    if only == "load":
        import load_bench

        load_bench.run(results, database_url=URL)
        report(results)
        return
    User = get_user_model()

    def fresh(username):
        return User.objects.get(username=username)

    city_user, county_user = fresh("shi_shuji"), fresh("xian_shuji")

    def measure(name, fn, **extra):
        median, low, high, value = timed(fn)
        results[name] = {
            "median_ms": round(median * 1000, 2),
            "min_ms": round(low * 1000, 2),
            "max_ms": round(high * 1000, 2),
            **extra,
        }
        if value is not None and not hasattr(value, "status_code"):
            results[name]["value"] = value
        return value

    measure("members_visible_city_count", lambda: access.members_visible_to(city_user).count())
    measure("members_visible_county_count", lambda: access.members_visible_to(county_user).count())
    county = Organization.objects.get(code="JY0101")
    measure("county_children_with_counts", lambda: len(list(selectors.org_children(org=county))))

    client = Client()
    client.force_login(county_user)
    url = f"/orgs/{county.pk}/"
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    measure(
        "county_org_page", lambda: client.get(url).status_code, queries=len(ctx.captured_queries)
    )
    city_client = Client()
    city_client.force_login(city_user)
    measure("city_member_list_first_page", lambda: city_client.get("/orgs/members/").status_code)
    deep = Organization.objects.filter(kind="branch").order_by("-lft").first()

    def access_check():
        user = fresh("sheng_office")  # a fresh object: grants are read again
        with CaptureQueriesContext(connection) as ctx:
            access.get_org_for_user(user, deep.pk, Action.VIEW)
        return len(ctx.captured_queries)

    measure("access_check_uncached", access_check)
    cached_user = fresh("sheng_office")
    access.grants_for(cached_user)
    measure(
        "access_check_cached_x1000",
        lambda: sum(access.can(cached_user, Action.EXPORT, deep) for _ in range(1000)),
    )

    import io

    from orgs import roster

    def export_county():
        stream = io.BytesIO()
        roster.write_export(root=county, stream=stream)
        return len(stream.getvalue())

    size = measure("county_roster_export", export_county)
    stream = io.BytesIO()
    roster.write_export(root=county, stream=stream)

    def reimport_county():
        stream.seek(0)
        return roster.import_roster(
            stream, by=None, root=county, limits=roster.COMMAND_LIMITS
        ).changed

    median, low, high, changed = timed(reimport_county, runs=3)
    results["county_roster_reimport_unchanged"] = {
        "median_ms": round(median * 1000, 1),
        "changed": changed,
        "xlsx_bytes": size,
        "rows": Member.objects.filter(county.subtree_q("org__")).count(),
    }

    # ---- pledges
    from django.utils import timezone

    year = timezone.localdate().year

    def page(username, url):
        c = Client()
        c.force_login(fresh(username))
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(url).status_code == 200, url
        return c, len(ctx.captured_queries)

    branch = Organization.objects.get(secretary__user__username="zhibu_shuji")
    url = f"/pledges/org/{branch.pk}/{year}/"
    c, queries = page("zhibu_shuji", url)
    measure("branch_year_page", lambda: c.get(url).status_code, queries=queries,
            members=branch.members.count())  # fmt: skip
    for username in ("zhen_shuji", "xian_shuji"):
        c, queries = page(username, "/pledges/vet/")
        measure(
            f"vet_queue_{username}", lambda c=c: c.get("/pledges/vet/").status_code, queries=queries
        )
    city = Organization.objects.get(code="JY01")
    url = f"/pledges/overdue/?org={city.pk}"
    c, queries = page("shi_shuji", url)
    measure("city_overdue_list", lambda: c.get(url).status_code, queries=queries,
            overdue=Pledge.objects.overdue(timezone.localdate()).filter(city.subtree_q("org__")).count())  # fmt: skip

    # ---- reviews: coverage for the province by city, a city by county, the branch quarter page
    from orgs.periods import HALF, QUARTER, Period
    from reviews import selectors as review_selectors

    today = timezone.localdate()
    quarter = Period.containing(today, QUARTER).previous()
    half = Period.containing(quarter.end, HALF)
    province = Organization.objects.get(code="JY")
    with CaptureQueriesContext(connection) as ctx:
        review_selectors.coverage(root=province, quarter=quarter, half=half)
    measure(
        "coverage_province_by_city",
        lambda: (
            review_selectors.coverage(root=province, quarter=quarter, half=half)[
                "total"
            ].member_rate
        ),
        queries=len(ctx.captured_queries),
        runs_note=quarter.label,
    )
    measure(
        "coverage_city_by_county",
        lambda: (
            review_selectors.coverage(root=city, quarter=quarter, half=half)["total"].member_rate
        ),
    )
    url = f"/reviews/quarter/{branch.pk}/{quarter.slug}/"
    c, queries = page("zhibu_shuji", url)
    measure("branch_quarter_page", lambda: c.get(url).status_code, queries=queries)
    url = f"/reviews/coverage/{city.pk}/{quarter.slug}/"
    c, queries = page("shi_shuji", url)
    measure("city_coverage_page", lambda: c.get(url).status_code, queries=queries)

    # ---- the home page; the secretary pages under load through gunicorn
    import home_bench
    import load_bench

    home_bench.run(results, timed=timed)
    load_bench.run(results, database_url=URL)

    # ---- democratic appraisal: ballots per second through gunicorn, the tally
    import appraisal_bench

    appraisal_bench.run(results, database_url=URL, timed=timed)

    # ---- reminders: the sweep, sending, the county roster export as a job
    import reminders_bench

    reminders_bench.run(results, timed=timed)

    # ---- the 写实簿: one member ledger as PDF, the batch job, the grids, the inspection
    import ledgers_bench

    ledgers_bench.run(results, timed=timed, runs=RUNS)

    # ---- statistics: the tables against the floor, the workbook, refresh, pages under load
    stats_bench.run(results, timed=timed, database_url=URL)
    report(results)


def _seed_activity(results: dict) -> bool:
    """What the statistics count beyond the pledges and reviews — fulfilment reports,
    rectifications, evaluations, exemptions, appraisals with results, signed ledgers — seeded
    into a province that has none yet (each part once, in its own transaction). Whether any
    was seeded."""
    import random

    from django.db import transaction
    from django.utils import timezone

    from ledgers import demo as ledger_demo
    from ledgers.models import Signature
    from pledges import demo as pledge_demo
    from pledges.models import Fulfilment
    from reviews import demo as review_demo
    from reviews.appraisal import demo as appraisal_demo
    from reviews.appraisal.models import PaperCount
    from reviews.models import Exemption

    today = timezone.localdate()
    parts = [
        ("seed_pledge_activity", Fulfilment.objects, pledge_demo.seed_activity, 13),
        ("seed_review_activity", Exemption.objects, review_demo.seed_activity, 17),
        ("seed_appraisals", PaperCount.objects, appraisal_demo.seed_province, 19),
        (
            "seed_ledgers",
            Signature.objects.filter(signer__username=ledger_demo.BENCH_SIGNER),
            ledger_demo.seed_province,
            23,
        ),
    ]
    seeded = False
    for name, rows, seeder, seed in parts:
        if rows.exists():
            continue
        started = time.perf_counter()
        with transaction.atomic():
            made = seeder(rng=random.Random(seed), today=today, log=print)
        results[name] = {"seconds": round(time.perf_counter() - started, 1), **made}
        seeded = True
    return seeded


def _size() -> dict:
    from ledgers.models import Ledger, Signature
    from orgs.models import Member, Organization
    from pledges.models import Fulfilment, Pledge, Rectification
    from reviews.appraisal.models import Appraisal, AppraisalSubject
    from reviews.models import Exemption, LeaderReview, ReviewRectification

    models = {
        "organizations": Organization,
        "members": Member,
        "pledges": Pledge,
        "reviews": LeaderReview,
        "fulfilments": Fulfilment,
        "pledge_rectifications": Rectification,
        "exemptions": Exemption,
        "review_rectifications": ReviewRectification,
        "appraisals": Appraisal,
        "appraisal_subjects": AppraisalSubject,
        "ledgers": Ledger,
        "ledger_signatures": Signature,
    }
    return {name: model.objects.count() for name, model in models.items()}


def report(results: dict) -> None:
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
    width = max(len(k) for k in results)
    for name, row in results.items():
        print(f"{name:<{width}}  {json.dumps(row, ensure_ascii=False)}")


if __name__ == "__main__":
    main()
