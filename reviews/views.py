from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgs import access
from orgs.access import Action
from orgs.feedback import show_refusal
from orgs.form_helpers import apply_errors, first_error
from orgs.pager import page_of
from orgs.periods import HALF, QUARTER, Period
from reviews import selectors, services
from reviews.access import (
    ReviewAction,
    can_close_rectification,
    can_correct_review,
    can_edit_review,
    can_grant_exemption,
    can_issue_rectification,
    can_report_rectification,
    can_review_member,
    can_review_org,
    get_draw_for_user,
    get_member_for_review,
    get_rectification_for_user,
    get_review_for_user,
    owing_branch_moved,
)
from reviews.forms import (
    DrawForm,
    ExemptionForm,
    ItemActionForm,
    ItemForm,
    ItemReportForm,
    ReviewForm,
)
from reviews.models import SubjectKind


def _period(slug: str, kind: str | None = None) -> Period:
    """The period a URL names; 404 for a bad one or one of another kind."""
    try:
        period = Period.parse(slug)
    except ValueError:
        raise Http404("期次有误。") from None
    # reviews and exemptions are kept by quarter (members) and half-year (organisations) only
    allowed = (kind,) if kind else (QUARTER, HALF)
    if period.kind not in allowed:
        raise Http404("期次有误。")
    return period


@require_GET
def quarter(request, org_pk, period):
    branch = access.get_org_for_user(request.user, org_pk, Action.EXPORT)
    p = _period(period, QUARTER)
    return render(
        request,
        "reviews/quarter.html",
        {
            "org": branch,
            "period": p,
            "rows": selectors.branch_quarter(branch=branch, period=p),
            "may_write": access.can(request.user, Action.EDIT, branch),
            "may_exempt": access.can(request.user, Action.SUPERVISE, branch),
        },
    )


@require_GET
def half(request, org_pk, period):
    org = access.get_org_for_user(request.user, org_pk, Action.EXPORT)
    p = _period(period, HALF)
    return render(
        request,
        "reviews/half.html",
        {
            "org": org,
            "period": p,
            "rows": selectors.half_year(org=org, period=p),
            "may_write": access.can(request.user, Action.EDIT, org),
            "may_exempt": access.can(request.user, Action.SUPERVISE, org),
        },
    )


def _review_form_page(request, *, form, title, back, previous=None, pledges=()):
    return render(
        request,
        "reviews/review_form.html",
        {"form": form, "title": title, "back": back, "previous": previous, "pledges": pledges},
    )


