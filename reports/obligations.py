"""The 报送 dates on the campaign calendar, and who has not yet reported.

黑创先办[2010]11号 §4: the 各地各单位 report to the office above on fixed dates (the 16th of the
month); by default the 16th of the month after each quarter, which an office with CONFIGURE moves
on the calendar page. The obligation: every organisation that reports to its parent
(reports.submissions.reporting_orgs — the same rule as the parent's page) and has no current
report for the quarter, that is none, or only versions the parent returned. Its office staff and
secretary (or the deputy) are reminded; the day after the date, the parent's.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator

from django.db.models import Exists, OuterRef
from django.urls import reverse

from orgs.deadlines import DeadlineKind, Gap, register_deadline
from orgs.models import Role
from orgs.periods import QUARTER, Period
from reports.models import Submission
from reports.submissions import REPORT_KIND, reporting_orgs

_MARK = 987654321  # an id no organisation has, replaced in the one reversed address


def _submit_urls(period: Period) -> Callable[[int], str]:
    """The submit page of each organisation for `period`, reversed once (not once for each of
    thousands of organisations)."""
    path = reverse("reports:submission_submit", kwargs={"pk": _MARK, "period": period.slug})
    head, _, tail = path.partition(str(_MARK))
    return lambda org_id: f"{head}{org_id}{tail}"


def report_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    """The organisations (among `org_ids`; None: all) that owe a report for the quarter `period`
    and have none that stands: one query."""
    if org_ids is not None and not org_ids:
        return
    owing = reporting_orgs()
    if org_ids is not None:
        owing = owing.filter(pk__in=sorted(org_ids))
    standing = Submission.objects.filter(period=period.slug, returned__isnull=True)
    returned = Submission.objects.filter(
        period=period.slug, org_id=OuterRef("pk"), returned__isnull=False
    )
    rows = (
        owing.exclude(pk__in=standing.values("org_id"))
        .annotate(was_returned=Exists(returned))
        .order_by()
        .values_list("pk", "was_returned")
    )
    url = _submit_urls(period)
    for org_id, was_returned in rows.iterator(chunk_size=2000):
        text = (
            f"{period.label}统计报表已被上级退回，请修改后重新报送"
            if was_returned
            else f"{period.label}统计报表未报送"
        )
        yield Gap(org_id, 1, text, url(org_id))


def _after_the_quarter(period: Period) -> datetime.date:
    return (period.end + datetime.timedelta(days=1)).replace(day=16)


STATS_REPORT = DeadlineKind(
    key=REPORT_KIND,
    label="统计报表报送",
    period_kind=QUARTER,
    default_due=_after_the_quarter,
    gaps=report_gaps,
    # those who may submit (reports.access.can_submit); a committee without office staff
    # reports through its secretary
    roles=(Role.OFFICE, Role.SECRETARY, Role.DEPUTY),
    source="黑创先办[2010]11号 4",
    order=80,
)


def register() -> None:
    """Declare the 报送 deadline with its rule (called once from the AppConfig)."""
    register_deadline(STATS_REPORT)
