from django.apps import AppConfig


class PledgesConfig(AppConfig):
    name = "pledges"
    verbose_name = "公开承诺"

    def ready(self):
        from orgs import access as org_access
        from orgs import extensions
        from orgs.access import Action
        from pledges import access, demo, selectors, services

        extensions.todo_providers.append(selectors.todo)
        extensions.org_link_providers.append(selectors.org_links)
        extensions.member_link_providers.append(selectors.member_links)
        extensions.demo_seeders.append(demo.seed)
        extensions.member_transfer_hooks.append(services.pledge_follow_transfer)
        extensions.page_rules["pledges:year"] = lambda user, org, year: org_access.can(
            user, Action.EXPORT, org
        )
        extensions.page_rules["pledges:detail"] = access.may_view
