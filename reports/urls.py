from reports import urls_submissions, urls_tables

app_name = "reports"

urlpatterns = urls_tables.urlpatterns + urls_submissions.urlpatterns
