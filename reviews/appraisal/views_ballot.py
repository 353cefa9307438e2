"""The public voting page (`ballot`), the one public route of the appraisal, and the limits on
wrong codes. Codes and choices travel only in POST bodies (a scanned slip puts the code after '#',
which browsers never send)."""

from __future__ import annotations

import hashlib

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from orgs.http import client_address
from orgs.throttle import throttle_hit, throttle_retry_after
from reviews.appraisal import codes, selectors, services
from reviews.appraisal.access import get_appraisal_for_voting
from reviews.appraisal.models import Appraisal

# Wrong codes within FAILURE_WINDOW seconds: from one address (a meeting's Wi-Fi may be one), and
# for one serial from one address. The 60-bit secret is what stops guessing; these stop floods.
ADDRESS_LIMIT = 100
SERIAL_LIMIT = 10
FAILURE_WINDOW = 600


def vote_url(request, appraisal: Appraisal) -> str:
    """The voting page's full address, as printed on the slips and shown to the secretary."""
    return request.build_absolute_uri(reverse("vote:ballot", args=[appraisal.public_id]))


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
    appraisal = get_appraisal_for_voting(public_id)
    context = {"appraisal": appraisal, "scale": appraisal.scale}
    template = "reviews/appraisal/vote_code.html"
    step = request.POST.get("step", "") if request.method == "POST" else ""
    if step not in ("code", "cast"):
        if not appraisal.is_voting:
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
