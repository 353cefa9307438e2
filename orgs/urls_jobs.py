from django.urls import path

from orgs import views_jobs

app_name = "jobs"

urlpatterns = [
    path("", views_jobs.job_list, name="list"),
    path("<int:pk>/", views_jobs.job_detail, name="detail"),
    path("<int:pk>/status/", views_jobs.job_status, name="status"),
    path("<int:pk>/download/", views_jobs.job_download, name="download"),
    path("roster-export/<int:org_pk>/", views_jobs.roster_export, name="roster_export"),
]
