"""Figures kept per organisation and period: the counts the statistics, coverage and dashboards read.

Each app that stores activity keeps its own figures table (a concrete `FigureRow`: one row per
organisation and period, one integer column per indicator, counting the organisation's own
records, not its subtree) and registers a `FigureSource` in its AppConfig.ready():

    register_figures(FigureSource(key="reviews", model=ReviewFigure, period_kind=QUARTER,
                                  compute=figures.compute, names=figures.names, label="领导点评"))

- `compute(period, org_ids)` recomputes the figures of those organisations from the raw rows, in
  a few grouped queries: {org_id: {column: n}} (organisations whose figures are all zero may be
  left out);
- `names(period, org, column)` lists what one organisation's own figure counts (the drill-down at
  the bottom of a table): `Named` items whose number equals the kept figure.

Services call `touch(org_ids, start, end)` after each write: the figures of those organisations
for every period overlapping [start, end] are refreshed once the transaction commits (one task
for all the touches of a transaction, so a bulk write costs one refresh per organisation and
period). A nightly `rebuild` recomputes everything of the current and previous year and `check`
compares the kept figures with a recompute. Tables roll the rows up by nested-set range in one
grouped query (`rollup`): no loop over organisations in Python.

With settings.FIGURES_IMMEDIATE (the test suite) nothing waits for a worker: the touches are
refreshed inside the transaction, just before the next read of any kept figures (`settle`, which
the rows' manager and the raw-SQL readers call) or at the commit, whichever comes first, so the
figures read are always current and a write nobody reads before its test rolls back costs
nothing.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from orgs.models import Organization
from orgs.periods import HALF, QUARTER, YEAR, Period

log = logging.getLogger(__name__)

CHUNK = 2000  # organisations per compute call in a rebuild or check: bounded memory and SQL


class FigureManager(models.Manager):
    """Every query of the kept figures first settles the touches waiting to be refreshed
    (nothing outside FIGURES_IMMEDIATE)."""

    def get_queryset(self):
        settle()
        return super().get_queryset()


class FigureRow(models.Model):
    """One organisation's own figures for one period. Subclasses add PositiveIntegerFields (the
    indicators) and a UniqueConstraint on (period, org)."""

    org = models.ForeignKey(
        Organization, verbose_name="党组织", on_delete=models.CASCADE, related_name="+"
    )
    period = models.CharField("期间", max_length=8)
    computed_at = models.DateTimeField("数据截至")

    objects = FigureManager()

    class Meta:
        abstract = True


def columns(model: type[models.Model]) -> list[str]:
    """The indicator columns of a figures model, in declaration order."""
    return [
        f.name
        for f in model._meta.concrete_fields
        if isinstance(f, models.IntegerField) and not f.primary_key and f.name != "org"
    ]


@dataclass(frozen=True)
class Named:
    """One item behind a number: a member, an organisation or a record, with where to read it."""

    label: str
    url: str = ""
    detail: str = ""


@dataclass(frozen=True)
class FigureSource:
    key: str
    model: type[models.Model]
    period_kind: str  # QUARTER, HALF or YEAR
    compute: Callable[[Period, list[int]], dict[int, dict[str, int]]]
    label: str
    names: Callable[[Period, Organization, str], list[Named]] | None = None

    @property
    def columns(self) -> list[str]:
        return columns(self.model)


_sources: dict[str, FigureSource] = {}


def register_figures(source: FigureSource) -> None:
    if source.key in _sources:
        raise ValueError(f"figures {source.key!r} registered twice")
    _sources[source.key] = source


def sources() -> list[FigureSource]:
    return list(_sources.values())


def source(key: str) -> FigureSource:
    try:
        return _sources[key]
    except KeyError:
        raise LookupError(f"no figures registered as {key!r}") from None


def verbose(model: type[models.Model], column: str) -> str:
    return str(model._meta.get_field(column).verbose_name)


# ---------------------------------------------------------------- periods


def periods_overlapping(kind: str, start: datetime.date, end: datetime.date) -> list[Period]:
    """The periods of `kind` that overlap [start, end]."""
    found = []
    period = Period.containing(start, kind)
    while period.start <= end:
        found.append(period)
        period = period.next()
    return found


def periods_of_year(year: int) -> list[Period]:
    return [p for kind in (QUARTER, HALF, YEAR) for p in Period.all_of(year, kind)]


# ---------------------------------------------------------------- refresh


def refresh(key: str, period: Period, org_ids: Collection[int]) -> int:
    """Recompute and store the figures of `org_ids` for `period`; idempotent. Returns the rows
    written."""
    src = source(key)
    if period.kind != src.period_kind:
        raise ValueError(f"{key} keeps {src.period_kind} figures, not {period.kind}")
    ids = sorted(set(org_ids))
    written = 0
    for i in range(0, len(ids), CHUNK):
        written += _replace(
            src, period, ids[i : i + CHUNK], src.compute(period, ids[i : i + CHUNK])
        )
    return written


def _replace(
    src: FigureSource, period: Period, ids: list[int], figures: dict[int, dict[str, int]]
) -> int:
    now = timezone.now()
    cols = src.columns
    rows = []
    for org_id in ids:
        values = figures.get(org_id) or {}
        if any(values.get(c) for c in cols):
            rows.append(
                src.model(
                    org_id=org_id,
                    period=period.slug,
                    computed_at=now,
                    **{c: int(values.get(c) or 0) for c in cols},
                )
            )
    with transaction.atomic():
        src.model.objects.filter(period=period.slug, org_id__in=ids).delete()
        src.model.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


Span = tuple[int, datetime.date, datetime.date, str | None]  # org, start, end, source (None: all)


def refresh_span(spans: Iterable[Span]) -> int:
    """Refresh the sources named (every source where None) for the organisations and date spans
    given: for each source, each period of its kind overlapping a span is recomputed once for
    all the organisations that touched it."""
    wanted: dict[tuple[str, Period], set[int]] = defaultdict(set)
    for org_id, start, end, key in spans:
        for src in _sources.values() if key is None else [_sources[key]]:
            for period in periods_overlapping(src.period_kind, start, end):
                wanted[(src.key, period)].add(org_id)
    written = 0
    for (key, period), ids in wanted.items():
        written += refresh(key, period, ids)
    return written


_local = threading.local()


def waiting() -> set[Span]:
    """The touches waiting in this thread, the live set (a test puts back the ones of its start
    when its writes roll back)."""
    if not hasattr(_local, "spans"):
        _local.spans = set()
    return _local.spans


def touch(
    org_ids: int | Iterable[int | None],
    start: datetime.date,
    end: datetime.date | None = None,
    *,
    keys: Iterable[str] | None = None,
) -> None:
    """The figures of `org_ids` for every period overlapping [start, end] (default: the day
    `start`) are no longer current — those of the sources `keys` only, when a write changes
    nothing the others count —: refresh them when the transaction commits. The touches of
    one transaction are coalesced into one task: the first callback to run takes every span
    waiting in this thread, the others find nothing left. Spans of a transaction that rolled
    back stay and are refreshed with the next ones (a refresh is idempotent)."""
    ids = {org_ids} if isinstance(org_ids, int) else {i for i in org_ids if i}
    if not ids or not _sources:
        return
    first, last = kept_span()
    start, end = max(start, first), min(end or start, last)
    if start > end:
        return  # figures of years nobody keeps current (a rebuild of that year recomputes them)
    chosen = [None] if keys is None else [k for k in keys if k in _sources]
    waiting().update((i, start, end, k) for i in ids for k in chosen)
    if getattr(settings, "FIGURES_IMMEDIATE", False):
        transaction.on_commit(settle)  # a commit (a live server's request) reads nothing after
    else:
        transaction.on_commit(_dispatch)


def settle() -> None:
    """With FIGURES_IMMEDIATE, refresh now what this thread's touches left stale, so that the
    read that follows sees current figures; otherwise nothing (the refresh is the worker's, on
    commit). The spans are taken before the refresh, so its own reads find nothing to do."""
    if not getattr(settings, "FIGURES_IMMEDIATE", False):
        return
    spans = waiting()
    if spans:
        taken = set(spans)
        spans.clear()
        refresh_span(taken)


def kept_span(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """The days whose periods the touches keep current: the previous year (whose reports are
    still coming in), the current one and the next (pledges made ahead). Older years change only
    by an explicit stats_rebuild."""
    today = today or timezone.localdate()
    first, last = today.year - 1, today.year + 1
    # years kept besides (settings.FIGURES_ALSO_KEPT: first, last): the test suite's fixed years
    also = getattr(settings, "FIGURES_ALSO_KEPT", None)
    if also:
        first, last = min(first, also[0]), max(last, also[1])
    return datetime.date(first, 1, 1), datetime.date(last, 12, 31)


def touch_all_kept(org_ids) -> None:
    """A change that alters every period's figures of `org_ids` (the tree itself changed)."""
    first, last = kept_span()
    touch(org_ids, first, last)


