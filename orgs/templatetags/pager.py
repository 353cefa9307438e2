from django import template

register = template.Library()


@register.inclusion_tag("includes/pagination.html", takes_context=True)
def pager(context, page, unit="条"):
    """Previous/next links for `page` that keep the request's other query parameters."""
    request = context.get("request")
    query = request.GET.copy() if request is not None else None
    if query is not None:
        query.pop("page", None)
    return {"page": page, "query": query.urlencode() if query else "", "unit": unit}
