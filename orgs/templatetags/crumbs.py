"""Breadcrumbs that link a page only when the user may open it.

    {% load crumbs %}
    <nav class="crumbs">{% crumb "orgs:detail" org %}{{ org.name }}{% endcrumb %} › 公开承诺</nav>

The route's rule (registered in orgs.extensions.page_rules by the app that owns the route)
decides; a model instance among the arguments gives its pk to the URL. Without the right, the
crumb is its text alone, so a breadcrumb never leads to a 404 or a 403.
"""

from django import template
from django.urls import reverse
from django.utils.html import format_html

from orgs import extensions

register = template.Library()


class CrumbNode(template.Node):
    def __init__(self, route, args, nodelist):
        self.route, self.args, self.nodelist = route, args, nodelist

    def render(self, context):
        route = self.route.resolve(context)
        objects = [arg.resolve(context) for arg in self.args]
        text = self.nodelist.render(context)
        request = context.get("request")
        user = getattr(request, "user", None) or context.get("user")
        if not extensions.may_open(user, route, *objects):
            return text
        url = reverse(route, args=[getattr(obj, "pk", obj) for obj in objects])
        return format_html('<a href="{}">{}</a>', url, text)


@register.tag
def crumb(parser, token):
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("crumb takes a route name and its URL arguments")
    route, *args = (parser.compile_filter(bit) for bit in bits[1:])
    nodelist = parser.parse(("endcrumb",))
    parser.delete_first_token()
    return CrumbNode(route, args, nodelist)
