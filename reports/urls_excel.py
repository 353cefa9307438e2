from django.urls import re_path

from reports import views_excel
from reports.urls_tables import ORG, PERIOD, TABLE

urlpatterns = [
    re_path(rf"^{TABLE}/{ORG}/{PERIOD}/xlsx/$", views_excel.table_xlsx, name="xlsx"),
    re_path(rf"^{ORG}/xlsx/all/$", views_excel.all_xlsx, name="xlsx_all"),
]
