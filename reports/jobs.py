"""The "download all" workbook as a background job (orgs/jobs.py): the four statistics tables of
one organisation, one sheet each, for the periods chosen (by default the current quarter,
half-year and year, as the tables' index shows them).

Each table is three queries whatever the subtree, so the work is short; it runs as a job because
a province's four tables are four roll-ups of the whole province, and because the office asks for
it among its other exports. The job checks the user's right again when it runs and when the file
is downloaded (a clerk moved away keeps no copy).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from orgs import access as org_access
from orgs import jobs as org_jobs
from orgs.access import Action
from orgs.models import Job, Organization
from orgs.periods import HALF, QUARTER, Period
from orgs.refusals import refuse
from reports import excel, tables
from reports.access import can_read_stats

WORKBOOK = "reports_workbook"

_KIND_EXAMPLES = {QUARTER: "季度，如 2026Q3", HALF: "半年，如 2026H1"}


def chosen_periods(data: Mapping[str, str], *, today: datetime.date) -> dict[str, Period]:
    """The period of each table: `data[table key]` (a slug such as 2026Q3) where given, else the
    table's current one. A slug that is not a period of the table's kind is refused, naming the
    table."""
    periods, errors = {}, []
    for key, spec in tables.TABLES.items():
        text = (data.get(key) or "").strip()
        if not text:
            periods[key] = tables.default_period(spec, today)
            continue
        try:
            period = Period.parse(text)
        except ValueError:
            period = None
        if period is None or period.kind != spec.period_kind:
            wanted = _KIND_EXAMPLES.get(spec.period_kind, "年度，如 2026Y1")
            errors.append(f"“{spec.title}”的期间“{text[:20]}”有误：应为{wanted}。")
            continue
        periods[key] = period
    if errors:
        raise ValidationError(errors)
    return periods


def workbook_start(*, by, org: Organization, periods: Mapping[str, Period]) -> Job:
    """Queue the workbook of `org`'s four tables for `periods` (a period per table key) for
    `by`, who must be allowed to read `org`'s statistics."""
    if not can_read_stats(by, org):
        refuse("您没有权限导出该组织的统计报表。")
    if set(periods) != set(tables.TABLES):
        raise ValueError("a period for every table")
    return org_jobs.start_job(
        user=by,
        kind=WORKBOOK,
        title=f"导出统计报表：{org.name}",
        params={"org_id": org.pk, "periods": {k: p.slug for k, p in periods.items()}},
    )


def _org(job: Job) -> Organization:
    org_id = job.params.get("org_id")
    org = Organization.objects.filter(pk=org_id).first() if isinstance(org_id, int) else None
    if org is None:
        refuse("该党组织已不存在。")
    return org


def _periods(job: Job) -> dict[str, Period]:
    slugs = job.params.get("periods")
    if not isinstance(slugs, dict):
        refuse("任务参数有误。")
    try:
        return chosen_periods(
            {k: v for k, v in slugs.items() if isinstance(v, str)}, today=timezone.localdate()
        )
    except ValidationError:
        refuse("任务参数有误。")


def _run(job: Job, progress) -> tuple[str, bytes]:
    org = _org(job)
    if not can_read_stats(job.user, org):
        refuse(f"您已没有导出“{org.name}”统计报表的权限，任务未执行。")
    periods = _periods(job)
    total = len(tables.TABLES)
    progress(0, total)
    built = []
    for done, (key, spec) in enumerate(tables.TABLES.items(), start=1):
        built.append(tables.build(spec, org, periods[key]))
        progress(done, total)
    today = timezone.localdate()
    content = excel.workbook_bytes(excel.all_tables_workbook(built, today=today))
    org_jobs.note(job, "已生成：" + "、".join(excel.table_title(t) for t in built) + "。")
    return excel.all_tables_filename(org.name, today), content


def _may_download(job: Job) -> bool:
    org = Organization.objects.filter(pk=job.params.get("org_id")).first()
    return org is not None and can_read_stats(job.user, org)


def _link(job: Job) -> tuple[str, str] | None:
    """Back to the organisation's tables, or to its page for one who no longer reads them."""
    org = Organization.objects.filter(pk=job.params.get("org_id")).first()
    if org is None:
        return None
    if org.is_active and can_read_stats(job.user, org):
        return (f"返回{org.name}统计报表", reverse("reports:index", args=[org.pk]))
    if org_access.can(job.user, Action.VIEW, org):
        return (f"返回{org.name}", reverse("orgs:detail", args=[org.pk]))
    return None


def register() -> None:
    """Declare the statistics' job kinds (called once from the AppConfig)."""
    org_jobs.register_job(
        org_jobs.JobKind(WORKBOOK, "导出统计报表", _run, link=_link, may_download=_may_download)
    )
