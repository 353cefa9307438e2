from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.decorators.http import require_GET
from django.views.generic import RedirectView

from orgs import views_accounts, views_site
from pledges.urls import public_urlpatterns
from reviews.appraisal.urls import public_urlpatterns as vote_urlpatterns

admin.site.site_header = "创先争优活动管理系统"
admin.site.site_title = "创先争优"

urlpatterns = [
    path("", views_site.home, name="home"),
    path("login/", views_accounts.login, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views_accounts.password_change, name="password_change"),
    path("healthz/", views_site.healthz, name="healthz"),
    # browsers ask for /favicon.ico whatever the page links; the static name is known only at
    # request time (hashed in production), so the redirect is temporary
    path(
        "favicon.ico",
        require_GET(login_not_required(RedirectView.as_view(url=lazy(static, str)("favicon.ico")))),
        name="favicon",
    ),
    path("orgs/", include("orgs.urls")),
    path("notices/", include("orgs.urls_notices")),
    path("jobs/", include("orgs.urls_jobs")),
    path("pledges/", include("pledges.urls")),
    path("reviews/", include("reviews.urls")),
    path("ledgers/", include("ledgers.urls")),
    path("reports/", include("reports.urls")),
    path("gs/", include((public_urlpatterns, "public"))),
    path("appraisal/", include("reviews.appraisal.urls")),
    path("py/", include((vote_urlpatterns, "vote"))),
    path("admin/", admin.site.urls),
]
