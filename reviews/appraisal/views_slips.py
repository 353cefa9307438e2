"""Slips (选票码): the page that prints a batch as a PDF, and voiding a lost batch. The codes exist
only in the PDF handed out; the page never keeps them (no cache, no error report)."""

from __future__ import annotations

import base64
import io

import segno
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from orgs.access import Action
from orgs.feedback import show_refusal
from orgs.form_helpers import apply_errors
from reviews.appraisal import selectors, services
from reviews.appraisal.access import get_appraisal_for_user
from reviews.appraisal.forms import SlipForm, VoidForm
from reviews.appraisal.models import SMALL_GROUP, Appraisal, Group
from reviews.appraisal.views_ballot import vote_url


@never_cache
@require_http_methods(["GET", "POST"])
@sensitive_variables()  # the codes pass through this frame and the ones below it
def slips(request, pk):
    appraisal = get_appraisal_for_user(request.user, pk, Action.EDIT)
    form = SlipForm(request.POST or None, groups=appraisal.groups)
    if request.method == "POST" and form.is_valid():
        group = form.cleaned_data["group"]
        try:
            # the PDF is made before the slips are saved: if it fails, none is stored
            pdf, name = services.slips_issue(
                by=request.user,
                appraisal=appraisal,
                group=group,
                count=form.cleaned_data["count"],
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
        },
    )


def _png(text: str) -> str:
    stream = io.BytesIO()
    segno.make(text, error="m").save(stream, kind="png", scale=4, border=1)
    return "data:image/png;base64," + base64.b64encode(stream.getvalue()).decode()


@sensitive_variables()
def _slips_pdf(request, appraisal: Appraisal, group: str, issued) -> tuple[bytes, str]:
    """The printed slips. Each carries two QR codes: the voting page's address (no code in it)
    and the code alone, which the page's scanner reads; both are also printed as text."""
    from weasyprint import HTML

    url = vote_url(request, appraisal)
    link_qr = _png(url)
    slips = [{"serial": f"{serial:04d}", "code": code, "qr": _png(code)} for serial, code in issued]
    rows = [slips[i : i + 2] for i in range(0, len(slips), 2)]
    html = render_to_string(
        "reviews/appraisal/slips_print.html",
        {
            "appraisal": appraisal,
            "rows": rows,
            "group": Group(group).label,
            "url": url,
            "link_qr": link_qr,
        },
    )
    pdf = HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()
    name = f"slips-{appraisal.public_id}-{issued[0][0]:04d}-{issued[-1][0]:04d}.pdf"
    return pdf, name


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