def touch_period(org_ids, period: Period, *, keys: Iterable[str] | None = None) -> None:
    touch(org_ids, period.start, period.end, keys=keys)


def _dispatch() -> None:
    spans = waiting()
    if not spans:
        return
    payload = [
        [i, s.isoformat(), e.isoformat(), k]
        for i, s, e, k in sorted(spans, key=lambda span: (*span[:3], span[3] or ""))
    ]
    spans.clear()
    from orgs.tasks import refresh_figures

    try:
        refresh_figures.apply_async((payload,), queue=settings.FIGURES_QUEUE)
    except Exception:  # the broker is down: the nightly rebuild catches up
        log.exception("figures refresh could not be queued (%d spans)", len(payload))


# ---------------------------------------------------------------- rebuild and check


def _active_ids() -> list[int]:
    return list(
        Organization.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
    )


def _chosen(keys: Collection[str] | None) -> list[FigureSource]:
    return [s for s in _sources.values() if keys is None or s.key in keys]


def rebuild(
    periods: Iterable[Period], *, keys: Collection[str] | None = None, log=lambda text: None
) -> dict[str, int]:
    """Recompute every organisation's figures for `periods` (each source for those of its kind),
    in chunks of organisations; rows of organisations no longer active are dropped. Returns rows
    written per source."""
    ids = _active_ids()
    written: dict[str, int] = defaultdict(int)
    for period in periods:
        for src in _chosen(keys):
            if src.period_kind != period.kind:
                continue
            started = timezone.now()
            for i in range(0, len(ids), CHUNK):
                chunk = ids[i : i + CHUNK]
                written[src.key] += _replace(src, period, chunk, src.compute(period, chunk))
            src.model.objects.filter(period=period.slug, computed_at__lt=started).delete()
            log(f"{src.label} {period.label}：{written[src.key]} 行")
    return dict(written)


