"""The running secretary's pages of a session: the list, the plan, the session itself, its steps
and the subjects' statements. Slips (views_slips), paper sheets (views_paper), results
(views_results) and the public voting page (views_ballot) have modules of their own."""

from __future__ import annotations

import segno
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgs.access import Action, can, get_org_for_user
from orgs.feedback import show_refusal
from orgs.form_helpers import apply_errors, first_error
from orgs.pager import page_of
from orgs.periods import parse_year
from reviews.appraisal import selectors, services
from reviews.appraisal.access import (
    can_plan_appraisal,
    can_run_appraisal,
    can_view_appraisal,
    can_write_statement,
    get_appraisal_for_user,
    get_subject_for_user,
)
from reviews.appraisal.forms import CreateForm, ExclusionForm, PlanForm, RestoreForm, StatementForm
from reviews.appraisal.models import SMALL_GROUP, Appraisal
from reviews.appraisal.views_ballot import vote_url

LIST_PAGE = 50


def _detail(appraisal: Appraisal):
    return redirect("appraisal:detail", pk=appraisal.pk)


def _small_groups_text(labels: list[str]) -> str:
    return (
        f"{'、'.join(labels)}应参加人数少于 {SMALL_GROUP} 人：为保护投票秘密，"
        "该类别的评价不单独显示，只计入每个评议对象的合计。"
    )


def _warn_small_groups(request, appraisal: Appraisal) -> None:
    if appraisal.small_expected_groups:
        messages.warning(request, _small_groups_text(appraisal.small_expected_groups))


@require_GET
def org_list(request, org_pk):
    """The organisation's sessions and, for a reading role over it (an upper level, an office),
    those of its whole subtree: paged, filtered by year."""
    org = get_org_for_user(request.user, org_pk)
    year = parse_year(request.GET.get("year"))
    subtree = can(request.user, Action.EXPORT, org)  # a reading role covering the subtree
    if subtree:
        found = selectors.subtree_appraisals(org=org, year=year)
        years = selectors.subtree_years(org=org)
    else:
        found = selectors.org_appraisals(org=org)
        found = found.filter(year=year) if year else found
        years = []
    page = page_of(request, found, per_page=LIST_PAGE)
    return render(
        request,
        "reviews/appraisal/list.html",
        {
            "org": org,
            "page": page,
            "appraisals": page.object_list,
            "subtree": subtree,
            "year": year,
            "years": years,
            "may_create": can_plan_appraisal(request.user, org) and bool(selectors.kinds_for(org)),
            "may_configure": can(request.user, Action.CONFIGURE, org),
            "may_export": can(request.user, Action.EXPORT, org),
        },
    )


@require_http_methods(["GET", "POST"])
def create(request, org_pk):
    org = get_org_for_user(request.user, org_pk, Action.EDIT)
    kinds = selectors.kinds_for(org)
    if not kinds:
        raise PermissionDenied("该组织既没有党员也没有下级基层党组织，无需组织民主评议。")
    form = CreateForm(request.POST or None, kinds=kinds)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            appraisal = services.appraisal_create(
                by=request.user, org=org, kind=data.pop("kind"), year=data.pop("year"), **data
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "评议方案已制定，评议对象已按名册列出。")
            _warn_small_groups(request, appraisal)
            return _detail(appraisal)
    return render(
        request,
        "reviews/appraisal/plan_form.html",
        {"form": form, "org": org, "title": f"{org.name} · 制定民主评议方案"},
    )


@require_GET
def detail(request, pk):
    appraisal = get_appraisal_for_user(request.user, pk)
    runner = can_run_appraisal(request.user, appraisal)
    context = {
        "appraisal": appraisal,
        "runner": runner,
        "subjects": selectors.subjects(appraisal=appraisal).select_related("member"),
        "events": selectors.session_events(appraisal=appraisal),
        "expected": [(g.label, appraisal.expected(str(g))) for g in appraisal.groups],
        "excluded": sorted(appraisal.excluded.items(), key=lambda item: item[1]["name"]),
        "small_groups_note": _small_groups_text(appraisal.small_expected_groups)
        if runner and appraisal.small_expected_groups and not appraisal.is_counted
        else "",
    }
    if runner and appraisal.uses_codes:
        url = vote_url(request, appraisal)
        issued, used = selectors.slip_counts(appraisal=appraisal)
        context.update(
            vote_url=url,
            vote_qr=segno.make(url, error="m").svg_inline(scale=3),
            slips_issued=issued,
            slips_used=used,
        )
    return render(request, "reviews/appraisal/detail.html", context)


