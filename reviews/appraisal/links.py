"""What democratic appraisal adds to the organisation, member and home pages."""

from django.urls import reverse

from orgs import access
from orgs.access import Action
from reviews.appraisal import selectors
from reviews.appraisal.models import Appraisal, AppraisalState


def org_links(user, org) -> list[dict]:
    links = []
    if access.can(user, Action.VIEW, org) and (org.holds_members or org.get_children().exists()):
        links.append({"text": "民主评议", "url": reverse("appraisal:list", args=[org.pk])})
    for entry in selectors.record_entries(org=org)[:1]:
        rate = entry["satisfaction"]
        appraisal = entry["appraisal"]
        if entry["few_ballots"] and entry["subject"] is not None:
            # the rule of the results page: few ballots, counts for the running secretary only
            runner = access.can(user, Action.EDIT, appraisal.org)
            rate = entry["subject"].satisfaction if runner else None
        text = f"{entry['year']}年民主评议满意率 {rate * 100:.1f}%" if rate is not None else ""
        # whoever may see the appraised organisation may see its appraisal (see may_view): no
        # query for the appraised ranges is needed on that organisation's own page
        if text and (access.can(user, Action.VIEW, org) or selectors.may_view(user, appraisal)):
            links.append({"text": text, "url": reverse("appraisal:results", args=[appraisal.pk])})
    return links


def member_links(user, member) -> list[dict]:
    links = []
    for entry in selectors.record_entries(member=member)[:3]:
        appraisal = entry["appraisal"]
        if selectors.may_view(user, appraisal):
            links.append(
                {
                    "text": f"{entry['year']}年民主评议：{entry['grade']}",
                    "url": reverse("appraisal:results", args=[appraisal.pk]),
                }
            )
    return links


def todo(user) -> list[dict]:
    running = Appraisal.objects.filter(
        org__in=access.orgs_for(user, Action.EDIT),
        state__in=[AppraisalState.VOTING, AppraisalState.CLOSED],
    ).values_list("pk", "state")
    items = []
    for pk, state in running:
        text = (
            "民主评议投票进行中" if state == AppraisalState.VOTING else "民主评议结果待认定并公开"
        )
        items.append({"text": text, "url": reverse("appraisal:detail", args=[pk]), "count": 1})
    return items
