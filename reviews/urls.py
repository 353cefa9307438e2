from django.urls import path

from reviews import views

app_name = "reviews"

urlpatterns = [
    path("quarter/<int:org_pk>/<str:period>/", views.quarter, name="quarter"),
    path("half/<int:org_pk>/<str:period>/", views.half, name="half"),
    path("member/<int:member_pk>/<str:period>/new/", views.write_member, name="write_member"),
    path("org/<int:org_pk>/<str:kind>/<str:period>/new/", views.write_org, name="write_org"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/sign/", views.sign, name="sign"),
    path("<int:pk>/correct/", views.correct, name="correct"),
    path("<int:pk>/items/", views.item_add, name="item_add"),
    path("items/<int:pk>/", views.item_update, name="item_update"),
    path("items/", views.items, name="items"),
    path("exempt/<str:kind>/<int:pk>/<str:period>/", views.exempt, name="exempt"),
    path("coverage/<int:org_pk>/<str:period>/", views.coverage, name="coverage"),
    path("draw/<int:org_pk>/", views.draw, name="draw"),
    path("draws/<int:pk>/", views.draw_detail, name="draw_detail"),
]
