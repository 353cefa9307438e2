"""Results: the counted session, the committee's grades, publication; and across a subtree the
评先评优 suggestions and the grade rule an office sets."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgs.access import Action, get_org_for_user
from orgs.feedback import show_refusal
from orgs.form_helpers import apply_errors
from orgs.pager import page_of
from orgs.periods import YEAR_MAX, YEAR_MIN, year_from
from reviews.appraisal import rules, selectors, services
from reviews.appraisal.access import can_view_results, get_appraisal_for_user
from reviews.appraisal.forms import DecisionForm, PublishForm, RuleForm
from reviews.appraisal.models import ResultGrade


def _results(appraisal):
    return redirect("appraisal:results", pk=appraisal.pk)


def _decide_key(appraisal) -> str:
    return f"appraisal_decide:{appraisal.pk}"


@require_GET
def results(request, pk):
    appraisal = get_appraisal_for_user(request.user, pk)
    if not appraisal.is_counted:
        raise Http404("评议尚未结束，结果在计票后才能查看。")
    if not can_view_results(request.user, appraisal):
        raise PermissionDenied("评议结果尚未公开。")
    context = selectors.results(appraisal=appraisal, user=request.user)
    runner = context["runner"]
    entered = request.session.pop(_decide_key(appraisal), None)
    for row in context["rows"]:
        subject = row.subject
        if entered is not None:
            row.grade_value = entered.get(f"grade_{subject.pk}", "")
            row.reason_value = entered.get(f"reason_{subject.pk}", "")
        else:
            row.grade_value = subject.final_grade or subject.suggested_grade
            row.reason_value = subject.override_reason
    deciding = runner and appraisal.is_closed and appraisal.appraises_members
    context.update(
        appraisal=appraisal,
        grades=ResultGrade.choices,
        deciding=deciding,
        undecided_suggested=deciding
        and any(row.subject.awaits_suggested_grade for row in context["rows"]),
        turnout_warning=services.turnout_warning(appraisal, context["thresholds"])
        if runner and appraisal.is_closed
        else "",
    )
    return render(request, "reviews/appraisal/results.html", context)


@require_POST
def decide(request, pk):
    appraisal = get_appraisal_for_user(request.user, pk, Action.EDIT)
    form = DecisionForm(request.POST, subjects=selectors.subjects(appraisal=appraisal))
    try:
        if not form.is_valid():
            raise ValidationError(
                [
                    f"{form.fields[name].label}：{e}"
                    for name, errs in form.errors.items()
                    for e in errs
                ]
            )
        n = services.results_decide(
            by=request.user, appraisal=appraisal, decisions=form.decisions()
        )
    except ValidationError as error:
        show_refusal(request, error)
        # keep what was entered: the results page fills the form from it
        request.session[_decide_key(appraisal)] = form.entered()
    else:
        messages.success(request, f"已认定 {n} 名党员的评议结果。" if n else "没有变化。")
    return _results(appraisal)


@require_POST
def adopt(request, pk):
    """采用全部建议: the committee takes every suggested grade, then changes the exceptions."""
    appraisal = get_appraisal_for_user(request.user, pk, Action.EDIT)
    try:
        n = services.results_adopt_suggested(by=request.user, appraisal=appraisal)
    except ValidationError as error:
        show_refusal(request, error)
    else:
        if n:
            messages.success(
                request, f"已为 {n} 名党员采用建议等次。与建议不同的，请逐个修改并填写理由后保存。"
            )
        else:
            messages.info(request, "没有待认定且有建议等次的党员。")
    return _results(appraisal)


@require_POST
def publish(request, pk):
    appraisal = get_appraisal_for_user(request.user, pk, Action.EDIT)
    form = PublishForm(request.POST)
    form.is_valid()  # a tick box: never invalid, and unticked unless the box was ticked
    try:
        services.appraisal_publish(by=request.user, appraisal=appraisal, **form.cleaned_data)
    except ValidationError as error:
        show_refusal(request, error)
    else:
        messages.success(request, "评议结果已公开。")
    return _results(appraisal)


@require_GET
def candidates(request, org_pk):
    """评先评优 suggestions from the year's published appraisals in the subtree."""
    org = get_org_for_user(request.user, org_pk, Action.EXPORT)
    year = year_from(request)
    found = selectors.commendation_candidates(root=org, year=year)
    return render(
        request,
        "reviews/appraisal/candidates.html",
        {
            "org": org,
            "year": year,
            "year_min": YEAR_MIN,
            "year_max": YEAR_MAX,
            "page": page_of(request, found.members),
            "orgs": found.orgs,
            "thresholds": found.thresholds,
        },
    )


@require_http_methods(["GET", "POST"])
def rule(request, org_pk):
    org = get_org_for_user(request.user, org_pk, Action.CONFIGURE)
    year = year_from(request)
    form = None
    if request.method == "POST":
        form = RuleForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            year = data.pop("year")
            try:
                services.rule_set(by=request.user, org=org, year=year, **data)
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, f"已设置{year}年评议结果等次规则。")
                return redirect(reverse("appraisal:rule", args=[org.pk]) + f"?year={year}")
        year = form.cleaned_data.get("year") or year  # the page for the year typed, if valid
    current = rules.thresholds_for(org=org, year=year)
    if form is None:
        form = RuleForm(initial={"year": year, **{n: getattr(current, n) for n in rules.FIELDS}})
    return render(
        request,
        "reviews/appraisal/rule.html",
        {"org": org, "form": form, "current": current, "year": year},
    )
