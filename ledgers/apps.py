from django.apps import AppConfig


class LedgersConfig(AppConfig):
    name = "ledgers"
    verbose_name = "写实簿"

    def ready(self):
        from ledgers import demo, figures, jobs, links, locks, obligations, services, views_office
        from orgs import extensions

        # the deadlines ledger_member and ledger_org, with who still owes their signatures
        obligations.register()
        figures.register()
        jobs.register()
        locks.register()
        links.register()
        extensions.demo_seeders.append(demo.seed)
        extensions.member_transfer_hooks.append(services.member_ledger_moved)
        views_office.register_pages()
