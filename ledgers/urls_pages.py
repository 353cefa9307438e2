"""The pages of secretaries and members: the grids, one ledger, its history, and the steps taken
on them (mounted at /ledgers/ under the namespace "ledgers" by ledgers/urls.py)."""

from django.urls import path

from ledgers import views

urlpatterns = [
    # a branch's members × sections, and a parent's child organisations × sections
    path("org/<int:pk>/<int:year>/members/", views.branch, name="branch"),
    path("org/<int:pk>/<int:year>/members/sign/", views.branch_sign, name="branch_sign"),
    path("org/<int:pk>/<int:year>/orgs/", views.children, name="children"),
    path("org/<int:pk>/<int:year>/orgs/sign/", views.children_sign, name="children_sign"),
    path("org/<int:pk>/<int:year>/open/", views.open_year, name="open"),
    # one member's ledger
    path("member/<int:pk>/<int:year>/", views.member, name="member"),
    path("member/<int:pk>/<int:year>/history/", views.history, name="history"),
    path(
        "member/<int:pk>/<int:year>/<str:section>/sign/<str:slot>/",
        views.member_sign,
        name="member_sign",
    ),
    path(
        "member/<int:pk>/<int:year>/<str:section>/note/<str:kind>/",
        views.member_note,
        name="member_note",
    ),
    # one organisation's ledger
    path("orgledger/<int:pk>/<int:year>/", views.org, name="org"),
    path("orgledger/<int:pk>/<int:year>/history/", views.org_history, name="org_history"),
    path(
        "orgledger/<int:pk>/<int:year>/<str:section>/sign/<str:slot>/",
        views.org_sign,
        name="org_sign",
    ),
    path(
        "orgledger/<int:pk>/<int:year>/<str:section>/note/<str:kind>/",
        views.org_note,
        name="org_note",
    ),
    path("signature/<int:pk>/withdraw/", views.withdraw, name="withdraw"),
]
