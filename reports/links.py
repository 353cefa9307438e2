"""What the statistics add to the other pages: the "统计报表" link on an organisation's page, and
the page rules of the table routes (so a breadcrumb links them only for their readers)."""

from __future__ import annotations

from django.urls import reverse

from orgs import extensions
from orgs.models import Organization
from reports.access import can_read_stats


def may_read(user, org: Organization) -> bool:
    return org.is_active and can_read_stats(user, org)


def org_links(user, org: Organization) -> list[dict]:
    """The organisation's tables, for its readers: no query beyond the grants."""
    if not may_read(user, org):
        return []
    return [{"text": "统计报表", "url": reverse("reports:index", args=[org.pk])}]


def register() -> None:
    from reports.submissions import submission_links

    extensions.org_link_providers.append(org_links)
    extensions.org_link_providers.append(submission_links)
    extensions.page_rules["reports:index"] = may_read
    extensions.page_rules["reports:submissions"] = may_read
    extensions.page_rules["reports:submission_detail"] = lambda user, submission: may_read(
        user, submission.org
    )
    extensions.page_rules["reports:table"] = lambda user, table, org, period: may_read(user, org)
    extensions.page_rules["reports:names"] = lambda user, table, org, period, drill: may_read(
        user, org
    )
