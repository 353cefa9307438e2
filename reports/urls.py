from reports import urls_excel, urls_submissions, urls_tables

app_name = "reports"

urlpatterns = urls_tables.urlpatterns + urls_excel.urlpatterns + urls_submissions.urlpatterns
