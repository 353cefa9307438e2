from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgs import access
from orgs.access import Action
from orgs.form_helpers import apply_errors, first_error
from orgs.models import Member, Organization
from orgs.periods import HALF, QUARTER, Period
from reviews import selectors, services
from reviews.access import get_review_or_404, may_edit
from reviews.forms import (
    DrawForm,
    ExemptionForm,
    ItemActionForm,
    ItemForm,
    ItemReportForm,
    ReviewForm,
)
from reviews.models import LeaderReview, RandomDraw, ReviewRectification, ReviewStatus, SubjectKind


def _period(slug: str, kind: str | None = None) -> Period:
    try:
        period = Period.parse(slug)
    except ValueError:
        raise Http404("期次有误。") from None
    if not 2001 <= period.year <= 2099:  # its neighbours must exist too
        raise Http404("期次有误。")
    if kind and period.kind != kind:
        raise Http404("期次有误。")
    return period


_get_review = get_review_or_404


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


def _member_for_period(user, pk, p: Period):
    """The member, if visible now or through the branch that owes their review for `p`."""
    member = Member.objects.select_related("org").filter(pk=access.object_id(pk)).first()
    if member is None:
        raise Http404("没有找到该党员。")
    branch = services.member_branch_for(member, p)
    if not (
        access.can_on_member(user, Action.VIEW, member)
        or (branch is not None and access.can(user, Action.EXPORT, branch))
    ):
        raise Http404("没有找到该党员。")
    return member


@require_http_methods(["GET", "POST"])
def write_member(request, member_pk, period):
    p = _period(period, QUARTER)
    member = _member_for_period(request.user, member_pk, p)
    if services.may_review_member(request.user, member, p) is None:
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
        back=f"/reviews/quarter/{member.org_id}/{p.slug}/", previous=previous, pledges=pledges,
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def write_org(request, org_pk, kind, period):
    subject = access.get_org_for_user(request.user, org_pk)
    p = _period(period, HALF)
    if kind not in (SubjectKind.ORG, SubjectKind.SECRETARY):
        raise Http404("点评对象有误。")
    form = ReviewForm(request.POST or None)
    method = form.chosen_method() if request.method == "POST" else "random"
    if services.may_review_org(request.user, subject, method) is None:
        raise PermissionDenied("党组织及其书记由上级党组织负责人点评。")
    leads = services.may_review_org(request.user, subject) is not None
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
    back = f"/reviews/half/{subject.parent_id}/{p.slug}/"
    return _review_form_page(request, form=form, title=f"点评 {who} · {p.label}", back=back,
                             previous=previous, pledges=pledges)  # fmt: skip


def _subject_url(user, review: LeaderReview) -> str:
    """The subject's own page, when the reader may open it (else the name is plain text)."""
    if review.subject_member_id and access.can_on_member(user, Action.VIEW, review.subject_member):
        return reverse("orgs:member_detail", args=[review.subject_member_id])
    if review.subject_kind != SubjectKind.MEMBER and access.can(
        user, Action.VIEW, review.subject_org
    ):
        return reverse("orgs:detail", args=[review.subject_org_id])
    return ""


def _detail_page(request, review, *, item_form=None, report_forms=None, status=200):
    items = list(review.items.all())
    for item in items:
        item.may_report = services.may_report_item(request.user, item)
        item.report_form = (report_forms or {}).get(item.pk) or ItemReportForm(
            prefix=f"item{item.pk}"
        )
    # a member transferred before the period's end: the old branch may only read its review
    owed_by = services.owing_branch_moved(review)
    return render(
        request,
        "reviews/detail.html",
        {
            "review": review,
            "subject_url": _subject_url(request.user, review),
            "events": review.events.select_related("actor"),
            "items": items,
            "is_reviewer": review.reviewer_id == request.user.pk,
            "may_edit": may_edit(request.user, review),
            "owed_by": owed_by,
            "may_correct": review.is_signed and owed_by is None,
            "correction": LeaderReview.objects.filter(previous=review).first(),
            "item_form": item_form or ItemForm(),
            "today": timezone.localdate(),
        },
        status=status,
    )


@require_GET
def detail(request, pk):
    return _detail_page(request, _get_review(request.user, pk))


@require_http_methods(["GET", "POST"])
def edit(request, pk):
    review = _get_review(request.user, pk)
    if review.reviewer_id != request.user.pk or review.status != ReviewStatus.DRAFT:
        raise PermissionDenied("只有点评人本人可以修改未签字的点评。")
    try:
        services.refuse_if_owed_elsewhere(review)
    except ValidationError as error:
        raise PermissionDenied("；".join(error.messages)) from None
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
                             back=f"/reviews/{review.pk}/")  # fmt: skip


