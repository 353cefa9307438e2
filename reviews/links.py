"""What reviews adds to the organisation page and the home page."""

from django.urls import reverse
from django.utils import timezone

from orgs import access
from orgs.access import Action
from orgs.periods import HALF, QUARTER, Period
from reviews import selectors


def org_links(user, org) -> list[dict]:
    if not access.can(user, Action.EXPORT, org):
        return []
    today = timezone.localdate()
    q, h = Period.containing(today, QUARTER), Period.containing(today, HALF)
    links = []
    if org.holds_members:
        links.append(
            {"text": f"{q.label}党员点评", "url": reverse("reviews:quarter", args=[org.pk, q.slug])}
        )
    if org.get_children().exists():
        links.append(
            {"text": f"{h.label}点评下级", "url": reverse("reviews:half", args=[org.pk, h.slug])}
        )
    links.append({"text": "点评覆盖", "url": reverse("reviews:coverage", args=[org.pk, q.slug])})
    return links


def todo(user) -> list[dict]:
    today = timezone.localdate()
    late = selectors.late_rectifications_count(user=user, today=today)
    if late:
        return [{"text": "逾期的点评整改事项", "url": reverse("reviews:items"), "count": late}]
    return []
