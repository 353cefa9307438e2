from __future__ import annotations

import io

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgs import access as org_access
from orgs.access import Action
from orgs.feedback import show_refusal
from orgs.form_helpers import apply_errors, first_error
from orgs.models import Organization
from orgs.pager import PAGE_SIZE, page_of
from orgs.periods import year_from, year_or_404
from pledges import access, selectors, services
from pledges.access import PledgeAction
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
    WindowForm,
    WithdrawForm,
)
from pledges.models import SECTOR_HINTS, PledgeStatus

# The queue shows a page of pledges at a time, so no one ticks more at once.
BULK_LIMIT = PAGE_SIZE


def _within(request) -> Organization | None:
    if request.GET.get("org"):
        return org_access.get_org_for_user(request.user, request.GET["org"], Action.EXPORT)
    return None


# ---------------------------------------------------------------- the branch's year


@require_GET
def year_view(request, org_pk, year):
    org = org_access.get_org_for_user(request.user, org_pk, Action.EXPORT)
    year_or_404(year)
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
            "may_create": access.can_create_org_pledge(request.user, org),
            "may_publish": access.can_publish_org_pledges(request.user, org),
            "may_configure": access.can_set_window(request.user, org),
            **selectors.branch_year(org=org, year=year, today=today),
        },
    )


@require_POST
def publish_approved(request, org_pk, year):
    """Publish every approved pledge of the branch and its members for the year."""
    org = org_access.get_org_for_user(request.user, org_pk, Action.EDIT)
    year_or_404(year)
    try:
        count = services.pledges_publish_approved(by=request.user, org=org, year=year)
    except ValidationError as error:
        show_refusal(request, error)
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
    year = year_from(request)
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
    if not access.can_create_member_pledge(request.user, member):
        raise PermissionDenied("只有党员本人或所在支部书记可以提出党员承诺。")
    year = year_from(request)
    form = MemberPledgeForm(request.POST or None, initial={"kind": "annual"})
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        code = data.pop("community_code")
        community = None
        if code:
            community = selectors.active_org_by_code(code=code)
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
    pledge = access.get_pledge_for_user(request.user, pk)
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
            "may_write": access.can_edit_pledge(user, pledge),
            "may_vet": access.can_vet_pledge(user, pledge),
            "may_withdraw": pledge.is_awaiting_vetting and access.can_withdraw_pledge(user, pledge),
            "may_publish": access.can_publish_pledge(user, pledge),
            "returned": selectors.return_reason(pledge=pledge),
            "return_form": ReturnForm(),
        },
    )


@require_http_methods(["GET", "POST"])
def edit(request, pk):
    pledge = access.get_pledge_for_user(request.user, pk, PledgeAction.EDIT)
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


def _act(request, pk, check: PledgeAction, action, success):
    pledge = access.get_pledge_for_user(request.user, pk, check)
    try:
        action(pledge)
    except ValidationError as error:
        show_refusal(request, error)
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
        request, pk, PledgeAction.EDIT,
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
    pledge = access.get_pledge_for_user(request.user, pk, check)
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
        check=PledgeAction.WITHDRAW,
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
            "page": page_of(request, selectors.vet_queue(user=request.user)),
            "return_form": ReturnForm(),
        },
    )


@require_http_methods(["GET", "POST"])
def approve(request, pk):
    """审定通过 asks first: the page shows what is approved and a box to tick."""
    pledge = access.get_pledge_for_user(request.user, pk, PledgeAction.VET)
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
        check=PledgeAction.VET,
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
        pledge = access.get_pledge_for_user(request.user, pk, PledgeAction.VET)
        messages.error(request, first_error(form))
        return redirect(_next(request) or reverse("pledges:detail", args=[pledge.pk]))
    return _act(
        request, pk, PledgeAction.VET,
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
            show_refusal(request, error, prefix="未审定任何承诺：")
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
        request, pk, PledgeAction.PUBLISH,
        lambda p: services.pledge_publish(by=request.user, pledge=p), "已公示。",
    )  # fmt: skip


# ---------------------------------------------------------------- 履诺


@require_http_methods(["GET", "POST"])
def fulfil(request, pk):
    pledge = access.get_pledge_for_user(request.user, pk, PledgeAction.EDIT)
    periods = pledge.reporting_periods(timezone.localdate())
    initial = {"period": FulfilmentForm.period_value(periods[-1])} if periods else {}
    form = FulfilmentForm(
        request.POST or None, periods=periods, initial=initial, done=pledge.is_done
    )
    if request.method == "POST" and form.is_valid():
        period = form.cleaned_data["period"]
        try:
            services.fulfilment_record(
                by=request.user,
                pledge=pledge,
                year=period.year,
                period=period.number,
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
    item = access.get_attachment_for_user(request.user, pk)
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
        request, "pledges/overdue.html", {"page": page_of(request, items), "within": within}
    )


@require_GET
def missing(request):
    within = _within(request)
    if within is None:
        within = org_access.orgs_for(request.user, Action.EXPORT).order_by("level", "lft").first()
    year = year_from(request)
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
            "members": page_of(request, members),
            "orgs": orgs[:200],
            "org_count": orgs.count(),
        },
    )


@require_http_methods(["GET", "POST"])
def rectify(request, pk):
    pledge = access.get_pledge_for_user(request.user, pk, PledgeAction.VET)
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
    page = page_of(request, selectors.rectifications_for(user=request.user, within=within))
    page.object_list = selectors.rectification_rows(page.object_list)
    return render(
        request,
        "pledges/rectifications.html",
        {"page": page, "within": within, "today": timezone.localdate()},
    )


@require_http_methods(["GET", "POST"])
def rectification(request, pk):
    item = access.get_rectification_for_user(request.user, pk)
    pledge = item.pledge
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
                show_refusal(request, error)
            else:
                apply_errors(form, error)
    return render(
        request,
        "pledges/rectification.html",
        {
            "item": item,
            "pledge": pledge,
            "form": form,
            "may_respond": access.can_respond_rectification(request.user, item),
            "may_close": access.can_close_rectification(request.user, item),
        },
    )


# ---------------------------------------------------------------- 评诺 and 再承诺


@require_http_methods(["GET", "POST"])
def evaluate(request, pk):
    pledge = access.get_pledge_for_user(request.user, pk, PledgeAction.VET)
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
    previous = access.get_pledge_for_user(request.user, pk, PledgeAction.EDIT)
    year = year_from(request, default=max(previous.year, timezone.localdate().year))
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
    year = year_from(request)
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
    org = selectors.active_org_by_code(code=code)
    if org is None:
        raise Http404("没有找到该党组织。")
    return org


@login_not_required
@require_GET
def public_notice(request, code):
    org = _public_org(code)
    year = year_from(request)
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
            "page": page_of(request, items),
            "member": member,
            "query": query,
            "status": PledgeStatus(status) if status else None,
            "unfiltered": reverse("pledges:mine") + (f"?member={member.pk}" if member else ""),
        },
    )
