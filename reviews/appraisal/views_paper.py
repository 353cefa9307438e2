"""Paper sheets (纸质评议表): the tellers' page, where two independent tellers each enter a
group's count, and clearing a group's unconfirmed entries."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from orgs.access import Action
from orgs.feedback import show_refusal
from orgs.form_helpers import apply_errors, first_error
from reviews.appraisal import selectors, services
from reviews.appraisal.access import (
    can_count_appraisal,
    can_run_appraisal,
    get_appraisal_for_user,
)
from reviews.appraisal.forms import GroupForm, PaperForm
from reviews.appraisal.models import Group
from reviews.appraisal.services.paper import CONFIRMED, MISMATCH, WAITING

OUTCOME_TEXT = {
    WAITING: "已保存。请另一位计票人独立录入，两次一致后计入结果。",
    MISMATCH: "已保存，但与另一位计票人的录入不一致，请共同核对纸质评议表后更正。",
    CONFIRMED: "两位计票人录入一致，已计入评议结果。",
}


def _group_page(appraisal, group: str):
    return redirect(reverse("appraisal:paper", args=[appraisal.pk]) + f"?group={group}")


@require_http_methods(["GET", "POST"])
def paper(request, pk):
    appraisal = get_appraisal_for_user(request.user, pk)
    if not can_count_appraisal(request.user, appraisal):
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
    mine = selectors.paper_entry(appraisal=appraisal, group=group, teller=request.user)
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
            if not outcome.is_mismatch:
                messages.success(request, OUTCOME_TEXT[outcome.state])
                return _group_page(appraisal, group)
            messages.error(request, OUTCOME_TEXT[outcome.state])
    desk = selectors.paper_desk(appraisal=appraisal, group=group, teller=request.user)
    refusal = services.teller_refusal(request.user, appraisal)
    pair_refusal = ""
    if not refusal and appraisal.is_voting and desk.confirmed is None:
        pair_refusal = services.co_teller_refusal(request.user, appraisal, group)
    differences = []
    if outcome is not None:
        differences = outcome.differences
    elif mine is not None and desk.other is not None:
        differences = services.paper_differences(mine, desk.other, [s.name for s in subjects])
    return render(
        request,
        "reviews/appraisal/paper.html",
        {
            "appraisal": appraisal,
            "form": form,
            "group": group,
            "group_label": Group(group).label,
            "groups": appraisal.groups,
            "status": desk.rows,
            "confirmed": desk.confirmed,
            "differences": differences,
            "labels": list(appraisal.scale) + ["弃权"],
            "runner": can_run_appraisal(request.user, appraisal),
            "refusal": refusal,
            "pair_refusal": pair_refusal,
        },
    )


@require_POST
def paper_discard(request, pk):
    appraisal = get_appraisal_for_user(request.user, pk, Action.EDIT)
    form = GroupForm(request.POST, groups=appraisal.groups)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect("appraisal:paper", pk=appraisal.pk)
    group = form.cleaned_data["group"]
    try:
        n = services.paper_discard(by=request.user, appraisal=appraisal, group=group)
    except ValidationError as error:
        show_refusal(request, error)
    else:
        messages.success(request, f"已清除 {n} 份未核对的录入，请重新录入。")
    return _group_page(appraisal, group)
