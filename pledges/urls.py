from django.urls import path

from pledges import views, views_letters

app_name = "pledges"

urlpatterns = [
    path("org/<int:org_pk>/<int:year>/", views.year_view, name="year"),
    path("org/<int:org_pk>/<int:year>/publish/", views.publish_approved, name="publish_approved"),
    path("org/<int:org_pk>/new/", views.create_org_pledge, name="create_org"),
    path("member/<int:member_pk>/new/", views.create_member_pledge, name="create_member"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/submit/", views.submit, name="submit"),
    path("<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("<int:pk>/approve/", views.approve, name="approve"),
    path("<int:pk>/reopen/", views.reopen, name="reopen"),
    path("<int:pk>/return/", views.return_, name="return"),
    path("<int:pk>/publish/", views.publish, name="publish"),
    path("<int:pk>/fulfil/", views.fulfil, name="fulfil"),
    path("<int:pk>/rectify/", views.rectify, name="rectify"),
    path("<int:pk>/evaluate/", views.evaluate, name="evaluate"),
    path("<int:pk>/repledge/", views.repledge, name="repledge"),
    path("mine/", views.mine, name="mine"),
    path("vet/", views.vet_queue, name="vet_queue"),
    path("vet/approve/", views.bulk_approve, name="bulk_approve"),
    path("overdue/", views.overdue, name="overdue"),
    path("missing/", views.missing, name="missing"),
    path("rectifications/", views.rectifications, name="rectifications"),
    path("rectifications/<int:pk>/", views.rectification, name="rectification"),
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
    path("window/<int:org_pk>/", views.window, name="window"),
    path(
        "secretary/<int:org_pk>/<int:year>/",
        views_letters.secretary_pledge,
        name="secretary_pledge",
    ),
    path(
        "secretary/letters/<int:pk>/submit/",
        views_letters.secretary_submit,
        name="secretary_submit",
    ),
    path(
        "secretary/letters/<int:pk>/review/",
        views_letters.secretary_review,
        name="secretary_review",
    ),
    path(
        "secretary/letters/<int:pk>/report/",
        views_letters.secretary_report,
        name="secretary_report",
    ),
    path(
        "secretary/ledger/<int:org_pk>/<int:year>/",
        views_letters.secretary_ledger,
        name="secretary_ledger",
    ),
]

public_urlpatterns = [
    path("<str:code>/", views.public_notice, name="notice"),
    path("<str:code>/qr.svg", views.public_qr, name="qr"),
]