def _reviewer_only(request, review):
    if review.reviewer_id != request.user.pk:
        raise PermissionDenied("只有点评人本人可以进行此操作。")


def _act(request, review, fn, success):
    try:
        result = fn()
    except ValidationError as error:
        messages.error(request, "；".join(error.messages))
        return redirect("reviews:detail", pk=review.pk)
    messages.success(request, success)
    return redirect("reviews:detail", pk=getattr(result, "review_id", None) or result.pk)


@require_POST
def sign(request, pk):
    review = _get_review(request.user, pk)
    _reviewer_only(request, review)
    return _act(
        request, review, lambda: services.review_sign(by=request.user, review=review), "已签字。"
    )


@require_POST
def correct(request, pk):
    review = _get_review(request.user, pk)
    _reviewer_only(request, review)
    return _act(request, review, lambda: services.review_correct(by=request.user, review=review),
                "已建立更正版本，修改后请重新签字。")  # fmt: skip


@require_POST
def item_add(request, pk):
    review = _get_review(request.user, pk)
    _reviewer_only(request, review)
    form = ItemForm(request.POST)
    if not form.is_valid():  # the page again, with the input kept and the field named
        messages.error(request, first_error(form))
        return _detail_page(request, review, item_form=form)
    return _act(request, review, lambda: services.item_add(by=request.user, review=review, **form.cleaned_data),
                "已提出整改事项。")  # fmt: skip


@require_POST
def item_update(request, pk):
    item = (
        ReviewRectification.objects.select_related("review").filter(pk=access.object_id(pk)).first()
    )
    if item is None:
        raise Http404("没有找到该整改事项。")
    review = _get_review(request.user, item.review_id)
    action_form = ItemActionForm(request.POST)
    action = action_form.cleaned_data["action"] if action_form.is_valid() else "report"
    if action in ("close", "reopen"):
        _reviewer_only(request, review)
        fn = lambda: services.item_close(by=request.user, item=item, reopen=action == "reopen")  # noqa: E731
        done = "已销号。" if action == "close" else "已重新打开。"
    else:
        if not services.may_report_item(request.user, item):
            raise PermissionDenied("整改情况由被点评的党员或党组织报告。")
        form = ItemReportForm(request.POST, prefix=f"item{item.pk}")
        if not form.is_valid():  # the page again, with the report kept and the field named
            messages.error(request, first_error(form))
            return _detail_page(request, review, report_forms={item.pk: form})
        report = form.cleaned_data["report"]
        fn = lambda: services.item_report(by=request.user, item=item, report=report)  # noqa: E731
        done = "已报告整改情况。"
    return _act(request, review, fn, done)


@require_GET
def items(request):
    within = None
    if request.GET.get("org"):
        within = access.get_org_for_user(request.user, request.GET["org"], Action.EXPORT)
    page = Paginator(selectors.items_for(user=request.user, within=within), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "reviews/items.html",
        {"page": page, "within": within, "today": timezone.localdate()},
    )


@require_http_methods(["GET", "POST"])
def exempt(request, kind, pk, period):
    p = _period(period)
    if kind == SubjectKind.MEMBER:
        member = _member_for_period(request.user, pk, p)
        subject = {"subject_member": member}
        name = member.name
    elif kind in (SubjectKind.ORG, SubjectKind.SECRETARY):
        org = access.get_org_for_user(request.user, pk)
        subject = {"subject_org": org}
        name = org.name + ("书记" if kind == SubjectKind.SECRETARY else "")
    else:
        raise Http404("点评对象有误。")
    reviewer_org = (
        services.member_branch_for(subject["subject_member"], p)
        if kind == SubjectKind.MEMBER
        else subject["subject_org"].parent
    )
    if reviewer_org is None or not access.can(request.user, Action.SUPERVISE, reviewer_org):
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
    draws = RandomDraw.objects.filter(scope=scope).order_by("-at")[:20]
    return render(request, "reviews/draw.html", {"form": form, "org": scope, "draws": draws})


@require_GET
def draw_detail(request, pk):
    item = RandomDraw.objects.select_related("scope", "by").filter(pk=pk).first()
    if item is None or not access.can(request.user, Action.EXPORT, item.scope):
        raise Http404("没有找到该抽取记录。")
    picked = Organization.objects.filter(pk__in=item.picked).order_by("lft")
    half = Period.containing(timezone.localdate(), HALF)
    return render(request, "reviews/draw_detail.html",
                  {"draw": item, "picked": picked, "verified": services.draw_verify(item), "half": half})  # fmt: skip
