"""The 报送 dates on the campaign calendar, and who has not yet reported (filled in next)."""

import datetime

from orgs.deadlines import DeadlineKind, register_deadline
from orgs.periods import QUARTER


def register() -> None:
    # 黑创先办[2010]11号 §4: reports to the provincial office on fixed dates (the 16th of the
    # month); by default the 16th of the month after each quarter.
    register_deadline(
        DeadlineKind(
            key="stats_report",
            label="统计报表报送",
            period_kind=QUARTER,
            default_due=lambda p: (p.end + datetime.timedelta(days=1)).replace(day=16),
            roles=("office",),
            source="黑创先办[2010]11号 4",
            order=80,
        )
    )