@dataclass(frozen=True)
class Difference:
    key: str
    period: str
    org_id: int
    column: str
    kept: int
    recomputed: int


def check(
    periods: Iterable[Period], *, keys: Collection[str] | None = None, limit: int = 1000
) -> list[Difference]:
    """Compare the kept figures with a recompute from the raw rows; the differences (at most
    `limit`)."""
    ids = _active_ids()
    found: list[Difference] = []
    for period in periods:
        for src in _chosen(keys):
            if src.period_kind != period.kind:
                continue
            cols = src.columns
            kept_all = {
                row[0]: dict(zip(cols, row[1:], strict=True))
                for row in src.model.objects.filter(period=period.slug).values_list("org_id", *cols)
            }
            for org_id in set(kept_all) - set(ids):
                found.append(Difference(src.key, period.slug, org_id, "*", 1, 0))
            for i in range(0, len(ids), CHUNK):
                chunk = ids[i : i + CHUNK]
                fresh = src.compute(period, chunk)
                for org_id in chunk:
                    kept = kept_all.get(org_id) or {}
                    now = fresh.get(org_id) or {}
                    for c in cols:
                        a, b = int(kept.get(c) or 0), int(now.get(c) or 0)
                        if a != b:
                            found.append(Difference(src.key, period.slug, org_id, c, a, b))
                if len(found) >= limit:
                    return found[:limit]
    return found


# ---------------------------------------------------------------- reads


@dataclass
class Rollup:
    """A table's figures for `root`: each child's subtree, the root's own rows, and the total."""

    root: Organization
    period: Period
    children: list[tuple[Organization, dict[str, int]]]
    own: dict[str, int]
    total: dict[str, int]
    as_of: datetime.datetime | None


def _zero(cols: list[str]) -> dict[str, int]:
    return dict.fromkeys(cols, 0)


