"""The statistics tables as Excel files: one table straight away, all four as a background job.

The tables' pages link here; the file holds the same numbers as the page (reports.tables.build),
drawn by reports/excel.py.
"""

from __future__ import annotations

import io

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from orgs.feedback import show_refusal
from orgs.periods import Period
from reports import excel, jobs, tables
from reports.access import get_org_for_stats


def _spec_or_404(key: str) -> tables.TableSpec:
    try:
        return tables.table_spec(key)
    except KeyError:
        raise Http404("没有这张统计表。") from None


def _period_or_404(spec: tables.TableSpec, slug: str) -> Period:
    try:
        period = Period.parse(slug)
    except ValueError:
        raise Http404("期间有误。") from None
    if period.kind != spec.period_kind:
        raise Http404("期间有误。")
    return period


@require_GET
def table_xlsx(request, table, org_pk, period):
    spec = _spec_or_404(table)
    chosen = _period_or_404(spec, period)
    org = get_org_for_stats(request.user, org_pk)
    built = tables.build(spec, org, chosen)
    content = excel.workbook_bytes(excel.table_workbook(built))
    return FileResponse(
        io.BytesIO(content),
        as_attachment=True,
        filename=excel.table_filename(built),
        content_type=excel.XLSX,
    )


@require_POST
def all_xlsx(request, org_pk):
    """Start the workbook of the four tables (the periods posted, else the current ones) and
    show its progress."""
    org = get_org_for_stats(request.user, org_pk)
    try:
        periods = jobs.chosen_periods(request.POST, today=timezone.localdate())
        job = jobs.workbook_start(by=request.user, org=org, periods=periods)
    except ValidationError as error:
        show_refusal(request, error, prefix="未能导出统计报表：")
        return redirect("reports:index", org_pk=org.pk)
    return redirect("jobs:detail", pk=job.pk)
