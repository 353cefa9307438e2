"""Failure counters shared by every process: login attempts, wrong ballot codes.

The counters live in the database (one row per key, one atomic UPDATE per hit), so a limit holds
across gunicorn workers and machines with or without Redis, and survives restarts. Keys are hashed
before they are stored: no address or username is kept in clear."""

from __future__ import annotations

import datetime
import hashlib
import math
import random

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from orgs.models import ThrottleCounter


def _stored(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def throttle_hit(key: str, *, window: int) -> int:
    """Count one failure under `key`; the count starts again `window` seconds after its first hit.
    Returns the count in the current window, this hit included."""
    stored = _stored(key)
    now = timezone.now()
    ends = now + datetime.timedelta(seconds=window)
    live = Q(window_ends__gt=now)
    for _ in range(3):
        updated = ThrottleCounter.objects.filter(key=stored).update(
            count=Case(When(live, then=F("count") + 1), default=Value(1)),
            window_ends=Case(When(live, then=F("window_ends")), default=Value(ends)),
        )
        if not updated:
            try:
                with transaction.atomic():
                    ThrottleCounter.objects.create(key=stored, count=1, window_ends=ends)
            except IntegrityError:  # another process created it first: count on it
                continue
        break
    if random.random() < 0.01:  # now and then, forget windows that ended a day ago
        ThrottleCounter.objects.filter(window_ends__lt=now - datetime.timedelta(days=1)).delete()
    row = ThrottleCounter.objects.filter(key=stored).values_list("count", flat=True).first()
    return row or 1


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