@require_http_methods(["GET", "POST"])
def write_member(request, member_pk, period):
    p = _period(period, QUARTER)
    member = get_member_for_review(request.user, member_pk, p)
    if not can_review_member(request.user, member, p):
        raise PermissionDenied("党员由其在该季度末所在党支部的书记点评。")
    form = ReviewForm(request.POST or None, initial={"method": "individual"})
    if request.method == "POST" and form.is_valid():
        try:
            review = services.review_create(
                by=request.user,
                subject_kind=SubjectKind.MEMBER,
                subject_member=member,
                period=p,
                **form.cleaned_data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已保存草稿。确认后请签字。")
            return redirect("reviews:detail", pk=review.pk)
    # beside the form only what the writer may read: after a transfer, not the other branch's
    previous = selectors.last_review(
        user=request.user, period=p, kind=SubjectKind.MEMBER, member=member
    )
    pledges = selectors.pledges_beside(user=request.user, year=p.year, member=member)
    return _review_form_page(
        request, form=form, title=f"点评党员 {member.name} · {p.label}",
        back=reverse("reviews:quarter", args=[member.org_id, p.slug]), previous=previous,
        pledges=pledges,
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def write_org(request, org_pk, kind, period):
    subject = access.get_org_for_user(request.user, org_pk)
    p = _period(period, HALF)
    if kind not in (SubjectKind.ORG, SubjectKind.SECRETARY):
        raise Http404("点评对象有误。")
    form = ReviewForm(request.POST or None)
    method = form.chosen_method() if request.method == "POST" else "random"
    if not can_review_org(request.user, subject, method):
        raise PermissionDenied("党组织及其书记由上级党组织负责人点评。")
    leads = can_review_org(request.user, subject)
    initial = request.GET.get("method") or ("central" if leads else "random")
    form = ReviewForm(request.POST or None, initial={"method": initial})
    if request.method == "POST" and form.is_valid():
        try:
            review = services.review_create(
                by=request.user,
                subject_kind=kind,
                subject_org=subject,
                period=p,
                **form.cleaned_data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已保存草稿。确认后请签字。")
            return redirect("reviews:detail", pk=review.pk)
    previous = selectors.last_review(user=request.user, period=p, kind=kind, org=subject)
    pledges = selectors.pledges_beside(user=request.user, year=p.year, org=subject)
    who = f"{subject.name}书记" if kind == SubjectKind.SECRETARY else subject.name
    back = reverse("reviews:half", args=[subject.parent_id, p.slug])
    return _review_form_page(request, form=form, title=f"点评 {who} · {p.label}", back=back,
                             previous=previous, pledges=pledges)  # fmt: skip


def _subject_url(user, review) -> str:
    """The subject's own page, when the reader may open it (else the name is plain text)."""
    if review.subject_member_id and access.can_on_member(user, Action.VIEW, review.subject_member):
        return reverse("orgs:member_detail", args=[review.subject_member_id])
    if not review.is_about_member and access.can(user, Action.VIEW, review.subject_org):
        return reverse("orgs:detail", args=[review.subject_org_id])
    return ""


def _detail_page(request, review, *, item_form=None, report_forms=None, status=200):
    user = request.user
    items = selectors.rectifications_of(review=review)
    for item in items:
        item.may_report = can_report_rectification(user, item)
        item.may_close = can_close_rectification(user, item)
        item.report_form = (report_forms or {}).get(item.pk) or ItemReportForm(
            prefix=f"item{item.pk}"
        )
    return render(
        request,
        "reviews/detail.html",
        {
            "review": review,
            "subject_url": _subject_url(user, review),
            "events": selectors.review_events(review=review),
            "items": items,
            "is_reviewer": review.reviewer_id == user.pk,
            "may_edit": can_edit_review(user, review),
            # a member transferred before the period's end: the old branch only reads its review
            "owed_by": owing_branch_moved(review),
            "may_correct": can_correct_review(user, review),
            "may_issue": can_issue_rectification(user, review),
            "correction": selectors.correction_of(review=review),
            "item_form": item_form or ItemForm(),
            "today": timezone.localdate(),
        },
        status=status,
    )


@require_GET
def detail(request, pk):
    return _detail_page(request, get_review_for_user(request.user, pk))


@require_http_methods(["GET", "POST"])
def edit(request, pk):
    review = get_review_for_user(request.user, pk, ReviewAction.EDIT)
    initial = {name: getattr(review, name) for name in services.TEXT_FIELDS}
    form = ReviewForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.review_update(by=request.user, review=review, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已保存。")
            return redirect("reviews:detail", pk=review.pk)
    return _review_form_page(request, form=form, title=f"修改点评 · {review.subject_name}",
                             back=reverse("reviews:detail", args=[review.pk]))  # fmt: skip


def _act(request, review, fn, success):
    """Call the service; its refusal goes back to the review page as a message."""
    try:
        result = fn()
    except ValidationError as error:
        show_refusal(request, error)
        return redirect("reviews:detail", pk=review.pk)
    messages.success(request, success)
    return redirect("reviews:detail", pk=getattr(result, "review_id", None) or result.pk)


@require_POST
def sign(request, pk):
    review = get_review_for_user(request.user, pk, ReviewAction.REVIEWER)
    return _act(
        request, review, lambda: services.review_sign(by=request.user, review=review), "已签字。"
    )


@require_POST
def correct(request, pk):
    review = get_review_for_user(request.user, pk, ReviewAction.REVIEWER)
    return _act(request, review, lambda: services.review_correct(by=request.user, review=review),
                "已建立更正版本，修改后请重新签字。")  # fmt: skip


@require_POST
def item_add(request, pk):
    review = get_review_for_user(request.user, pk, ReviewAction.REVIEWER)
    form = ItemForm(request.POST)
    if not form.is_valid():  # the page again, with the input kept and the field named
        messages.error(request, first_error(form))
        return _detail_page(request, review, item_form=form)
    return _act(request, review, lambda: services.rectification_issue(by=request.user, review=review, **form.cleaned_data),
                "已提出整改事项。")  # fmt: skip


@require_POST
def item_update(request, pk):
    action_form = ItemActionForm(request.POST)
    action = action_form.cleaned_data["action"] if action_form.is_valid() else "report"
    if action in ("close", "reopen"):
        item = get_rectification_for_user(request.user, pk, ReviewAction.REVIEWER)
        reopen = action == "reopen"
        fn = partial(
            services.rectification_close, by=request.user, rectification=item, reopen=reopen
        )
        done = "已重新打开。" if reopen else "已销号。"
    else:
        item = get_rectification_for_user(request.user, pk, ReviewAction.REPORT)
        form = ItemReportForm(request.POST, prefix=f"item{item.pk}")
        if not form.is_valid():  # the page again, with the report kept and the field named
            messages.error(request, first_error(form))
            return _detail_page(request, item.review, report_forms={item.pk: form})
        fn = partial(
            services.rectification_report, by=request.user, rectification=item,
            response=form.cleaned_data["response"],
        )  # fmt: skip
        done = "已报告整改情况。"
    return _act(request, item.review, fn, done)


@require_GET
def items(request):
    within = None
    if request.GET.get("org"):
        within = access.get_org_for_user(request.user, request.GET["org"], Action.EXPORT)
    page = page_of(request, selectors.rectifications_for(user=request.user, within=within))
    page.object_list = selectors.rectification_rows(page.object_list)
    return render(
        request,
        "reviews/items.html",
        {"page": page, "within": within, "today": timezone.localdate()},
    )


@require_http_methods(["GET", "POST"])
def exempt(request, kind, pk, period):
    p = _period(period)
    if kind == SubjectKind.MEMBER:
        member = get_member_for_review(request.user, pk, p)
        subject = {"subject_member": member}
        name = member.name
    elif kind in (SubjectKind.ORG, SubjectKind.SECRETARY):
        org = access.get_org_for_user(request.user, pk)
        subject = {"subject_org": org}
        name = org.name + ("书记" if kind == SubjectKind.SECRETARY else "")
    else:
        raise Http404("点评对象有误。")
    if not can_grant_exemption(request.user, period=p, subject_kind=kind, **subject):
        raise PermissionDenied("免予点评由点评责任人的上级党组织书记决定。")
    form = ExemptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.exemption_grant(
                by=request.user,
                period=p,
                subject_kind=kind,
                reason=form.cleaned_data["reason"],
                **subject,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"已同意{name}{p.label}免予点评。")
            return redirect("home")
    return render(request, "reviews/exempt.html", {"form": form, "name": name, "period": p})


@require_GET
def coverage(request, org_pk, period):
    org = access.get_org_for_user(request.user, org_pk, Action.EXPORT)
    q = _period(period, QUARTER)
    h = Period.containing(q.end, HALF)
    data = selectors.coverage(root=org, quarter=q, half=h)
    missing = selectors.missing_members(branch=org, period=q) if org.holds_members else []
    return render(
        request,
        "reviews/coverage.html",
        {"org": org, "quarter": q, "half": h, "missing": missing, **data},
    )


@require_http_methods(["GET", "POST"])
def draw(request, org_pk):
    scope = access.get_org_for_user(request.user, org_pk, Action.EXPORT)
    form = DrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.random_draw(by=request.user, scope=scope, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已抽取。")
            return redirect("reviews:draw_detail", pk=result.pk)
    draws = selectors.recent_draws(scope=scope)
    return render(request, "reviews/draw.html", {"form": form, "org": scope, "draws": draws})


@require_GET
def draw_detail(request, pk):
    found = get_draw_for_user(request.user, pk)
    half = Period.containing(timezone.localdate(), HALF)
    return render(request, "reviews/draw_detail.html", {
        "draw": found, "picked": selectors.draw_picked(draw=found),
        "verified": services.draw_verify(found), "half": half,
    })  # fmt: skip
