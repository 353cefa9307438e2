import datetime

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "统计报表"

    def ready(self):
        from orgs.deadlines import DeadlineKind, register_deadline
        from orgs.periods import QUARTER

        # 黑创先办[2010]11号 §4: reports to the provincial office on fixed dates (the 16th of the
        # month); by default the 16th of the month after each quarter. Who has not yet reported
        # is the statistics' obligation rule, added with the tables.
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
