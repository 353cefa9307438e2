from django.urls import path

from orgs import views_notices as views

app_name = "notices"

urlpatterns = [
    path("", views.notice_list, name="list"),
    path("<int:pk>/read/", views.notice_read, name="read"),
    path("read-all/", views.notice_read_all, name="read_all"),
    path("settings/", views.notice_settings, name="settings"),
    path("settings/feed/reset/", views.feed_reset, name="feed_reset"),
    path("feed/<str:token>.ics", views.feed, name="feed"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/org/<int:org_pk>/", views.org_calendar, name="org_calendar"),
    path("calendar/org/<int:org_pk>/clear/", views.org_calendar_clear, name="org_calendar_clear"),
]
