"""Appraisal pages. The voting page (`ballot`) is the one public route; codes and choices travel
only in POST bodies (a scanned slip puts the code after '#', which browsers never send)."""

from __future__ import annotations

import base64
import hashlib
import io
import re

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgs import access
from orgs.access import Action
from orgs.form_helpers import apply_errors, first_error
from orgs.http import client_address
from orgs.throttle import throttle_hit, throttle_retry_after
from reviews.appraisal import codes, rules, selectors, services
from reviews.appraisal.forms import (
    CreateForm,
    DecisionForm,
    ExclusionForm,
    GroupForm,
    PaperForm,
    PlanForm,
    PublishForm,
    RestoreForm,
    RuleForm,
    SlipForm,
    StatementForm,
    VoidForm,
)
from reviews.appraisal.models import (
    EVENT_LABELS,
    SMALL_GROUP,
    Appraisal,
    AppraisalKind,
    AppraisalState,
    Group,
    PaperCount,
    PaperEntry,
    ResultGrade,
    Slip,
)

# Wrong codes within FAILURE_WINDOW seconds: from one address (a meeting's Wi-Fi may be one), and
# for one serial from one address. The 60-bit secret is what stops guessing; these stop floods.
ADDRESS_LIMIT = 100
SERIAL_LIMIT = 10
FAILURE_WINDOW = 600


def _runner_or_403(user, appraisal: Appraisal) -> None:
    if not services.may_run(user, appraisal):
        raise PermissionDenied(f"只有{appraisal.org.name}的书记或副书记可以进行此操作。")


def _events(events) -> list:
    rows = list(events)
    for e in rows:
        e.who = (e.actor.get_full_name() or e.actor.username) if e.actor else "系统"
        e.label = EVENT_LABELS.get(e.action, e.action)
    return rows


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


def _vote_url(request, appraisal: Appraisal) -> str:
    return request.build_absolute_uri(reverse("vote:ballot", args=[appraisal.public_id]))


LIST_PAGE = 50


def _year_param(request) -> int | None:
    try:
        year = int(request.GET.get("year") or 0)
    except ValueError:
        return None
    return year if 2001 <= year <= 2099 else None


@require_GET
def org_list(request, org_pk):
    """The organisation's sessions and, for a reading role over it (an upper level, an office),
    those of its whole subtree: paged, filtered by year."""
    org = access.get_org_for_user(request.user, org_pk)
    year = _year_param(request)
    subtree = access.can(request.user, Action.EXPORT, org)  # a reading role covering the subtree
    if subtree:
        found = selectors.subtree_appraisals(org=org, year=year)
        years = selectors.subtree_years(org=org)
    else:
        found = selectors.org_appraisals(org=org)
        found = found.filter(year=year) if year else found
        years = []
    page = Paginator(found, LIST_PAGE).get_page(request.GET.get("page"))
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
            "query": f"year={year}" if year else "",
            "may_create": access.can(request.user, Action.EDIT, org)
            and bool(services.kinds_for(org)),
            "may_configure": access.can(request.user, Action.CONFIGURE, org),
            "may_export": access.can(request.user, Action.EXPORT, org),
        },
    )


@require_GET
def candidates(request, org_pk):
    """评先评优 suggestions from the year's published appraisals in the subtree."""
    org = access.get_org_for_user(request.user, org_pk, Action.EXPORT)
    try:
        year = int(request.GET.get("year") or timezone.localdate().year)
    except ValueError:
        year = timezone.localdate().year
    year = min(max(year, 2001), 2099)
    found = selectors.commendation_candidates(root=org, year=year)
    page = Paginator(found["members"], 50).get_page(request.GET.get("page"))
    return render(
        request,
        "reviews/appraisal/candidates.html",
        {
            "org": org,
            "year": year,
            "page": page,
            "orgs": found["orgs"],
            "thresholds": found["thresholds"],
            "query": f"year={year}",
        },
    )


