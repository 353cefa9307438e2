from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "领导点评与民主评议"

    def ready(self):
        from orgs import extensions
        from reviews import demo, links

        extensions.org_link_providers.append(links.org_links)
        extensions.todo_providers.append(links.todo)
        extensions.demo_seeders.append(demo.seed)