@require_http_methods(["GET", "POST"])
def edit(request, pk):
    appraisal = get_appraisal_for_user(request.user, pk, Action.EDIT)
    initial = {name: getattr(appraisal, name) for name in services.PLAN_FIELDS}
    form = PlanForm(request.POST or None, initial=initial, kind=appraisal.kind)
    if request.method == "POST" and form.is_valid():
        try:
            services.appraisal_update(by=request.user, appraisal=appraisal, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "评议方案已修改。")
            _warn_small_groups(request, appraisal)
            return _detail(appraisal)
    return render(
        request,
        "reviews/appraisal/plan_form.html",
        {
            "form": form,
            "org": appraisal.org,
            "appraisal": appraisal,
            "title": "修改评议方案",
            "small_groups_note": _small_groups_text(appraisal.small_expected_groups)
            if appraisal.small_expected_groups
            else "",
        },
    )


def _act(request, appraisal, action, done: str) -> HttpResponse:
    """Run a service step, say how it went, and go back to the session."""
    try:
        action()
    except ValidationError as error:
        show_refusal(request, error)
    else:
        messages.success(request, done)
    return _detail(appraisal)


@require_POST
def exclude(request, pk):
    subject = get_subject_for_user(request.user, pk, Action.EDIT)
    form = ExclusionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"“{subject.name}”的{first_error(form)}")
        return _detail(subject.appraisal)
    return _act(
        request,
        subject.appraisal,
        lambda: services.subject_exclude(by=request.user, subject=subject, **form.cleaned_data),
        f"“{subject.name}”暂缓评议。",
    )


@require_POST
def restore(request, pk):
    appraisal = get_appraisal_for_user(request.user, pk, Action.EDIT)
    form = RestoreForm(request.POST, excluded=appraisal.excluded)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return _detail(appraisal)
    return _act(
        request,
        appraisal,
        lambda: services.subject_restore(by=request.user, appraisal=appraisal, **form.cleaned_data),
        "已恢复评议。",
    )


@require_POST
def advance(request, pk):
    appraisal = get_appraisal_for_user(request.user, pk, Action.EDIT)
    step = "公开述职" if appraisal.is_planned else "组织评议（开始投票）"
    return _act(
        request,
        appraisal,
        lambda: services.appraisal_advance(by=request.user, appraisal=appraisal),
        f"已进入“{step}”阶段。",
    )


@require_POST
def close(request, pk):
    appraisal = get_appraisal_for_user(request.user, pk, Action.EDIT)
    return _act(
        request,
        appraisal,
        lambda: services.appraisal_close(by=request.user, appraisal=appraisal),
        "评议已结束，计票完成。",
    )


@require_http_methods(["GET", "POST"])
def statement(request, pk):
    """A subject's 述职, read by everyone who sees the session, written by the subject (or its
    secretary) and the running secretary."""
    subject = get_subject_for_user(request.user, pk)
    writer = can_write_statement(request.user, subject)
    if request.method == "POST" and not writer:
        raise PermissionDenied("只有评议对象本人（本组织书记）或组织评议的书记可以填写述职。")
    form = StatementForm(request.POST or None, initial={"statement": subject.statement})
    if request.method == "POST" and form.is_valid():
        try:
            services.statement_save(
                by=request.user, subject=subject, text=form.cleaned_data["statement"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"“{subject.name}”的述职已保存。")
            if can_view_appraisal(request.user, subject.appraisal):
                return _detail(subject.appraisal)
            return redirect("appraisal:statement", pk=subject.pk)
    return render(
        request,
        "reviews/appraisal/statement.html",
        {
            "subject": subject,
            "appraisal": subject.appraisal,
            "form": form,
            "pledges": selectors.subject_pledges(subject=subject, public_only=not writer),
            "open": writer and subject.appraisal.accepts_statements,
        },
    )