@require_http_methods(["GET", "POST"])
def create(request, org_pk):
    org = access.get_org_for_user(request.user, org_pk, Action.EDIT)
    kinds = services.kinds_for(org)
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
    appraisal = selectors.get_appraisal_or_404(request.user, pk)
    runner = services.may_run(request.user, appraisal)
    slips = Slip.objects.filter(appraisal=appraisal)
    context = {
        "appraisal": appraisal,
        "runner": runner,
        "subjects": selectors.subjects(appraisal=appraisal).select_related("member"),
        "events": _events(appraisal.events.select_related("actor")),
        "states": AppraisalState.choices,
        "expected": [(g.label, appraisal.expected(str(g))) for g in appraisal.groups],
        "excluded": sorted(appraisal.excluded.items(), key=lambda item: item[1]["name"]),
        "small_groups_note": _small_groups_text(appraisal.small_expected_groups)
        if runner
        and appraisal.small_expected_groups
        and not appraisal.reached(AppraisalState.CLOSED)
        else "",
    }
    if runner and appraisal.uses_codes:
        url = _vote_url(request, appraisal)
        context.update(
            vote_url=url,
            vote_qr=segno.make(url, error="m").svg_inline(scale=3),
            slips_issued=slips.filter(voided=False).count(),
            slips_used=slips.filter(used=True).count(),
        )
    return render(request, "reviews/appraisal/detail.html", context)


@require_http_methods(["GET", "POST"])
def edit(request, pk):
    appraisal = selectors.get_appraisal_or_404(request.user, pk)
    _runner_or_403(request.user, appraisal)
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


def _act(request, appraisal, action, done: str):
    try:
        action()
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return _detail(appraisal)


@require_POST
def exclude(request, pk):
    subject = selectors.get_subject_or_404(request.user, pk)
    appraisal = subject.appraisal
    _runner_or_403(request.user, appraisal)
    form = ExclusionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"“{subject.name}”的{first_error(form)}")
        return _detail(appraisal)
    return _act(
        request,
        appraisal,
        lambda: services.subject_exclude(by=request.user, subject=subject, **form.cleaned_data),
        f"“{subject.name}”暂缓评议。",
    )


def _runner_step(request, pk, step, done) -> HttpResponse:
    """A state change by the running secretary: `step(appraisal)`, then back to the session."""
    appraisal = selectors.get_appraisal_or_404(request.user, pk)
    _runner_or_403(request.user, appraisal)
    message = done(appraisal) if callable(done) else done
    return _act(request, appraisal, lambda: step(appraisal), message)


@require_POST
def restore(request, pk):
    appraisal = selectors.get_appraisal_or_404(request.user, pk)
    _runner_or_403(request.user, appraisal)
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
    return _runner_step(
        request,
        pk,
        lambda a: services.appraisal_advance(by=request.user, appraisal=a),
        lambda a: "已进入“{}”阶段。".format(
            "公开述职" if a.state == AppraisalState.PLAN else "组织评议（开始投票）"
        ),
    )


@require_POST
def close(request, pk):
    return _runner_step(
        request,
        pk,
        lambda a: services.appraisal_close(by=request.user, appraisal=a),
        "评议已结束，计票完成。",
    )


@require_POST
def publish(request, pk):
    appraisal = selectors.get_appraisal_or_404(request.user, pk)
    _runner_or_403(request.user, appraisal)
    form = PublishForm(request.POST)
    form.is_valid()  # a tick box: never invalid, and unticked unless the box was ticked
    try:
        services.appraisal_publish(by=request.user, appraisal=appraisal, **form.cleaned_data)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("appraisal:results", pk=appraisal.pk)
    messages.success(request, "评议结果已公开。")
    return redirect("appraisal:results", pk=appraisal.pk)


@require_http_methods(["GET", "POST"])
def statement(request, pk):
    """A subject's 述职, read by everyone who sees the session, written by the subject (or its
    secretary) and the running secretary."""
    subject = selectors.get_subject_or_404(request.user, pk)
    writer = services.may_state(request.user, subject)
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
            if selectors.may_view(request.user, subject.appraisal):
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
            "open": writer
            and subject.appraisal.state in (AppraisalState.STATEMENTS, AppraisalState.VOTING),
        },
    )


# ---------------------------------------------------------------- slips