def rollup(key: str, root: Organization, period: Period) -> Rollup:
    """`root`'s figures for `period` by child (each child's whole subtree), its own, and the
    total: three queries whatever the size of the subtree."""
    settle()
    src = source(key)
    cols = src.columns
    every_child = list(root.get_children().order_by("lft"))
    children = [c for c in every_child if c.is_active]
    by_child: dict[int, dict[str, int]] = {}
    stamps = []
    with connection.cursor() as cursor:
        cursor.execute(*_by_child_sql(src, root, period, every_child))
        for row in cursor.fetchall():
            if row[0] is not None:
                by_child[row[0]] = {c: int(v or 0) for c, v in zip(cols, row[1:-1], strict=True)}
                stamps.append(row[-1])
    own_row = src.model.objects.filter(period=period.slug, org_id=root.pk).values(
        *cols, "computed_at"
    )
    own = _zero(cols)
    for row in own_row:
        stamps.append(row.pop("computed_at"))
        own = {c: int(row[c] or 0) for c in cols}
    total = dict(own)
    for values in by_child.values():
        for c in cols:
            total[c] += values[c]
    stamps = [_aware(s) for s in stamps if s is not None]
    return Rollup(
        root=root,
        period=period,
        children=[(c, by_child.get(c.pk) or _zero(cols)) for c in children],
        own=own,
        total=total,
        as_of=max(stamps) if stamps else None,
    )


def _by_child_sql(
    src: FigureSource, root: Organization, period: Period, every_child: list[Organization]
) -> tuple[str, list]:
    """The query summing the figures of `root`'s subtree (its own row left out) by child: rows
    (child id, the sums, the latest computed_at), a child of no rows left out; on PostgreSQL a
    row of id None gathers the subtrees of inactive children, which the table leaves out.

    Every row is the root's range, so that a county's table reads its own subtree's rows only.
    On PostgreSQL a row finds its child by a binary search of the children's left bounds
    (width_bucket), with no join on ranges; elsewhere by the range join."""
    fig = src.model._meta.db_table
    org = Organization._meta.db_table
    sums = ", ".join(f"SUM(f.{connection.ops.quote_name(c)})" for c in src.columns)
    inside = "o.tree_id = %s AND o.lft > %s AND o.lft < %s"
    if connection.vendor == "postgresql":
        ids = [c.pk if c.is_active else None for c in every_child]
        sql = (
            f"SELECT (%s::bigint[])[width_bucket(o.lft, %s::int[])], {sums}, MAX(f.computed_at) "
            f"FROM {fig} f JOIN {org} o ON o.id = f.org_id "
            f"WHERE f.period = %s AND {inside} GROUP BY 1"
        )
        lefts = [c.lft for c in every_child]
        return sql, [ids, lefts, period.slug, root.tree_id, root.lft, root.rght]
    sql = (
        f"SELECT c.id, {sums}, MAX(f.computed_at) FROM {fig} f "
        f"JOIN {org} o ON o.id = f.org_id "
        f"JOIN {org} c ON c.parent_id = %s AND c.tree_id = o.tree_id "
        f"AND o.lft BETWEEN c.lft AND c.rght "
        f"WHERE f.period = %s AND c.is_active AND {inside} GROUP BY c.id"
    )
    return sql, [root.pk, period.slug, root.tree_id, root.lft, root.rght]


def _aware(value) -> datetime.datetime:
    if isinstance(value, str):  # SQLite through a raw cursor
        value = datetime.datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)
    return value


def subtree_total(key: str, root: Organization, period: Period) -> dict[str, int]:
    """The sum of `root`'s subtree's figures for `period`: one query."""
    src = source(key)
    cols = src.columns
    agg = src.model.objects.filter(root.subtree_q("org__"), period=period.slug).aggregate(
        **{c: models.Sum(c) for c in cols}
    )
    return {c: int(agg[c] or 0) for c in cols}


def own_figures(key: str, period: Period, org_ids: Collection[int]) -> dict[int, dict[str, int]]:
    """The kept own figures of each organisation (absent: all zero)."""
    src = source(key)
    cols = src.columns
    return {
        row[0]: dict(zip(cols, row[1:], strict=True))
        for row in src.model.objects.filter(period=period.slug, org_id__in=list(org_ids))
        .values_list("org_id", *cols)
    }  # fmt: skip
