"""What pledges adds to the home page (to-dos) and to the organisation and member pages (links)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from orgs import access as org_access
from orgs.access import Action
from pledges import access, selectors
from pledges.models import PledgeStatus


def todo(user) -> list[dict]:
    """Home-page items: pledges to vet, own pledges to revise, overdue and open rectifications."""
    items = []
    to_vet = selectors.vet_queue(user=user).count()
    if to_vet:
        items.append(
            {"text": "待审核的公开承诺", "url": reverse("pledges:vet_queue"), "count": to_vet}
        )
    returned = selectors.returned_count(user=user)
    if returned:
        url = reverse("pledges:mine") + f"?status={PledgeStatus.RETURNED}"
        items.append({"text": "退回修改的承诺", "url": url, "count": returned})
    late, more = selectors.capped_count(
        selectors.overdue(user=user, within=None, today=timezone.localdate())
    )
    if late:
        items.append(
            {
                "text": "超期未完成的承诺",
                "url": reverse("pledges:overdue"),
                "count": late,
                "more": more,
            }
        )
    open_items, more = selectors.capped_count(selectors.open_rectifications_for(user=user))
    if open_items:
        items.append(
            {
                "text": "未销号的整改",
                "url": reverse("pledges:rectifications"),
                "count": open_items,
                "more": more,
            }
        )
    return items


def org_links(user, org) -> list[dict]:
    if not org_access.can(user, Action.EXPORT, org):
        return []
    year = timezone.localdate().year
    links = []
    if org.holds_members:
        links.append(
            {"text": f"{year}年公开承诺", "url": reverse("pledges:year", args=[org.pk, year])}
        )
    if org.secretary_id:
        links.append(
            {
                "text": "书记公开承诺书",
                "url": reverse("pledges:secretary_pledge", args=[org.pk, year]),
            }
        )
    links.append({"text": "承诺督查", "url": reverse("pledges:overdue") + f"?org={org.pk}"})
    links.append(
        {"text": "需补课名单", "url": reverse("pledges:missing") + f"?org={org.pk}&year={year}"}
    )
    if not org.holds_members:
        links.append(
            {
                "text": "书记承诺台账",
                "url": reverse("pledges:secretary_ledger", args=[org.pk, year]),
            }
        )
    if access.can_set_window(user, org):
        links.append({"text": "年度承诺时间", "url": reverse("pledges:window", args=[org.pk])})
    if org.holds_members:
        links.append({"text": "承诺公示栏", "url": reverse("public:notice", args=[org.code])})
    return links


def member_links(user, member) -> list[dict]:
    links = [{"text": "承诺记录", "url": reverse("pledges:mine") + f"?member={member.pk}"}]
    if access.can_create_member_pledge(user, member):
        links.append(
            {"text": "提出承诺", "url": reverse("pledges:create_member", args=[member.pk])}
        )
    return links