@never_cache
@require_http_methods(["GET", "POST"])
@sensitive_variables()  # the codes pass through this frame and the ones below it
def slips(request, pk):
    appraisal = selectors.get_appraisal_or_404(request.user, pk)
    _runner_or_403(request.user, appraisal)
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
            "batches": _events(
                appraisal.events.filter(action__in=["slips", "void"]).select_related("actor")
            ),
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

    url = _vote_url(request, appraisal)
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
    appraisal = selectors.get_appraisal_or_404(request.user, pk)
    _runner_or_403(request.user, appraisal)
    form = VoidForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写要作废的起止编号。")
        return redirect("appraisal:slips", pk=appraisal.pk)
    try:
        n = services.slips_void(by=request.user, appraisal=appraisal, **form.cleaned_data)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, f"已作废 {n} 张未使用的选票码。")
    return redirect("appraisal:slips", pk=appraisal.pk)


# ---------------------------------------------------------------- paper sheets


@require_http_methods(["GET", "POST"])
def paper(request, pk):
    appraisal = selectors.get_appraisal_or_404(request.user, pk)
    if not services.may_count(request.user, appraisal):
        raise PermissionDenied("只有本组织书记、副书记或党员可以担任计票人。")
    if request.method == "POST":
        group_form = GroupForm(request.POST, groups=appraisal.groups)
        if not group_form.is_valid():  # only a forged request: the page has the group hidden
            messages.error(request, first_error(group_form))
            return redirect("appraisal:paper", pk=appraisal.pk)
        group = group_form.cleaned_data["group"]
    else:
        groups = [str(g) for g in appraisal.groups]
        group = request.GET.get("group") or groups[0]
        if group not in groups:
            raise Http404("参加人员类别有误。")
    subjects = list(selectors.subjects(appraisal=appraisal))
    mine = PaperEntry.objects.filter(appraisal=appraisal, group=group, teller=request.user).first()
    initial = {}
    if mine is not None:
        initial = {k: v for k, v in mine.figures().items() if k != "counts"}
        for subject, cells in zip(subjects, mine.counts, strict=False):
            initial.update({f"c{subject.position}_{j}": c for j, c in enumerate(cells)})
    form = PaperForm(
        request.POST or None, initial=initial, subjects=subjects, scale=appraisal.scale
    )
    outcome = None
    if request.method == "POST" and form.is_valid():
        try:
            outcome = services.paper_enter(
                by=request.user, appraisal=appraisal, group=group, figures=form.figures()
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            text = {
                "waiting": "已保存。请另一位计票人独立录入，两次一致后计入结果。",
                "mismatch": "已保存，但与另一位计票人的录入不一致，请共同核对纸质评议表后更正。",
                "confirmed": "两位计票人录入一致，已计入评议结果。",
            }[outcome["state"]]
            (messages.success if outcome["state"] != "mismatch" else messages.error)(request, text)
            if outcome["state"] != "mismatch":
                return redirect(reverse("appraisal:paper", args=[appraisal.pk]) + f"?group={group}")
    entries = PaperEntry.objects.filter(appraisal=appraisal).select_related("teller")
    counts = {c.group: c for c in PaperCount.objects.filter(appraisal=appraisal)}
    refusal = services.teller_refusal(request.user, appraisal)
    pair_refusal = ""
    if not refusal and appraisal.state == AppraisalState.VOTING and str(group) not in counts:
        pair_refusal = services.co_teller_refusal(request.user, appraisal, group)
    status = []
    for g in appraisal.groups:
        tellers = [e.teller.get_full_name() or e.teller.username for e in entries if e.group == g]
        status.append({"group": g, "tellers": tellers, "count": counts.get(str(g))})
    differences = []
    if outcome is None and mine is not None and str(group) not in counts:
        other = next(
            (e for e in entries if e.group == group and e.teller_id != mine.teller_id), None
        )
        if other is not None:
            names = [s.name for s in subjects]
            differences = services.paper_differences(mine, other, names)
    elif outcome is not None:
        differences = outcome["differences"]
    return render(
        request,
        "reviews/appraisal/paper.html",
        {
            "appraisal": appraisal,
            "form": form,
            "group": group,
            "group_label": Group(group).label,
            "groups": appraisal.groups,
            "status": status,
            "confirmed": counts.get(group),
            "differences": differences,
            "labels": list(appraisal.scale) + ["弃权"],
            "runner": services.may_run(request.user, appraisal),
            "refusal": refusal,
            "pair_refusal": pair_refusal,
        },
    )


@require_POST
def paper_discard(request, pk):
    appraisal = selectors.get_appraisal_or_404(request.user, pk)
    _runner_or_403(request.user, appraisal)
    form = GroupForm(request.POST, groups=appraisal.groups)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect("appraisal:paper", pk=appraisal.pk)
    group = form.cleaned_data["group"]
    try:
        n = services.paper_discard(by=request.user, appraisal=appraisal, group=group)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, f"已清除 {n} 份未核对的录入，请重新录入。")
    return redirect(reverse("appraisal:paper", args=[appraisal.pk]) + f"?group={group}")


