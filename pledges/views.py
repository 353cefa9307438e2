from __future__ import annotations

import io

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgs import access as org_access
from orgs.access import Action
from orgs.form_helpers import apply_errors, first_error
from orgs.models import Organization
from pledges import access, selectors, services
from pledges.forms import (
    ApproveForm,
    EvaluationForm,
    FulfilmentForm,
    MemberPledgeForm,
    PledgeForm,
    RectificationActionForm,
    RectificationForm,
    RectificationResponseForm,
    ReopenForm,
    ReturnForm,
    SecretaryPledgeForm,
    SecretaryReportForm,
    SecretaryReviewForm,
    WindowForm,
    WithdrawForm,
)
from pledges.models import (
    SECTOR_HINTS,
    Attachment,
    Pledge,
    PledgeStatus,
    Rectification,
    RectificationStatus,
    SecretaryPledge,
)

PAGE_SIZE = 50
# The queue shows PAGE_SIZE pledges a page, so no one ticks more at once.
BULK_LIMIT = PAGE_SIZE


def _year(request, default=None) -> int:
    try:
        year = int(request.GET.get("year") or default or timezone.localdate().year)
    except ValueError:
        year = timezone.localdate().year
    return min(max(year, 2000), 2100)


def _check_year(year: int) -> int:
    if not 2000 <= year <= 2100:
        raise Http404("年度有误。")
    return year


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _within(request):
    if request.GET.get("org"):
        return org_access.get_org_for_user(request.user, request.GET["org"], Action.EXPORT)
    return None


# ---------------------------------------------------------------- the branch's year


@require_GET
def year_view(request, org_pk, year):
    org = org_access.get_org_for_user(request.user, org_pk, Action.EXPORT)
    _check_year(year)
    today = timezone.localdate()
    start, end = services.window_for(org=org, year=year)
    return render(
        request,
        "pledges/year.html",
        {
            "org": org,
            "year": year,
            "today": today,
            "window": (start, end),
            "may_edit": org_access.can(request.user, Action.EDIT, org),
            "may_configure": org_access.can(request.user, Action.CONFIGURE, org),
            "may_supervise": org_access.can(request.user, Action.SUPERVISE, org),
            **selectors.branch_year(org=org, year=year, today=today),
        },
    )


@require_POST
def publish_approved(request, org_pk, year):
    """Publish every approved pledge of the branch and its members for the year."""
    org = org_access.get_org_for_user(request.user, org_pk, Action.EDIT)
    approved = Pledge.objects.filter(org=org, year=_check_year(year), status=PledgeStatus.APPROVED)
    try:
        with transaction.atomic():
            count = sum(1 for p in approved if services.pledge_publish(by=request.user, pledge=p))
    except ValidationError as error:
        messages.error(request, "；".join(error.messages))
    else:
        messages.success(request, f"已公示 {count} 项承诺。" if count else "没有待公示的承诺。")
    return redirect("pledges:year", org_pk=org.pk, year=year)


# ---------------------------------------------------------------- 提诺


def _pledge_form_page(request, *, form, title, back, hint="", member=None, returned=None):
    return render(
        request,
        "pledges/pledge_form.html",
        {
            "form": form,
            "title": title,
            "back": back,
            "hint": hint,
            "member": member,
            "returned": returned,
        },
    )


