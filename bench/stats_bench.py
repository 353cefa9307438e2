"""The statistics at province scale, run by bench/run.py inside its Django setup.

    BENCH_ONLY=stats make bench

- The floor, measured in the same run: `SELECT count(*)` over the leader-review table. Every
  table is reported as the ratio of its median to the floor's (medians over BENCH_RUNS):
  领导点评情况统计表 province by city (goal ≤ 0.35×) and a county by township (≤ 0.1×); each
  other table province by city (≤ 0.5×). Each with its queries and, on PostgreSQL, the plan of
  its slowest query (EXPLAIN ANALYZE, in bench/results/stats_explain.txt).
- The province workbook with all four tables (reports.excel.all_tables_workbook, saved to
  memory): the tables built and the file written (goal ≤ 1 s).
- The refresh of one organisation-period after a write: orgs.figures.refresh_span for one
  branch and one day, of the source a write of each kind touches, and of every source as a bare
  touch does (goal ≤ 20 ms).
- The full rebuild of the current year (`rebuild`, called by run.py after the seed; goal ≤ 5
  minutes with memory flat): its time, rows, the process's resident memory before, during (after
  each source and period) and after, and the peak (getrusage).
- The statistics pages through gunicorn, 20 concurrent connections (bench/load_bench.py; goal
  p95 ≤ 150 ms).
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOALS = {  # ratio to the floor, or milliseconds
    "stats_reviews_province": 0.35,
    "stats_reviews_county": 0.1,
    "stats_pledges_province": 0.5,
    "stats_appraisal_province": 0.5,
    "stats_ledgers_province": 0.5,
    "stats_workbook_province": 1000,
    "stats_refresh_one": 20,
    "stats_rebuild_province": 300_000,
    "stats_load_p95": 150,
}
FLAT_MB = 64  # memory "stays flat": the rebuild never holds this much more than when it began


def _rss_mb() -> float:
    """The process's resident memory now."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rebuild(results: dict, *, year: int) -> None:
    """The full rebuild of the kept figures of every period of `year`, timed, with memory."""
    from django.db import reset_queries
    from django.test.utils import override_settings

    from orgs import figures

    samples: list[float] = []
    reset_queries()
    # without the query log DEBUG keeps (9,000 queries of a few thousand ids each): its growth
    # is the log's, not the rebuild's, and production runs without it
    with override_settings(DEBUG=False):
        before = _rss_mb()
        started = time.perf_counter()
        written = figures.rebuild(
            figures.periods_of_year(year), log=lambda text: samples.append(_rss_mb())
        )
        seconds = time.perf_counter() - started
        after = _rss_mb()
    growth = max([after, *samples]) - before
    _analyze_figures()
    results["stats_rebuild_province"] = {
        "seconds": round(seconds, 1),
        "goal_seconds": GOALS["stats_rebuild_province"] / 1000,
        "rows": written,
        "rss_before_mb": round(before, 1),
        "rss_max_during_mb": round(max(samples or [before]), 1),
        "rss_after_mb": round(after, 1),
        "peak_rss_mb_process": round(_peak_mb(), 1),
        "memory_flat": growth < FLAT_MB,
        "rss_samples_mb": [round(s) for s in samples],
    }
    print("stats_rebuild_province", results["stats_rebuild_province"], flush=True)


def _analyze_figures() -> None:
    """The planner's statistics of the figure tables, which a rebuild has just rewritten (the
    tables would otherwise be read with the estimates of before, until autovacuum comes)."""
    from django.db import connection

    from orgs import figures

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for src in figures.sources():
            cursor.execute(f"ANALYZE {connection.ops.quote_name(src.model._meta.db_table)}")


def _floor(timed) -> float:
    from django.db import connection

    from reviews.models import LeaderReview

    table = connection.ops.quote_name(LeaderReview._meta.db_table)

    def count():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            return cursor.fetchone()[0]

    median, low, high, rows = timed(count)
    return median, {
        "median_ms": round(median * 1000, 1),
        "min_ms": round(low * 1000, 1),
        "max_ms": round(high * 1000, 1),
        "rows": rows,
    }


