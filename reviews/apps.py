from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "领导点评与民主评议"

    def ready(self):
        from orgs import access, extensions
        from orgs.access import Action
        from reviews import demo, figures, links, obligations
        from reviews.appraisal import access as appraisal_access
        from reviews.appraisal import demo as appraisal_demo
        from reviews.appraisal import figures as appraisal_figures
        from reviews.appraisal import jobs as appraisal_jobs
        from reviews.appraisal import links as appraisal_links

        obligations.register()
        figures.register()
        appraisal_figures.register()
        appraisal_jobs.register()
        extensions.org_link_providers.append(links.org_links)
        extensions.org_link_providers.append(appraisal_links.org_links)
        extensions.member_link_providers.append(appraisal_links.member_links)
        extensions.member_section_providers.append(member_reviews_section)
        extensions.todo_providers.append(links.todo)
        extensions.todo_providers.append(appraisal_links.todo)
        extensions.demo_seeders.append(demo.seed)
        extensions.demo_seeders.append(appraisal_demo.seed)
        extensions.page_rules["appraisal:list"] = lambda user, org: access.can(
            user, Action.VIEW, org
        )
        extensions.page_rules["appraisal:detail"] = appraisal_access.can_view_appraisal


def member_reviews_section(user, member) -> list[dict]:
    """The member page's 领导点评: all the reader may read (drafts marked) — signed ones only for
    the member themselves."""
    from reviews import selectors

    return [
        {
            "title": "领导点评",
            "template": "reviews/_member_reviews.html",
            "reviews": selectors.member_reviews(user=user, member=member),
        }
    ]
