from django.apps import AppConfig


class PledgesConfig(AppConfig):
    name = "pledges"
    verbose_name = "公开承诺"

    def ready(self):
        from orgs import extensions
        from pledges import demo, selectors

        extensions.todo_providers.append(selectors.todo)
        extensions.org_link_providers.append(selectors.org_links)
        extensions.member_link_providers.append(selectors.member_links)
        extensions.demo_seeders.append(demo.seed)