def _explain(name: str, queries: list[dict], out: list[str]) -> str:
    """EXPLAIN ANALYZE of the slowest read among `queries` (SQL with its parameters inlined)
    into `out`; its first line (the total)."""
    from django.db import connection

    reads = [q for q in queries if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))]
    if connection.vendor != "postgresql" or not reads:
        return ""
    slowest = max(reads, key=lambda q: float(q["time"]))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
        plan = [row[0] for row in cursor.fetchall()]
    out += [f"==== {name} ({slowest['time']} s)", slowest["sql"], *plan, ""]
    return plan[-1] if plan else ""


def run(results: dict, *, timed, database_url: str) -> None:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from orgs import figures
    from orgs.models import Organization
    from reports import tables

    today = timezone.localdate()
    province = Organization.objects.get(code="JY")
    county = Organization.objects.get(code="JY0101")
    floor, row = _floor(timed)
    results["stats_floor_count_reviews"] = row
    explained: list[str] = []

    def measure(name: str, fn, *, goal_key: str | None = None, **extra):
        reset_queries()  # a full query log (DEBUG keeps 9,000) would capture nothing
        with CaptureQueriesContext(connection) as ctx:
            fn()
        queries = list(ctx.captured_queries)
        median, low, high, _ = timed(fn)
        goal = GOALS.get(goal_key or name)
        row = {
            "median_ms": round(median * 1000, 2),
            "min_ms": round(low * 1000, 2),
            "max_ms": round(high * 1000, 2),
            "queries": len(queries),
            **extra,
        }
        if goal is not None and goal < 10:  # a ratio to the floor
            row["ratio_to_floor"] = round(median / floor, 3)
            row["goal_ratio"] = goal
            row["met"] = median / floor <= goal
        elif goal is not None:
            row["goal_ms"] = goal
            row["met"] = median * 1000 <= goal
        slowest = _explain(name, queries, explained)
        if slowest:
            row["slowest_query_plan_total"] = slowest
        results[name] = row

    for key, root, label in (
        ("reviews", province, "province"),
        ("reviews", county, "county"),
        ("pledges", province, "province"),
        ("appraisal", province, "province"),
        ("ledgers", province, "province"),
    ):
        spec = tables.table_spec(key)
        period = tables.default_period(spec, today)
        measure(
            f"stats_{key}_{label}",
            lambda spec=spec, root=root, period=period: tables.build(spec, root, period),
            period=period.slug,
            rows=len(tables.build(spec, root, period).rows),
        )
    _workbook(results, measure, province, today)

    branch = Organization.objects.get(secretary__user__username="zhibu_shuji")
    # a write touches its own source (a review: the reviews of its quarter; a pledge: the
    # pledges of its year…): one organisation-period of one source each
    for src in figures.sources():
        measure(
            f"stats_refresh_one_{src.key}",
            lambda key=src.key: figures.refresh_span([(branch.pk, today, today, key)]),
            goal_key="stats_refresh_one",
        )
    # a bare touch (the tree changed): every source
    measure(
        "stats_refresh_one_all_sources",
        lambda: figures.refresh_span([(branch.pk, today, today, None)]),
        sources=len(figures.sources()),
    )
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "stats_explain.txt").write_text("\n".join(explained))

    import load_bench

    load_bench.run(
        results,
        database_url=database_url,
        pages=load_bench.stats_pages(),
        prefix="stats_load",
        healthz=False,
    )
    p95 = [
        row["p95_ms"]
        for name, row in results.items()
        if name.startswith("stats_load_") and row.get("p95_ms") is not None
    ]
    if p95:
        results["stats_load_p95"] = {
            "worst_p95_ms": max(p95),
            "goal_ms": GOALS["stats_load_p95"],
            "met": max(p95) <= GOALS["stats_load_p95"],
        }


def _workbook(results: dict, measure, province, today) -> None:
    """The four tables of the province, built and written as one workbook in memory."""
    from reports import tables

    try:
        from reports.excel import all_tables_workbook, workbook_bytes
    except ImportError as error:
        results["stats_workbook_province"] = {"status": f"not available: {error}"}
        return

    def download():
        built = [
            tables.build(spec, province, tables.default_period(spec, today))
            for spec in tables.TABLES.values()
        ]
        return len(workbook_bytes(all_tables_workbook(built, today=today)))

    measure("stats_workbook_province", download, bytes=download())
