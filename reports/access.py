"""Who may read the statistics of an organisation, report them upward and return a report.

Reading: every reading role over the organisation (orgs.access.READING: a secretary or deputy
of it or of an organisation above, office staff whose range covers it), so a branch secretary
reads the branch's own tables and a county office every table in the county. A member or a
contact leader sees the organisation's page but not its statistics (403); outside the scope
the organisation is a 404.

Reporting (报送) is done by the organisation itself: its office staff or its secretary (or the
deputy acting for the secretary). A report is returned by those of the parent, which received
it.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from orgs.access import LEADING, READING, Action, get_org_for_user, grants_for
from orgs.models import Organization, Role

REPORTING = LEADING | {Role.OFFICE}


def can_read_stats(user, org: Organization) -> bool:
    """Whether `user` reads `org`'s statistics tables and the names behind them: a reading role
    over it. No query beyond the cached grants."""
    return any(g.role in READING and g.covers(org) for g in grants_for(user))


def get_org_for_stats(user, pk) -> Organization:
    """The active organisation `pk` whose statistics the user reads: 404 outside the user's
    scope (or for an organisation no longer active, which the tables leave out), 403 for one
    the user sees without a reading role."""
    org = get_org_for_user(user, pk, Action.VIEW)
    if not org.is_active:
        raise Http404("没有找到该党组织。")
    if not can_read_stats(user, org):
        raise PermissionDenied("您没有权限查看该组织的统计报表。")
    return org


def can_submit(user, org: Organization) -> bool:
    """Whether `user` reports `org`'s tables upward (报送): office staff, the secretary or the
    deputy held at `org` itself — a role above reports for its own organisation, not for this
    one."""
    return any(g.role in REPORTING and g.org_id == org.pk for g in grants_for(user))


def can_return(user, submission_org: Organization) -> bool:
    """Whether `user` returns a report of `submission_org` to be done again: office staff, the
    secretary or the deputy of its parent, to whom it was sent."""
    parent_id = submission_org.parent_id
    return parent_id is not None and any(
        g.role in REPORTING and g.org_id == parent_id for g in grants_for(user)
    )
