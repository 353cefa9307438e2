"""The 报送 pages (reports/submissions.py holds the rules): an organisation's report dates with its
versions, the submit form with the tables about to be frozen, the parent's page of its children
with their reports beside the live figures, one submission read-only with its history, the
return, and the attachments as downloads."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from orgs.deadlines import deadline_for
from orgs.form_helpers import apply_errors
from orgs.periods import year_from
from reports import access, submissions
from reports.forms import ReturnForm, SubmissionForm


@require_GET
def org_page(request, pk):
    """An organisation's report dates of a year: its own versions, and its children's count."""
    org = access.get_org_for_stats(request.user, pk)
    year = year_from(request)
    overview = submissions.overview(org=org, year=year)
    return render(
        request,
        "reports/submission_org.html",
        {
            "org": org,
            "overview": overview,
            "today": submissions.campaign_today(),
            "may_submit": overview.owes and access.can_submit(request.user, org),
            "years": (year - 1, year + 1),
        },
    )


@require_http_methods(["GET", "POST"])
def submit(request, pk, period):
    """报送: the form, with the four tables as they will be frozen."""
    org = access.get_org_for_stats(request.user, pk)
    quarter = submissions.report_period(period)
    if not access.can_submit(request.user, org):
        raise PermissionDenied("只有本组织的活动办公室工作人员或书记可以报送统计表。")
    if not submissions.owes_report(org):
        raise PermissionDenied(f"{org.name}不需向上级报送统计表。")
    posted = request.method == "POST"
    form = SubmissionForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and form.is_valid():
        try:
            submission = submissions.submission_create(
                by=request.user,
                org=org,
                period=quarter,
                report_text=form.cleaned_data["report_text"],
                files=form.cleaned_data["files"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request, f"已报送{quarter.label}统计报表（第{submission.version}版）。"
            )
            return redirect("reports:submission_detail", pk=submission.pk)
    today = submissions.campaign_today()
    versions = submissions.versions_of(org=org, period=quarter.slug)
    latest = versions[-1] if versions else None
    begun = quarter.has_begun(today)
    standing = latest is not None and not latest.is_returned
    return render(
        request,
        "reports/submission_submit.html",
        {
            "org": org,
            "quarter": quarter,
            "form": form,
            "due_on": deadline_for(org=org, kind=submissions.REPORT_KIND, period=quarter).due_on,
            "today": today,
            "latest": latest,
            "begun": begun,
            "tables": submissions.frozen_tables(
                figures=submissions.snapshot(org=org, quarter=quarter)
            )
            if begun and not standing
            else [],
        },
    )


@require_GET
def children(request, pk, period):
    """The parent's page: which children have reported for the quarter, and their reports
    beside the live figures."""
    org = access.get_org_for_stats(request.user, pk)
    quarter = submissions.report_period(period)
    statuses = submissions.children_status(parent=org, quarter=quarter)
    tables = (
        submissions.comparison(parent=org, quarter=quarter, statuses=statuses) if statuses else []
    )
    return render(
        request,
        "reports/submission_children.html",
        {
            "org": org,
            "quarter": quarter,
            "statuses": statuses,
            "done": sum(1 for s in statuses if s.is_done),
            "returned": sum(1 for s in statuses if s.is_returned),
            "missing": [s for s in statuses if not s.is_done],
            "tables": tables,
            "may_return": bool(statuses) and access.can_return(request.user, statuses[0].org),
        },
    )


@require_GET
def detail(request, pk):
    """One submission read-only: its tables, report, attachments, and every version's history."""
    submission = submissions.get_submission_for_user(request.user, pk)
    org = submission.org
    versions = submissions.versions_of(org=org, period=submission.period)
    is_latest = versions[-1].pk == submission.pk
    return render(
        request,
        "reports/submission_detail.html",
        {
            "submission": submission,
            "org": org,
            "quarter": submission.period_obj,
            "versions": versions,
            "is_latest": is_latest,
            "attachments": list(submission.attachments.order_by("pk")),
            "tables": submissions.frozen_tables(figures=submission.figures),
            "digest_ok": submissions.digest_of(submission.figures) == submission.digest,
            "may_return": is_latest
            and not submission.is_returned
            and access.can_return(request.user, org),
            "may_resubmit": is_latest
            and submission.is_returned
            and access.can_submit(request.user, org),
            "reads_parent": org.parent is not None
            and access.can_read_stats(request.user, org.parent),
        },
    )


@require_http_methods(["GET", "POST"])
def return_submission(request, pk):
    """退回: a confirmation page that asks for the reason."""
    submission = submissions.get_submission_for_user(request.user, pk)
    if not access.can_return(request.user, submission.org):
        raise PermissionDenied("只有上级组织的活动办公室工作人员或书记可以退回报送。")
    form = ReturnForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            submissions.submission_return(
                by=request.user, submission=submission, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request, f"已退回{submission.org.name}的第{submission.version}版报送。"
            )
            return redirect("reports:submission_detail", pk=submission.pk)
    versions = submissions.versions_of(org=submission.org, period=submission.period)
    return render(
        request,
        "reports/submission_return.html",
        {
            "submission": submission,
            "org": submission.org,
            "quarter": submission.period_obj,
            "form": form,
            "returnable": versions[-1].pk == submission.pk and not submission.is_returned,
        },
    )


@require_GET
def attachment(request, pk):
    item = submissions.get_attachment_for_user(request.user, pk)
    # An upload is the user's content, not the site's: a download, never rendered in our origin.
    response = FileResponse(
        item.file.open("rb"),
        as_attachment=True,
        filename=item.name,
        content_type=submissions.file_type_of(item).content_type,
    )
    response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response
