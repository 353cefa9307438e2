"""The notice pages: the list behind the bell, the e-mail and feed settings, the calendar of the
user's organisations, the office's page that moves its subtree's dates, and the .ics feed."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgs import notices
from orgs.access import Action, get_org_for_user
from orgs.deadlines import deadline_clear, deadline_kind, deadline_set
from orgs.form_helpers import DateInput, apply_errors, first_error
from orgs.pager import page_of
from orgs.periods import Period, is_campaign_year, year_from

NOTICES_PER_PAGE = 20


# ---------------------------------------------------------------- notices


@require_GET
def notice_list(request):
    page = page_of(request, notices.notices_of(user=request.user), per_page=NOTICES_PER_PAGE)
    return render(
        request,
        "orgs/notices/notice_list.html",
        {"page": page, "rows": notices.notice_rows(page.object_list)},
    )


def _back_to_list(request):
    page = request.POST.get("page", "")
    url = reverse("notices:list")
    if page.isascii() and page.isdigit():
        url += "?" + urlencode({"page": page})
    return redirect(url)


@require_POST
def notice_read(request, pk):
    notice = notices.get_notice_for_user(request.user, pk)
    notices.notice_mark_read(notice=notice, by=request.user)
    return _back_to_list(request)


@require_POST
def notice_read_all(request):
    count = notices.notices_mark_all_read(by=request.user)
    messages.success(request, f"已将{count}条通知标为已读。" if count else "没有未读通知。")
    return _back_to_list(request)


# ---------------------------------------------------------------- settings and the feed


@require_http_methods(["GET", "POST"])
def notice_settings(request):
    if request.method == "POST":
        notices.email_preferences_set(user=request.user, by_email=request.POST.getlist("email"))
        messages.success(request, "已保存邮件提醒设置。")
        return redirect("notices:settings")
    feed = notices.calendar_feed_for(user=request.user)
    # the address the user reached this page by (the reverse proxy's host), as on the voting page
    url = request.build_absolute_uri(reverse("notices:feed", args=[feed.token]))
    return render(
        request,
        "orgs/notices/notice_settings.html",
        {
            "choices": notices.email_preferences(user=request.user),
            "feed_url": url,
            "webcal_url": re.sub(r"^https?://", "webcal://", url),
        },
    )


@require_POST
def feed_reset(request):
    notices.calendar_feed_reset(user=request.user)
    messages.success(request, "已重置日历订阅地址，旧地址已失效，请在手机日历中重新订阅。")
    return redirect("notices:settings")


@login_not_required
@require_GET
def feed(request, token):
    user = notices.feed_owner(token=token)
    if user is None:
        raise Http404("没有找到该日历。")
    response = HttpResponse(
        notices.calendar_ics(user=user, today=timezone.localdate()),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = 'inline; filename="cxzy.ics"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


# ---------------------------------------------------------------- calendars


def _year_links(year: int) -> dict:
    return {
        "previous_year": year - 1 if is_campaign_year(year - 1) else None,
        "next_year": year + 1 if is_campaign_year(year + 1) else None,
    }


@require_GET
def calendar(request):
    today = timezone.localdate()
    year = year_from(request)
    page = notices.calendar_page(user=request.user, year=year, today=today)
    return render(
        request,
        "orgs/notices/calendar.html",
        {"page": page, "year": year, "today": today, **_year_links(year)},
    )


# ASCII digits with an optional minus sign, separated by "," "，" or "、" (spaces around them
# allowed): int() alone would take "+7", "1_0" and full-width digits
_STEPS_SHAPE = re.compile(r"\s*-?[0-9]+(?:\s*[,，、]\s*-?[0-9]+)*\s*", re.ASCII)
_STEPS_SEPARATOR = re.compile(r"\s*[,，、]\s*", re.ASCII)


class DeadlineForm(forms.Form):
    kind = forms.CharField(widget=forms.HiddenInput)
    period = forms.CharField(widget=forms.HiddenInput)
    due_on = forms.DateField(label="截止日期", widget=DateInput)
    steps = forms.CharField(
        label="提醒时间",
        max_length=60,
        help_text="截止前的天数，用逗号或顿号分隔；负数为截止后，如 7,1,-1",
    )

    def clean_steps(self):
        text = self.cleaned_data["steps"]
        if not _STEPS_SHAPE.fullmatch(text):
            raise ValidationError(
                "提醒时间须为整数天数（截止后的加负号），用逗号或顿号分隔，如 7,1,-1。"
            )
        return [int(part) for part in _STEPS_SEPARATOR.split(text.strip())]


def _row_id(resolved) -> str:
    return f"{resolved.kind.key}-{resolved.period.slug}"


def _deadline_form(resolved, data=None) -> DeadlineForm:
    return DeadlineForm(
        data,
        auto_id=f"d-{_row_id(resolved)}-%s",
        initial={
            "kind": resolved.kind.key,
            "period": resolved.period.slug,
            "due_on": resolved.due_on,
            "steps": notices.steps_text(resolved.steps),
        },
    )


def _org_calendar_url(org, year: int, anchor: str = "") -> str:
    url = reverse("notices:org_calendar", args=[org.pk]) + "?" + urlencode({"year": year})
    return url + (f"#{anchor}" if anchor else "")


@require_http_methods(["GET", "POST"])
def org_calendar(request, org_pk):
    org = get_org_for_user(request.user, org_pk, Action.CONFIGURE)
    year = year_from(request)
    deadlines = notices.org_calendar(org=org, year=year)
    posted_key, posted_form = None, None
    if request.method == "POST":
        key = (request.POST.get("kind", ""), request.POST.get("period", ""))
        target = next((r for r in deadlines if (r.kind.key, r.period.slug) == key), None)
        if target is None or target.kind.setting_dates is not None:
            messages.error(request, "没有找到这个截止事项，请刷新页面后重试。")
            return redirect(_org_calendar_url(org, year))
        form = _deadline_form(target, request.POST)
        if form.is_valid():
            try:
                deadline_set(
                    by=request.user,
                    org=org,
                    kind=target.kind.key,
                    period=target.period,
                    due_on=form.cleaned_data["due_on"],
                    steps=form.cleaned_data["steps"],
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(
                    request,
                    f"已设置{target.kind.label}（{target.period.label}）的截止日期，"
                    f"适用于{org.name}及其下级组织。",
                )
                return redirect(_org_calendar_url(org, year, _row_id(target)))
        messages.error(
            request, f"{target.kind.label}（{target.period.label}）未保存。{first_error(form)}"
        )
        posted_key, posted_form = key, form
    rows = []
    for resolved in deadlines:
        key = (resolved.kind.key, resolved.period.slug)
        setting_url = None
        if resolved.kind.setting_dates is not None and resolved.kind.setting_url is not None:
            setting_url = resolved.kind.setting_url(org, year)
        rows.append(
            {
                "deadline": resolved,
                "id": _row_id(resolved),
                "form": posted_form if key == posted_key else _deadline_form(resolved),
                "own": resolved.row is not None and resolved.row.org_id == org.pk,
                "from_setting": resolved.kind.setting_dates is not None,
                "setting_url": setting_url,
                "steps_label": notices.steps_label(resolved.steps),
            }
        )
    return render(
        request,
        "orgs/notices/org_calendar.html",
        {"org": org, "year": year, "rows": rows, **_year_links(year)},
    )


@require_POST
def org_calendar_clear(request, org_pk):
    org = get_org_for_user(request.user, org_pk, Action.CONFIGURE)
    year = year_from(request)
    try:
        period = Period.parse(request.POST.get("period", ""))
        kind = deadline_kind(request.POST.get("kind", ""))
    except (ValueError, KeyError):
        messages.error(request, "没有找到这个截止事项，请刷新页面后重试。")
        return redirect(_org_calendar_url(org, year))
    try:
        cleared = deadline_clear(by=request.user, org=org, kind=kind.key, period=period)
    except ValidationError as error:
        messages.error(request, "；".join(error.messages))
    else:
        if cleared:
            messages.success(
                request, f"{kind.label}（{period.label}）已恢复为上级设置（或默认日期）。"
            )
        else:
            messages.info(request, f"{org.name}没有单独设置{kind.label}（{period.label}）的日期。")
    return redirect(_org_calendar_url(org, period.year, f"{kind.key}-{period.slug}"))
