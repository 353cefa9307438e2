from ledgers import urls_office, urls_pages

app_name = "ledgers"

urlpatterns = urls_pages.urlpatterns + urls_office.urlpatterns
