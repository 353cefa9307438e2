"""Slips (选票码): the page that prints a batch as a PDF, and voiding a lost batch. The codes exist
only in the PDF handed out; the page never keeps them (no cache, no error report). A batch of more
than 50 is printed by a background job (reviews.appraisal.jobs), whose PDF only the user who asked
may download, for a short time."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from orgs.access import Action
from orgs.feedback import show_refusal
from orgs.form_helpers import apply_errors
from reviews.appraisal import jobs, selectors, services
from reviews.appraisal.access import get_appraisal_for_user
from reviews.appraisal.forms import SlipForm, VoidForm
from reviews.appraisal.models import SMALL_GROUP, Appraisal
from reviews.appraisal.views_ballot import vote_url


@never_cache
@require_http_methods(["GET", "POST"])
@sensitive_variables()  # the codes pass through this frame and the ones below it
def slips(request, pk):
    appraisal = get_appraisal_for_user(request.user, pk, Action.EDIT)
    form = SlipForm(request.POST or None, groups=appraisal.groups)
    if request.method == "POST" and form.is_valid():
        group, count = form.cleaned_data["group"], form.cleaned_data["count"]
        if count > jobs.SLIPS_JOB_THRESHOLD:
            try:
                job = jobs.slips_print_start(
                    by=request.user,
                    appraisal=appraisal,
                    group=group,
                    count=count,
                    url=vote_url(request, appraisal),
                )
            except ValidationError as error:
                apply_errors(form, error)  # a batch already being printed: say so, keep the form
            else:
                return redirect("jobs:detail", pk=job.pk)
        else:
            try:
                # the PDF is made before the slips are saved: if it fails, none is stored
                pdf, name = services.slips_issue(
                    by=request.user,
                    appraisal=appraisal,
                    group=group,
                    count=count,
                    render=lambda issued: _slips_pdf(request, appraisal, group, issued),
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                response = HttpResponse(pdf, content_type="application/pdf")
                response["Content-Disposition"] = f'attachment; filename="{name}"'
                response["Cache-Control"] = "no-store"
                return response
    return render(
        request,
        "reviews/appraisal/slips.html",
        {
            "appraisal": appraisal,
            "small_groups": selectors.small_slip_groups(appraisal=appraisal),
            "small": SMALL_GROUP,
            "form": form,
            "void_form": VoidForm(),
            "batches": selectors.session_events(appraisal=appraisal, actions=["slips", "void"]),
            "job_threshold": jobs.SLIPS_JOB_THRESHOLD,
            "file_hours": jobs.SLIPS_FILE_HOURS,
        },
    )


@sensitive_variables()
def _slips_pdf(request, appraisal: Appraisal, group: str, issued) -> tuple[bytes, str]:
    """The printed slips of a small batch, made in the request (reviews.appraisal.jobs)."""
    pdf = jobs.slips_pdf(appraisal, group, issued, url=vote_url(request, appraisal))
    return pdf, jobs.slips_filename(appraisal, issued)


@require_POST
def void(request, pk):
    appraisal = get_appraisal_for_user(request.user, pk, Action.EDIT)
    form = VoidForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写要作废的起止编号。")
        return redirect("appraisal:slips", pk=appraisal.pk)
    try:
        n = services.slips_void(by=request.user, appraisal=appraisal, **form.cleaned_data)
    except ValidationError as error:
        show_refusal(request, error)
    else:
        messages.success(request, f"已作废 {n} 张未使用的选票码。")
    return redirect("appraisal:slips", pk=appraisal.pk)
