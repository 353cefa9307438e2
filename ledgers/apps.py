import datetime

from django.apps import AppConfig


class LedgersConfig(AppConfig):
    name = "ledgers"
    verbose_name = "写实簿"

    def ready(self):
        from ledgers import demo, jobs, links, locks, obligations, services
        from orgs import extensions
        from orgs.deadlines import DeadlineKind, register_deadline
        from orgs.periods import HALF, QUARTER

        # 黑创先办[2010]12号 §四.2: branches write up members each quarter, the committee above
        # writes up organisations each half-year; the sections are signed after the period ends.
        # Who still owes a section is the ledgers' obligation rule (ledgers/obligations.py).
        register_deadline(
            DeadlineKind(
                key="ledger_member",
                label="党员写实簿季度写实",
                period_kind=QUARTER,
                default_due=lambda p: p.end + datetime.timedelta(days=15),
                source="黑创先办[2010]12号 四.2",
                order=70,
            )
        )
        register_deadline(
            DeadlineKind(
                key="ledger_org",
                label="党组织写实簿半年写实",
                period_kind=HALF,
                default_due=lambda p: p.end + datetime.timedelta(days=15),
                source="黑创先办[2010]12号 四.2",
                order=71,
            )
        )
        obligations.register()
        jobs.register()
        locks.register()
        links.register()
        extensions.demo_seeders.append(demo.seed)
        extensions.member_transfer_hooks.append(services.member_ledger_moved)
