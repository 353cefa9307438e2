"""The home page at province scale, run by bench/run.py inside its Django setup: one request at a
time (median of BENCH_RUNS), its query count, and every query's plan on PostgreSQL — a query
that reads a large table without an index is listed under `seq_scans`.

    BENCH_ONLY=home make bench
"""

from __future__ import annotations

import json

USERS = ("zhibu_shuji", "zhen_shuji", "xian_shuji", "shi_shuji", "sheng_office")
SMALL_TABLE_ROWS = 10_000  # reading a table this small whole is as good as an index


def _seq_scans(connection, sql: str, params) -> list[str]:
    """The tables of more than SMALL_TABLE_ROWS rows that the plan of `sql` scans whole."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        found = []

        def walk(node, limited=False):
            if node["Node Type"] == "Seq Scan":
                cursor.execute(
                    "SELECT reltuples FROM pg_class WHERE relname = %s", [node["Relation Name"]]
                )
                rows = cursor.fetchone()[0]
                if rows > SMALL_TABLE_ROWS:
                    # under a LIMIT the scan stops at the first rows it needs (a capped count)
                    early = ", stops at the limit" if limited else ""
                    found.append(f"{node['Relation Name']} ({int(rows)} rows{early})")
            for child in node.get("Plans", []):
                walk(child, limited or node["Node Type"] == "Limit")

        walk(plan[0]["Plan"])
    return found


def run(results: dict, *, timed, prefix: str = "home_page") -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    for username in USERS:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            continue
        client = Client()
        client.force_login(user)
        reset_queries()  # a full query log (DEBUG keeps 9,000) would capture nothing
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/").status_code == 200
        queries = [(q["sql"], None) for q in ctx.captured_queries]
        median, low, high, _ = timed(lambda c=client: c.get("/").status_code)
        row = {
            "median_ms": round(median * 1000, 1),
            "min_ms": round(low * 1000, 1),
            "max_ms": round(high * 1000, 1),
            "queries": len(queries),
        }
        if connection.vendor == "postgresql":
            # the captured SQL has its parameters inlined; savepoints and sessions need no plan
            scans = []
            for sql, params in queries:
                if sql.lstrip().upper().startswith("SELECT"):
                    scans += _seq_scans(connection, sql, params)
            row["seq_scans"] = scans
        results[f"{prefix}_{username}"] = row