# ---------------------------------------------------------------- results


@require_GET
def results(request, pk):
    appraisal = selectors.get_appraisal_or_404(request.user, pk)
    if not appraisal.reached(AppraisalState.CLOSED):
        raise Http404("评议尚未结束，结果在计票后才能查看。")
    runner = services.may_run(request.user, appraisal)
    if appraisal.state == AppraisalState.CLOSED and not runner:
        raise PermissionDenied("评议结果尚未公开。")
    context = selectors.results(appraisal=appraisal, user=request.user)
    entered = request.session.pop(f"appraisal_decide:{appraisal.pk}", None)
    for row in context["rows"]:
        subject = row["subject"]
        if entered is not None:
            row["grade_value"] = entered.get(f"grade_{subject.pk}", "")
            row["reason_value"] = entered.get(f"reason_{subject.pk}", "")
        else:
            row["grade_value"] = subject.final_grade or subject.suggested_grade
            row["reason_value"] = subject.override_reason
    deciding = runner and appraisal.is_closed and appraisal.kind == AppraisalKind.MEMBER
    context.update(
        appraisal=appraisal,
        grades=ResultGrade.choices,
        deciding=deciding,
        undecided_suggested=deciding
        and any(
            not row["subject"].final_grade and row["subject"].suggested_grade
            for row in context["rows"]
        ),
        turnout_warning=services.turnout_warning(appraisal, context["thresholds"])
        if runner and appraisal.is_closed
        else "",
    )
    return render(request, "reviews/appraisal/results.html", context)


@require_POST
def decide(request, pk):
    appraisal = selectors.get_appraisal_or_404(request.user, pk)
    _runner_or_403(request.user, appraisal)
    form = DecisionForm(request.POST, subjects=appraisal.subjects.order_by("position"))
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
        for message in error.messages:
            messages.error(request, message)
        # keep what was entered: the results page fills the form from it
        request.session[f"appraisal_decide:{appraisal.pk}"] = form.entered()
    else:
        messages.success(request, f"已认定 {n} 名党员的评议结果。" if n else "没有变化。")
    return redirect("appraisal:results", pk=appraisal.pk)


@require_POST
def adopt(request, pk):
    """采用全部建议: the committee takes every suggested grade, then changes the exceptions."""
    appraisal = selectors.get_appraisal_or_404(request.user, pk)
    _runner_or_403(request.user, appraisal)
    try:
        n = services.results_adopt_suggested(by=request.user, appraisal=appraisal)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        if n:
            messages.success(
                request, f"已为 {n} 名党员采用建议等次。与建议不同的，请逐个修改并填写理由后保存。"
            )
        else:
            messages.info(request, "没有待认定且有建议等次的党员。")
    return redirect("appraisal:results", pk=appraisal.pk)


@require_http_methods(["GET", "POST"])
def rule(request, org_pk):
    org = access.get_org_for_user(request.user, org_pk, Action.CONFIGURE)
    year = _year_param(request) or timezone.localdate().year
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


# ---------------------------------------------------------------- voting (public)

PUBLIC_ID = re.compile(r"^[0-9a-z]{10}$")


def _keys(request, appraisal: Appraisal, serial: int | None) -> list[tuple[str, int]]:
    """Failure counters and their limits: per address, and per address and serial."""
    address = hashlib.sha256(
        f"{appraisal.slip_salt}:{client_address(request)}".encode()
    ).hexdigest()[:24]
    base = f"appraisal-failures:{appraisal.pk}:{address}"
    keys = [(base, ADDRESS_LIMIT)]
    if serial is not None:
        keys.append((f"{base}:{serial}", SERIAL_LIMIT))
    return keys


