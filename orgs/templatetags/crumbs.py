"""Breadcrumbs that link a page only when the user may open it.

    {% load crumbs %}
    <nav class="crumbs">{% crumb "orgs:detail" org %}{{ org.name }}{% endcrumb %} › 公开承诺</nav>
    {% crumb "reports:submissions" org year=quarter.year %}统计报送{% endcrumb %}

Arguments `name=value` after the URL's go to its query string (?year=2026).

The route's rule (registered in orgs.extensions.page_rules by the app that owns the route)
decides; a model instance among the arguments gives its pk to the URL. Without the right, the
crumb is its text alone, so a breadcrumb never leads to a 404 or a 403.
"""

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from orgs import extensions

register = template.Library()


class CrumbNode(template.Node):
    def __init__(self, route, args, nodelist, query=None):
        self.route, self.args, self.nodelist = route, args, nodelist
        self.query = query or {}

    def render(self, context):
        route = self.route.resolve(context)
        objects = [arg.resolve(context) for arg in self.args]
        text = self.nodelist.render(context)
        request = context.get("request")
        user = getattr(request, "user", None) or context.get("user")
        if not extensions.may_open(user, route, *objects):
            return text
        url = reverse(route, args=[getattr(obj, "pk", obj) for obj in objects])
        if self.query:
            url += "?" + urlencode({k: v.resolve(context) for k, v in self.query.items()})
        return format_html('<a href="{}">{}</a>', url, text)


@register.tag
def crumb(parser, token):
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("crumb takes a route name and its URL arguments")
    bits, query = bits[1:], {}
    while bits and "=" in bits[-1] and not bits[-1].startswith(('"', "'")):
        name, _, value = bits.pop().partition("=")
        query[name] = parser.compile_filter(value)
    route, *args = (parser.compile_filter(bit) for bit in bits)
    nodelist = parser.parse(("endcrumb",))
    parser.delete_first_token()
    return CrumbNode(route, args, nodelist, query)
