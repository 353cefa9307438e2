from django.urls import path

from reviews.appraisal import views, views_ballot, views_paper, views_results, views_slips

app_name = "appraisal"

urlpatterns = [
    path("org/<int:org_pk>/", views.org_list, name="list"),
    path("org/<int:org_pk>/new/", views.create, name="create"),
    path("org/<int:org_pk>/rule/", views_results.rule, name="rule"),
    path("org/<int:org_pk>/candidates/", views_results.candidates, name="candidates"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/advance/", views.advance, name="advance"),
    path("<int:pk>/restore/", views.restore, name="restore"),
    path("<int:pk>/slips/", views_slips.slips, name="slips"),
    path("<int:pk>/slips/void/", views_slips.void, name="void"),
    path("<int:pk>/paper/", views_paper.paper, name="paper"),
    path("<int:pk>/paper/discard/", views_paper.paper_discard, name="paper_discard"),
    path("<int:pk>/close/", views.close, name="close"),
    path("<int:pk>/results/", views_results.results, name="results"),
    path("<int:pk>/decide/", views_results.decide, name="decide"),
    path("<int:pk>/adopt/", views_results.adopt, name="adopt"),
    path("<int:pk>/publish/", views_results.publish, name="publish"),
    path("subjects/<int:pk>/statement/", views.statement, name="statement"),
    path("subjects/<int:pk>/exclude/", views.exclude, name="exclude"),
]

# The one public route: the short link printed on the slips.
public_urlpatterns = [path("<str:public_id>/", views_ballot.ballot, name="ballot")]