@require_http_methods(["GET", "POST"])
def create_org_pledge(request, org_pk):
    org = org_access.get_org_for_user(request.user, org_pk, Action.EDIT)
    year = _year(request)
    form = PledgeForm(request.POST or None, member_pledge=False, initial={"kind": "annual"})
    if request.method == "POST" and form.is_valid():
        try:
            pledge = services.pledge_create(
                by=request.user, year=year, owner_org=org, **form.cleaned_data
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已保存为草稿。确认无误后请提交审核。")
            return redirect("pledges:detail", pk=pledge.pk)
    back = reverse("pledges:year", args=[org.pk, year])
    return _pledge_form_page(request, form=form, title=f"{org.name} {year}年公开承诺", back=back)


@require_http_methods(["GET", "POST"])
def create_member_pledge(request, member_pk):
    member = org_access.get_member_for_user(request.user, member_pk)
    if not access.may_create_for_member(request.user, member):
        raise PermissionDenied("只有党员本人或所在支部书记可以提出党员承诺。")
    year = _year(request)
    form = MemberPledgeForm(request.POST or None, initial={"kind": "annual"})
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        code = data.pop("community_code")
        community = None
        if code:
            community = Organization.objects.filter(code=code, is_active=True).first()
            if community is None:
                form.add_error("community_code", f"找不到组织代码“{code}”。")
        if not form.errors:
            try:
                pledge = services.pledge_create(
                    by=request.user, year=year, owner_member=member, community_org=community, **data
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, "已保存为草稿。确认无误后请提交审核。")
                return redirect("pledges:detail", pk=pledge.pk)
    back = reverse("orgs:member_detail", args=[member.pk])
    return _pledge_form_page(
        request,
        form=form,
        title=f"{member.name} {year}年公开承诺",
        back=back,
        hint=SECTOR_HINTS.get(member.org.sector, ""),
        member=member,
    )


@require_GET
def detail(request, pk):
    pledge = access.get_pledge_or_404(request.user, pk)
    user, today = request.user, timezone.localdate()
    return render(
        request,
        "pledges/detail.html",
        {
            "pledge": pledge,
            "events": pledge.events.select_related("actor"),
            "fulfilments": pledge.fulfilments.prefetch_related("attachments"),
            "rectifications": pledge.rectifications.order_by("-issued_at"),
            "follow_ups": pledge.follow_ups.all(),
            "overdue": pledge.is_overdue(today),
            "may_write": access.may_write(user, pledge),
            "may_vet": access.may_vet(user, pledge),
            "may_withdraw": pledge.is_awaiting_vetting and access.may_withdraw(user, pledge),
            "may_publish": access.may_publish(user, pledge),
            "returned": selectors.return_reason(pledge=pledge),
            "return_form": ReturnForm(),
        },
    )


@require_http_methods(["GET", "POST"])
def edit(request, pk):
    pledge = access.get_pledge_or_404(request.user, pk, access.may_write)
    form_class = MemberPledgeForm if pledge.is_member_pledge else PledgeForm
    kwargs = {} if pledge.is_member_pledge else {"member_pledge": False}
    initial = {name: getattr(pledge, name) for name in services.CONTENT_FIELDS}
    form = form_class(request.POST or None, initial=initial, **kwargs)
    if pledge.is_member_pledge:
        del form.fields["is_oral"], form.fields["community_code"]
    if request.method == "POST" and form.is_valid():
        try:
            services.pledge_update(by=request.user, pledge=pledge, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已保存。")
            return redirect("pledges:detail", pk=pledge.pk)
    back = reverse("pledges:detail", args=[pledge.pk])
    return _pledge_form_page(
        request,
        form=form,
        title=f"修改承诺 · {pledge.owner_name}",
        back=back,
        returned=selectors.return_reason(pledge=pledge),
    )


def _act(request, pk, check, action, success):
    pledge = access.get_pledge_or_404(request.user, pk, check)
    try:
        action(pledge)
    except ValidationError as error:
        messages.error(request, "；".join(error.messages))
    else:
        messages.success(request, success)
    return redirect(_next(request) or reverse("pledges:detail", args=[pledge.pk]))


def _next(request) -> str:
    """The page to go back to, if it is one of ours."""
    target = request.POST.get("next", "") or request.GET.get("next", "")
    ok = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if ok else ""


@require_POST
def submit(request, pk):
    return _act(
        request, pk, access.may_write,
        lambda p: services.pledge_submit(by=request.user, pledge=p), "已提交审核。",
    )  # fmt: skip


def _confirm_page(request, *, pledges, form, title, intro, button, back, hidden=()):
    """One page for every step that asks first: the pledges it acts on, the form, one button."""
    return render(
        request,
        "pledges/confirm.html",
        {
            "pledges": pledges,
            "form": form,
            "title": title,
            "intro": intro,
            "button": button,
            "back": back,
            "hidden": hidden,
        },
    )


def _bound(request, form_class):
    return form_class(request.POST if request.method == "POST" else None)


def _step_with_reason(request, pk, *, check, form_class, step, success, title, intro, button):
    """A step back in the lifecycle that asks for a reason first: `step(by=, pledge=, reason=)`."""
    pledge = access.get_pledge_or_404(request.user, pk, check)
    form = _bound(request, form_class)
    if form.is_bound and form.is_valid():
        try:
            step(by=request.user, pledge=pledge, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, success)
            return redirect("pledges:detail", pk=pledge.pk)
    return _confirm_page(
        request,
        pledges=[pledge],
        form=form,
        title=title,
        intro=intro,
        button=button,
        back=reverse("pledges:detail", args=[pledge.pk]),
    )


@require_http_methods(["GET", "POST"])
def withdraw(request, pk):
    return _step_with_reason(
        request,
        pk,
        check=access.may_withdraw,
        form_class=WithdrawForm,
        step=services.pledge_withdraw,
        success="已撤回，承诺回到草稿，可以修改后重新提交。",
        title="撤回提交",
        intro="撤回后承诺回到草稿，审核人不再看到它；修改后可重新提交。撤回原因记入办理记录。",
        button="确认撤回",
    )


# ---------------------------------------------------------------- 审诺


@require_GET
def vet_queue(request):
    return render(
        request,
        "pledges/vet_queue.html",
        {
            "page": _page(request, selectors.vet_queue(user=request.user)),
            "return_form": ReturnForm(),
        },
    )


@require_http_methods(["GET", "POST"])
def approve(request, pk):
    """审定通过 asks first: the page shows what is approved and a box to tick."""
    pledge = access.get_pledge_or_404(request.user, pk, access.may_vet)
    form = _bound(request, ApproveForm)
    back = _next(request) or reverse("pledges:detail", args=[pledge.pk])
    if form.is_bound and form.is_valid():
        try:
            services.pledge_approve(
                by=request.user, pledge=pledge, comment=form.cleaned_data["comment"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已审定。公示之前如发现问题，可以撤销审定。")
            return redirect(back)
    return _confirm_page(
        request,
        pledges=[pledge],
        form=form,
        title="审定通过",
        intro="请核对承诺内容。审定通过后即可公示；公示之前如发现问题，可以撤销审定。",
        button="确认审定通过",
        back=back,
        hidden=[("next", _next(request))] if _next(request) else [],
    )


@require_http_methods(["GET", "POST"])
def reopen(request, pk):
    return _step_with_reason(
        request,
        pk,
        check=access.may_vet,
        form_class=ReopenForm,
        step=services.pledge_reopen,
        success="已撤销审定，承诺回到待审核。",
        title="撤销审定",
        intro="已审定、尚未公示的承诺可以撤销审定，回到待审核，再审定通过或退回修改。原因记入办理记录。",
        button="确认撤销审定",
    )


@require_POST
def return_(request, pk):
    form = ReturnForm(request.POST)
    if not form.is_valid():  # the detail page and the queue show the message naming the field
        pledge = access.get_pledge_or_404(request.user, pk, access.may_vet)
        messages.error(request, first_error(form))
        return redirect(_next(request) or reverse("pledges:detail", args=[pledge.pk]))
    return _act(
        request, pk, access.may_vet,
        lambda p: services.pledge_return(by=request.user, pledge=p, **form.cleaned_data),
        "已退回修改。",
    )  # fmt: skip


@require_POST
def bulk_approve(request):
    if len(request.POST.getlist("ids")) > BULK_LIMIT:
        messages.error(request, f"一次最多审定 {BULK_LIMIT} 项承诺，请分批勾选。")
        return redirect("pledges:vet_queue")
    ids = [
        int(i) for i in request.POST.getlist("ids") if i.isascii() and i.isdigit() and len(i) < 19
    ]
    pledges = list(selectors.vet_queue(user=request.user).filter(pk__in=ids))
    if not pledges:
        messages.error(request, "请先勾选要审定的承诺。")
        return redirect("pledges:vet_queue")
    # The queue's button only opens the confirmation; the confirmation page sends "step".
    form = ApproveForm(request.POST if "step" in request.POST else None)
    if form.is_bound and form.is_valid():
        try:
            count = services.pledge_bulk_approve(
                by=request.user, pledges=pledges, comment=form.cleaned_data["comment"]
            )
        except ValidationError as error:
            messages.error(request, "未审定任何承诺：" + "；".join(error.messages))
        else:
            messages.success(request, f"已审定 {count} 项承诺。")
        return redirect("pledges:vet_queue")
    return _confirm_page(
        request,
        pledges=pledges,
        form=form,
        title=f"批量审定通过（{len(pledges)} 项）",
        intro=f"以下 {len(pledges)} 项承诺将一并审定通过（任何一项不能审定则全部不审定）。"
        "请逐项核对；公示之前如发现问题，可以撤销审定。",
        button=f"确认审定通过这 {len(pledges)} 项",
        back=reverse("pledges:vet_queue"),
        hidden=[("step", "confirm"), *(("ids", p.pk) for p in pledges)],
    )


@require_POST
def publish(request, pk):
    return _act(
        request, pk, access.may_publish,
        lambda p: services.pledge_publish(by=request.user, pledge=p), "已公示。",
    )  # fmt: skip


# ---------------------------------------------------------------- 履诺


@require_http_methods(["GET", "POST"])
def fulfil(request, pk):
    pledge = access.get_pledge_or_404(request.user, pk, access.may_write)
    periods = services.periods_of(pledge, timezone.localdate())
    initial = {"period": f"{periods[-1][0]}-{periods[-1][1]}"} if periods else {}
    form = FulfilmentForm(
        request.POST or None, periods=periods, initial=initial, done=pledge.is_done
    )
    if request.method == "POST" and form.is_valid():
        year, period = form.cleaned_data["period"]
        try:
            services.fulfilment_record(
                by=request.user,
                pledge=pledge,
                year=year,
                period=period,
                text=form.cleaned_data["text"],
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
                files=request.FILES.getlist("files"),
                undo_done=form.cleaned_data.get("undo_done", False),
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已保存兑现情况。")
            return redirect("pledges:detail", pk=pledge.pk)
    return render(
        request, "pledges/fulfil.html", {"form": form, "pledge": pledge, "periods": periods}
    )


@require_GET
def attachment(request, pk):
    item = Attachment.objects.select_related("fulfilment").filter(pk=pk).first()
    if item is None:
        raise Http404("没有找到该附件。")
    access.get_pledge_or_404(request.user, item.fulfilment.pledge_id)
    # An upload is the user's content, not the site's: a download, never rendered in our origin
    # (a PDF's JavaScript or an SVG's script would otherwise run with the user's session).
    response = FileResponse(
        item.file.open("rb"),
        as_attachment=True,
        filename=item.original_name,
        content_type=item.content_type,
    )
    response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------------- 督诺


@require_GET
def overdue(request):
    within = _within(request)
    items = selectors.overdue(user=request.user, within=within, today=timezone.localdate())
    return render(
        request, "pledges/overdue.html", {"page": _page(request, items), "within": within}
    )


@require_GET
def missing(request):
    within = _within(request)
    if within is None:
        within = org_access.orgs_for(request.user, Action.EXPORT).order_by("level", "lft").first()
    year = _year(request)
    if within is None:
        return render(request, "pledges/missing.html", {"within": None, "year": year})
    members = selectors.members_without_pledge(user=request.user, within=within, year=year)
    orgs = selectors.orgs_without_pledge(user=request.user, within=within, year=year)
    return render(
        request,
        "pledges/missing.html",
        {
            "within": within,
            "year": year,
            "members": _page(request, members),
            "orgs": orgs[:200],
            "org_count": orgs.count(),
        },
    )


@require_http_methods(["GET", "POST"])
def rectify(request, pk):
    pledge = access.get_pledge_or_404(request.user, pk, access.may_vet)
    form = RectificationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.rectification_issue(by=request.user, pledge=pledge, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已下达整改要求。")
            return redirect("pledges:detail", pk=pledge.pk)
    return render(request, "pledges/rectify.html", {"form": form, "pledge": pledge})


@require_GET
def rectifications(request):
    within = _within(request)
    items = selectors.rectifications_for(user=request.user, within=within)
    return render(
        request,
        "pledges/rectifications.html",
        {"page": _page(request, items), "within": within, "today": timezone.localdate()},
    )


@require_http_methods(["GET", "POST"])
def rectification(request, pk):
    item = Rectification.objects.select_related("pledge").filter(pk=pk).first()
    if item is None:
        raise Http404("没有找到该整改。")
    pledge = access.get_pledge_or_404(request.user, item.pledge_id)
    form = RectificationResponseForm(request.POST or None, initial={"response": item.response})
    action_form = _bound(request, RectificationActionForm)
    if action_form.is_bound and not action_form.is_valid():
        messages.error(request, first_error(action_form))  # the page again, the input kept
    elif request.method == "POST":
        action = action_form.cleaned_data["action"] or "respond"
        try:
            if action in ("close", "reopen"):
                services.rectification_close(
                    by=request.user, rectification=item, reopen=action == "reopen"
                )
                messages.success(request, "已销号。" if action == "close" else "已重新打开。")
                return redirect("pledges:rectification", pk=item.pk)
            if form.is_valid():
                services.rectification_respond(
                    by=request.user, rectification=item, **form.cleaned_data
                )
                messages.success(request, "已报告整改情况。")
                return redirect("pledges:rectification", pk=item.pk)
        except ValidationError as error:
            if action in ("close", "reopen"):
                messages.error(request, "；".join(error.messages))
            else:
                apply_errors(form, error)
    return render(
        request,
        "pledges/rectification.html",
        {
            "item": item,
            "pledge": pledge,
            "form": form,
            "may_respond": access.may_write(request.user, pledge)
            and item.status != RectificationStatus.CLOSED,
            "may_close": access.may_vet(request.user, pledge),
        },
    )


# ---------------------------------------------------------------- 评诺 and 再承诺


@require_http_methods(["GET", "POST"])
def evaluate(request, pk):
    pledge = access.get_pledge_or_404(request.user, pk, access.may_vet)
    form = EvaluationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.pledge_evaluate(by=request.user, pledge=pledge, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已评诺。")
            return redirect("pledges:detail", pk=pledge.pk)
    return render(request, "pledges/evaluate.html", {"form": form, "pledge": pledge})


@require_http_methods(["GET", "POST"])
def repledge(request, pk):
    previous = access.get_pledge_or_404(request.user, pk, access.may_write)
    year = _year(request, default=max(previous.year, timezone.localdate().year))
    form = PledgeForm(
        request.POST or None,
        member_pledge=previous.is_member_pledge,
        initial={"kind": "annual", "category": previous.category, "content": previous.content},
    )
    if request.method == "POST" and form.is_valid():
        try:
            pledge = services.pledge_repledge(
                by=request.user, previous=previous, year=year, **form.cleaned_data
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已建立再承诺草稿。")
            return redirect("pledges:detail", pk=pledge.pk)
    back = reverse("pledges:detail", args=[previous.pk])
    return _pledge_form_page(
        request, form=form, title=f"再承诺 · {previous.owner_name} {year}年", back=back
    )


# ---------------------------------------------------------------- calendar


@require_http_methods(["GET", "POST"])
def window(request, org_pk):
    org = org_access.get_org_for_user(request.user, org_pk, Action.CONFIGURE)
    year = _year(request)
    start, end = services.window_for(org=org, year=year)
    form = WindowForm(request.POST or None, initial={"year": year, "start": start, "end": end})
    if request.method == "POST" and form.is_valid():
        try:
            services.window_set(by=request.user, org=org, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已设置年度承诺时间。")
            return redirect(reverse("pledges:year", args=[org.pk, form.cleaned_data["year"]]))
    return render(request, "pledges/window.html", {"form": form, "org": org})


# ---------------------------------------------------------------- public notice (示诺)


def _public_org(code: str) -> Organization:
    org = Organization.objects.filter(code=code.upper(), is_active=True).first()
    if org is None:
        raise Http404("没有找到该党组织。")
    return org


@login_not_required
@require_GET
def public_notice(request, code):
    org = _public_org(code)
    year = _year(request)
    url = request.build_absolute_uri(reverse("public:notice", args=[org.code]))
    return render(
        request,
        "pledges/public.html",
        {"org": org, "year": year, "url": url, **selectors.public_notice(org=org, year=year)},
    )


@login_not_required
@require_GET
def public_qr(request, code):
    org = _public_org(code)
    url = request.build_absolute_uri(reverse("public:notice", args=[org.code]))
    # A standalone SVG document (with its XML namespace); svg_inline() is only for inside HTML.
    svg = io.BytesIO()
    segno.make(url, error="m").save(svg, kind="svg", scale=4, title="本页二维码")
    return HttpResponse(svg.getvalue(), content_type="image/svg+xml")


# ---------------------------------------------------------------- 党组织书记公开承诺书


@require_http_methods(["GET", "POST"])
def secretary_pledge(request, org_pk, year):
    org = org_access.get_org_for_user(request.user, org_pk, Action.EXPORT)
    _check_year(year)
    sp = (
        SecretaryPledge.objects.select_related("member", "upper_by")
        .filter(org=org, year=year)
        .first()
    )
    is_secretary = org.secretary is not None and org.secretary.user_id == request.user.pk
    editable = is_secretary and (sp is None or sp.status in ("draft", "returned"))
    initial = {}
    if sp:
        initial = {f: getattr(sp, f) for f in ("post", "term_start", "contact", "content")}
    elif org.secretary:
        initial = {"post": org.secretary.post or f"{org.name}书记"}
    form = SecretaryPledgeForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not editable:
            raise PermissionDenied("书记公开承诺书由书记本人填写，提交后不能修改。")
        if form.is_valid():
            try:
                sp = services.secretary_pledge_save(
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
            "may_review": org_access.can(request.user, Action.SUPERVISE, org),
            "reports": sp.reports.all() if sp else [],
            "events": sp.events.select_related("actor") if sp else [],
            "quarter_ends": [services.quarter_end(year, q) for q in range(1, 5)],
        },
    )


def _secretary_act(request, pk, fn, success):
    sp = access.get_secretary_pledge_or_404(request.user, pk)
    try:
        fn(sp)
    except ValidationError as error:
        messages.error(request, "；".join(error.messages))
    else:
        messages.success(request, success)
    return redirect("pledges:secretary_pledge", org_pk=sp.org_id, year=sp.year)


@require_POST
def secretary_submit(request, pk):
    sp = access.get_secretary_pledge_or_404(request.user, pk)
    if sp.member.user_id != request.user.pk:
        raise PermissionDenied("承诺书由书记本人签字提交。")
    return _secretary_act(
        request, pk, lambda sp: services.secretary_pledge_submit(by=request.user, sp=sp),
        "已签字提交上级党组织审定。",
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def secretary_review(request, pk):
    sp = access.get_secretary_pledge_or_404(request.user, pk)
    if not org_access.can(request.user, Action.SUPERVISE, sp.org):
        raise PermissionDenied("审定意见由上一级党组织书记填写。")
    form = SecretaryReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.secretary_pledge_review(
                by=request.user, sp=sp, approve=form.cleaned_data["decision"] == "approve",
                opinion=form.cleaned_data["opinion"],
            )  # fmt: skip
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已填写审定意见。")
            return redirect("pledges:secretary_pledge", org_pk=sp.org_id, year=sp.year)
    return render(request, "pledges/secretary_review.html", {"form": form, "sp": sp})


@require_http_methods(["GET", "POST"])
def secretary_report(request, pk):
    sp = access.get_secretary_pledge_or_404(request.user, pk)
    if sp.member.user_id != request.user.pk:
        raise PermissionDenied("季度落实情况由书记本人报送。")
    today = timezone.localdate()
    current = (today.month - 1) // 3 + 1 if today.year == sp.year else 4
    form = SecretaryReportForm(request.POST or None, initial={"quarter": current})
    if request.method == "POST" and form.is_valid():
        try:
            services.secretary_report_save(by=request.user, sp=sp, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已报送本季度落实情况。")
            return redirect("pledges:secretary_pledge", org_pk=sp.org_id, year=sp.year)
    return render(request, "pledges/secretary_report.html", {"form": form, "sp": sp})


@require_GET
def secretary_ledger(request, org_pk, year):
    """台账: every secretary's pledge letter in the subtree, with its quarterly reports."""
    org = org_access.get_org_for_user(request.user, org_pk, Action.EXPORT)
    _check_year(year)
    letters = (
        SecretaryPledge.objects.filter(org.subtree_q("org__"), year=year)
        .select_related("org", "member")
        .prefetch_related("reports")
        .order_by("org__lft")
    )
    return render(
        request,
        "pledges/secretary_ledger.html",
        {"org": org, "year": year, "page": _page(request, letters), "today": timezone.localdate()},
    )


@require_GET
def mine(request):
    member = None
    if request.GET.get("member"):
        member = org_access.get_member_for_user(request.user, request.GET["member"])
    status = request.GET.get("status", "")
    if status not in PledgeStatus.values:
        status = ""  # an unknown filter lists everything rather than nothing
    items = selectors.pledges_of(user=request.user, member=member, status=status)
    query = urlencode(
        {k: v for k, v in (("member", member and member.pk), ("status", status)) if v}
    )
    return render(
        request,
        "pledges/mine.html",
        {
            "page": _page(request, items),
            "member": member,
            "query": query,
            "status": PledgeStatus(status) if status else None,
            "unfiltered": reverse("pledges:mine") + (f"?member={member.pk}" if member else ""),
        },
    )
