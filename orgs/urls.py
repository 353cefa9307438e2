from django.urls import path

from orgs import views, views_accounts

app_name = "orgs"

urlpatterns = [
    path("<int:pk>/", views.org_detail, name="detail"),
    path("<int:parent_pk>/new/", views.org_create, name="create"),
    path("<int:pk>/edit/", views.org_edit, name="edit"),
    path("<int:pk>/move/", views.org_move, name="move"),
    path("<int:pk>/figures/", views.org_figures, name="figures"),
    path("<int:pk>/roles/", views_accounts.roles, name="roles"),
    path("<int:pk>/roles/revoke/", views_accounts.role_revoke, name="role_revoke"),
    path("<int:pk>/roster/export/", views.roster_export, name="roster_export"),
    path("<int:pk>/roster/import/", views.roster_import, name="roster_import"),
    path("<int:org_pk>/members/new/", views.member_create, name="member_create"),
    path("roster/template/", views.roster_template, name="roster_template"),
    path("members/", views.member_list, name="member_list"),
    path("members/<int:pk>/", views.member_detail, name="member_detail"),
    path("members/<int:pk>/edit/", views.member_edit, name="member_edit"),
    path("members/<int:pk>/transfer/", views.member_transfer, name="member_transfer"),
]