def _blocked(keys) -> int:
    """Seconds until the voter may try a wrong code again (0: not blocked). The counts are kept
    in the database (orgs.throttle), so every worker process and machine sees the same ones."""
    return max(throttle_retry_after(key, limit=limit) for key, limit in keys)


def _count_failure(keys) -> None:
    for key, _ in keys:
        throttle_hit(key, window=FAILURE_WINDOW)


@sensitive_variables()
def _ballot_marks(request, count: int) -> dict[int, int | None]:
    marks = {}
    for position in range(1, count + 1):
        value = request.POST.get(f"s{position}", "")
        if value in ("", "0"):
            marks[position] = None
        elif value in ("1", "2", "3", "4"):
            marks[position] = int(value)
        else:
            raise ValidationError(f"第 {position} 项的评价无效，请重新选择。")
    return marks


@sensitive_variables()
def _serial_of(code: str) -> int | None:
    try:
        return codes.parse(code)[0]
    except codes.BadCode:
        return None


@login_not_required
@never_cache
@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
@sensitive_variables()  # innermost: it guards the frame of the function it wraps
def ballot(request, public_id):
    """Enter the code, then fill and submit the sheet once. Nothing about the voter is kept.

    A code that checks out is never turned away by the limits; wrong ones are counted per
    address (high: a meeting may share one) and per address and serial (low)."""
    if not PUBLIC_ID.match(str(public_id)):
        raise Http404("没有找到该评议。")
    appraisal = Appraisal.objects.select_related("org").filter(public_id=public_id).first()
    if appraisal is None or not appraisal.uses_codes:
        raise Http404("没有找到该评议。")
    context = {"appraisal": appraisal, "scale": appraisal.scale}
    template = "reviews/appraisal/vote_code.html"
    step = request.POST.get("step", "") if request.method == "POST" else ""
    if step not in ("code", "cast"):
        if appraisal.state != AppraisalState.VOTING:
            context["notice"] = services.closed_message(appraisal.state)
        return render(request, template, context)
    code = request.POST.get("code", "").strip()[:100]
    context["code"] = code
    if not code:
        context["error"] = "请输入选票码。"
        return render(request, template, context)
    keys = _keys(request, appraisal, _serial_of(code))

    def refused_code(error):
        wait = _blocked(keys)
        if wait:
            minutes = -(-wait // 60)
            context["error"] = f"输错次数过多，请 {minutes} 分钟后再试，或向工作人员求助。"
            return render(request, template, context, status=429)
        _count_failure(keys)
        context["error"] = error.messages[0]
        return render(request, template, context)

    if step == "cast":
        try:
            marks = _ballot_marks(request, appraisal.subject_count)
        except ValidationError as error:  # a choice no button has: the sheet again, as filled
            context["error"] = error.messages[0]
            return _sheet(
                request, appraisal, code, context, keep_choices=True, refused_code=refused_code
            )
        try:
            services.ballot_cast(appraisal_id=appraisal.pk, code=code, marks=marks)
        except services.CodeRefused as error:
            return refused_code(error)
        except ValidationError as error:  # used, voided or closed meanwhile
            context["error"] = error.messages[0]
            return render(request, template, context)
        return render(request, "reviews/appraisal/vote_done.html", context)
    return _sheet(request, appraisal, code, context, refused_code=refused_code)


@sensitive_variables()
def _sheet(request, appraisal, code, context, *, keep_choices=False, refused_code=None):
    """The ballot sheet for a code that checks out (else the code page with the reason)."""
    try:
        slip = services.code_check(appraisal=appraisal, code=code)
    except services.CodeRefused as error:
        if refused_code is not None:
            return refused_code(error)
        context["error"] = error.messages[0]
        return render(request, "reviews/appraisal/vote_code.html", context)
    except ValidationError as error:  # used, voided, or voting not open
        context["error"] = error.messages[0]
        return render(request, "reviews/appraisal/vote_code.html", context)
    subjects = list(selectors.subjects(appraisal=appraisal))
    if keep_choices:
        for subject in subjects:
            subject.chosen = request.POST.get(f"s{subject.position}", "")
    context.update(subjects=subjects, group=slip.get_group_display())
    return render(request, "reviews/appraisal/vote_sheet.html", context)
