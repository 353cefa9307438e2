"""What democratic appraisal adds to the organisation, member and home pages."""

from django.urls import reverse

from orgs import access
from orgs.access import Action
from orgs.numbers import percent_text
from reviews.appraisal import selectors
from reviews.appraisal.access import can_run_appraisal, can_view_appraisal
from reviews.appraisal.models import Appraisal


def org_links(user, org) -> list[dict]:
    links = []
    if access.can(user, Action.VIEW, org) and (org.holds_members or org.get_children().exists()):
        links.append({"text": "民主评议", "url": reverse("appraisal:list", args=[org.pk])})
    for entry in selectors.published_entries(org=org)[:1]:
        rate = entry.satisfaction
        appraisal = entry.appraisal
        if entry.few_ballots and entry.subject is not None:
            # the rule of the results page: few ballots, counts for the running secretary only
            rate = entry.subject.satisfaction if can_run_appraisal(user, appraisal) else None
        text = f"{entry.year}年民主评议满意率 {percent_text(rate)}" if rate is not None else ""
        # whoever may see the appraised organisation may see its appraisal (see
        # can_view_appraisal): no query for the appraised ranges is needed on its own page
        if text and (access.can(user, Action.VIEW, org) or can_view_appraisal(user, appraisal)):
            links.append({"text": text, "url": reverse("appraisal:results", args=[appraisal.pk])})
    return links


def member_links(user, member) -> list[dict]:
    links = []
    for entry in selectors.published_entries(member=member)[:3]:
        appraisal = entry.appraisal
        if can_view_appraisal(user, appraisal):
            links.append(
                {
                    "text": f"{entry.year}年民主评议：{entry.grade_label}",
                    "url": reverse("appraisal:results", args=[appraisal.pk]),
                }
            )
    return links


def todo(user) -> list[dict]:
    running = (
        Appraisal.objects.awaiting_runner()
        .filter(org__in=access.orgs_for(user, Action.EDIT))
        .only("pk", "state")
    )
    return [
        {
            "text": "民主评议投票进行中" if a.is_voting else "民主评议结果待认定并公开",
            "url": reverse("appraisal:detail", args=[a.pk]),
            "count": 1,
        }
        for a in running
    ]
