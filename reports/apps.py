from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "统计报表"

    def ready(self):
        from reports import dashboards, jobs, links, obligations

        obligations.register()  # the stats_report deadline (报送 dates) and who has not reported
        jobs.register()  # the workbooks as background jobs
        links.register()  # links on organisation pages, page rules for the breadcrumbs
        dashboards.register()  # the charts on the home page
