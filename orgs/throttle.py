"""Failure counters shared by every process: login attempts, wrong ballot codes.

The counters live in the database (one row per key, one atomic statement per hit that returns the
new count), so a limit holds across gunicorn workers and machines with or without Redis, and
survives restarts. Keys are hashed
before they are stored: no address or username is kept in clear."""

from __future__ import annotations

import datetime
import hashlib
import math
import random

from django.db import connection
from django.db.models import F
from django.utils import timezone

from orgs.models import ThrottleCounter


def _stored(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def throttle_hit(key: str, *, window: int) -> int:
    """Count one attempt under `key`; the count starts again `window` seconds after its first hit.
    Returns the count in the current window, this hit included, read in the same statement that
    wrote it: of simultaneous hits each gets its own number, so a caller that refuses above a
    limit lets exactly `limit` of them through."""
    now = timezone.now()
    ends = now + datetime.timedelta(seconds=window)
    table, key_, count, window_ends = (
        connection.ops.quote_name(name)
        for name in (ThrottleCounter._meta.db_table, "key", "count", "window_ends")
    )
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        # one upsert (PostgreSQL, SQLite 3.35+): no read-then-write gap between processes
        cursor.execute(
            f"INSERT INTO {table} ({key_}, {count}, {window_ends}) VALUES (%s, 1, %s) "
            f"ON CONFLICT ({key_}) DO UPDATE SET "
            f"{count} = CASE WHEN {table}.{window_ends} > %s THEN {table}.{count} + 1 ELSE 1 END, "
            f"{window_ends} = CASE WHEN {table}.{window_ends} > %s "
            f"THEN {table}.{window_ends} ELSE %s END "
            f"RETURNING {count}",
            [_stored(key), adapt(ends), adapt(now), adapt(now), adapt(ends)],
        )
        hits = cursor.fetchone()[0]
    if random.random() < 0.01:  # now and then, forget windows that ended a day ago
        ThrottleCounter.objects.filter(window_ends__lt=now - datetime.timedelta(days=1)).delete()
    return hits


def throttle_retry_after(key: str, *, limit: int) -> int:
    """Seconds until `key` may be tried again: 0 while fewer than `limit` failures are counted."""
    row = (
        ThrottleCounter.objects.filter(key=_stored(key), window_ends__gt=timezone.now())
        .values_list("count", "window_ends")
        .first()
    )
    if row is None or row[0] < limit:
        return 0
    return max(1, math.ceil((row[1] - timezone.now()).total_seconds()))


def throttle_reset(key: str) -> None:
    """Forget the failures counted under `key` (after a success)."""
    ThrottleCounter.objects.filter(key=_stored(key)).delete()


def throttle_forgive(key: str) -> None:
    """Take back one hit counted under `key` (an attempt reserved, then refused or successful),
    atomically, so hits counted meanwhile by other processes stay counted."""
    ThrottleCounter.objects.filter(
        key=_stored(key), count__gt=0, window_ends__gt=timezone.now()
    ).update(count=F("count") - 1)
