"""The county office's inspection, the verify page, the printed forms and the batch print."""

from django.urls import path

from ledgers import views_office, views_print

urlpatterns = [
    path("inspection/<int:pk>/<str:half>/", views_office.inspection, name="inspection"),
    path("inspection/<int:pk>/<str:half>/unsigned/", views_office.unsigned, name="unsigned"),
    path("verify/<int:pk>/", views_office.verify, name="verify"),
    path("member/<int:pk>/<int:year>/pdf/", views_print.member_pdf, name="member_pdf"),
    path("orgledger/<int:pk>/<int:year>/pdf/", views_print.org_pdf, name="org_pdf"),
    path("review/<int:pk>/pdf/", views_print.review_pdf, name="review_pdf"),
    path("reviews/<int:pk>/<str:period>/pdf/", views_print.reviews_pdf, name="reviews_pdf"),
    path("letter/<int:pk>/pdf/", views_print.letter_pdf, name="letter_pdf"),
    path("org/<int:pk>/<int:year>/batch/", views_print.batch, name="batch"),
]
