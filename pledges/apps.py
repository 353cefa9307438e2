from django.apps import AppConfig


class PledgesConfig(AppConfig):
    name = "pledges"
    verbose_name = "公开承诺"

    def ready(self):
        from orgs import access as org_access
        from orgs import extensions
        from orgs.access import Action
        from pledges import access, demo, figures, links, obligations, services

        obligations.register()
        figures.register()
        extensions.todo_providers.append(links.todo)
        extensions.org_link_providers.append(links.org_links)
        extensions.member_link_providers.append(links.member_links)
        extensions.demo_seeders.append(demo.seed)
        extensions.member_transfer_hooks.append(services.pledge_follow_transfer)
        extensions.page_rules["pledges:year"] = lambda user, org, year: org_access.can(
            user, Action.EXPORT, org
        )
        extensions.page_rules["pledges:detail"] = access.can_view_pledge
