"""One pager for every list: a page of rows, and links that keep the list's filters."""

from __future__ import annotations

from django.core.paginator import Page, Paginator

PAGE_SIZE = 50


def page_of(request, rows, *, per_page: int = PAGE_SIZE) -> Page:
    """The page of `rows` that `?page=` asks for (the first or last one when it is out of range).

    Render it with `{% pager page %}` (orgs/templatetags/pager.py), which keeps every other
    query-string parameter (filters, year, search) on the links.
    """
    return Paginator(rows, per_page).get_page(request.GET.get("page"))
