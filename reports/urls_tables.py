from django.urls import re_path

from reports import views
from reports.tables import TABLES

# a table's key and a period slug in the path: anything else is no route (404), and the other
# reports routes never fall into these patterns
TABLE = "(?P<table>{})".format("|".join(TABLES))
ORG = r"(?P<org_pk>[0-9]+)"
PERIOD = r"(?P<period>[0-9]{4}[QHY][0-9])"
DRILL = r"(?P<drill>[a-z0-9_]+(?:-[a-z0-9_]+)?)"

urlpatterns = [
    re_path(rf"^{ORG}/$", views.index, name="index"),
    re_path(rf"^{TABLE}/{ORG}/{PERIOD}/$", views.table, name="table"),
    re_path(rf"^{TABLE}/{ORG}/{PERIOD}/names/{DRILL}/$", views.names, name="names"),
]
