from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "组织与党员"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from orgs import access, embedded, extensions, notices, roster_jobs
        from orgs.access import Action
        from orgs.password_policy import mark_session_at_login

        user_logged_in.connect(mark_session_at_login, dispatch_uid="orgs.password_policy")
        roster_jobs.register()
        notices.register()
        embedded.connect()
        extensions.page_rules["orgs:detail"] = lambda user, org: access.can(user, Action.VIEW, org)
        extensions.page_rules["jobs:list"] = lambda user: user.is_authenticated
        extensions.page_rules["jobs:detail"] = lambda user, job: job.user_id == user.pk
        extensions.page_rules["notices:calendar"] = lambda user: user.is_authenticated
        extensions.page_rules["orgs:member_detail"] = lambda user, member: access.can_on_member(
            user, Action.VIEW, member
        )
