"""报送: an organisation's report dates and versions, submitting, the parent's view of its
children, one submission, its return and its attachments.

Every path has a word in its second place, so none is taken for a table's
`<table>/<org_pk>/<period>/` address."""

from django.urls import path

from reports import views_submissions as views

urlpatterns = [
    path("submissions/org/<int:pk>/", views.org_page, name="submissions"),
    path(
        "submissions/org/<int:pk>/<str:period>/submit/",
        views.submit,
        name="submission_submit",
    ),
    path(
        "submissions/org/<int:pk>/<str:period>/children/",
        views.children,
        name="submission_children",
    ),
    path("submissions/view/<int:pk>/", views.detail, name="submission_detail"),
    path("submissions/view/<int:pk>/return/", views.return_submission, name="submission_return"),
    path("submissions/file/<int:pk>/", views.attachment, name="submission_attachment"),
]
