"""The pages of the 党组织书记公开承诺书: the letter of an organisation and year, the secretary's
signing and quarterly reports, the upper organisation's 审定意见 and the subtree's 台账."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgs import access as org_access
from orgs.access import Action
from orgs.feedback import show_refusal
from orgs.form_helpers import apply_errors
from orgs.pager import page_of
from orgs.periods import QUARTER, Period, year_or_404
from pledges import access, letters, selectors
from pledges.access import LetterAction
from pledges.forms import SecretaryPledgeForm, SecretaryReportForm, SecretaryReviewForm

LETTER_FIELDS = ("post", "term_start", "contact", "content")


def _back(letter):
    return redirect("pledges:secretary_pledge", org_pk=letter.org_id, year=letter.year)


@require_http_methods(["GET", "POST"])
def secretary_pledge(request, org_pk, year):
    org = org_access.get_org_for_user(request.user, org_pk, Action.EXPORT)
    year_or_404(year)
    sp = selectors.letter_of(org=org, year=year)
    is_secretary = access.can_write_letter(request.user, org)
    editable = is_secretary and (sp is None or sp.is_editable)
    initial = {}
    if sp:
        initial = {name: getattr(sp, name) for name in LETTER_FIELDS}
    elif org.secretary:
        initial = {"post": org.secretary.post or f"{org.name}书记"}
    form = SecretaryPledgeForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not editable:
            raise PermissionDenied("书记公开承诺书由书记本人填写，提交后不能修改。")
        if form.is_valid():
            try:
                sp = letters.secretary_pledge_save(
                    by=request.user, org=org, year=year, **form.cleaned_data
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, "已保存。确认后请签字提交上级党组织审定。")
                return redirect("pledges:secretary_pledge", org_pk=org.pk, year=year)
    return render(
        request,
        "pledges/secretary_pledge.html",
        {
            "org": org,
            "year": year,
            "sp": sp,
            "form": form,
            "editable": editable,
            "is_secretary": is_secretary,
            "may_review": sp is not None and access.can_review_letter(request.user, sp),
            "reports": sp.reports.all() if sp else [],
            "events": sp.events.select_related("actor") if sp else [],
        },
    )


@require_POST
def secretary_submit(request, pk):
    sp = access.get_letter_for_user(request.user, pk, LetterAction.SIGN)
    try:
        letters.secretary_pledge_submit(by=request.user, sp=sp)
    except ValidationError as error:
        show_refusal(request, error)
    else:
        messages.success(request, "已签字提交上级党组织审定。")
    return _back(sp)


@require_http_methods(["GET", "POST"])
def secretary_review(request, pk):
    sp = access.get_letter_for_user(request.user, pk, LetterAction.REVIEW)
    form = SecretaryReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            letters.secretary_pledge_review(
                by=request.user, sp=sp, approve=form.cleaned_data["decision"] == "approve",
                opinion=form.cleaned_data["opinion"],
            )  # fmt: skip
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已填写审定意见。")
            return _back(sp)
    return render(request, "pledges/secretary_review.html", {"form": form, "sp": sp})


@require_http_methods(["GET", "POST"])
def secretary_report(request, pk):
    sp = access.get_letter_for_user(request.user, pk, LetterAction.SIGN)
    today = timezone.localdate()
    current = Period.containing(today, QUARTER).number if today.year == sp.year else 4
    form = SecretaryReportForm(request.POST or None, year=sp.year, initial={"quarter": current})
    if request.method == "POST" and form.is_valid():
        try:
            letters.secretary_report_save(by=request.user, sp=sp, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已报送本季度落实情况。")
            return _back(sp)
    return render(request, "pledges/secretary_report.html", {"form": form, "sp": sp})


@require_GET
def secretary_ledger(request, org_pk, year):
    """台账: every secretary's pledge letter in the subtree, with its quarterly reports."""
    org = org_access.get_org_for_user(request.user, org_pk, Action.EXPORT)
    year_or_404(year)
    letters_page = page_of(request, selectors.letters_within(org=org, year=year))
    return render(
        request,
        "pledges/secretary_ledger.html",
        {"org": org, "year": year, "page": letters_page, "today": timezone.localdate()},
    )
