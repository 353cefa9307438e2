"""Middleware every request passes: one normalisation of submitted text, the site's CSP, and the
page that answers a change refused under a 写实簿 signature."""

from django.conf import settings
from django.http import Http404, QueryDict
from django.shortcuts import render

from orgs.locks import is_lock_error, lock_error_text
from orgs.text import NUL, strip_invisible

# Values of fields whose name contains this are passed on exactly as typed.
VERBATIM = "password"


class ContentSecurityPolicyMiddleware:
    """Every response carries settings.CONTENT_SECURITY_POLICY, unless the view set a policy of
    its own (an uploaded attachment is served with `sandbox`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy:
            response.headers.setdefault("Content-Security-Policy", policy)
        return response


class InputNormalizationMiddleware:
    """Text reaches the views clean, on every route and for every user, anonymous too.

    - A NUL in the path is a 404: an address with one names nothing (and PostgreSQL refuses NUL
      in text, so looking it up would be a 500).
    - A NUL in a query or form field is refused with a 400 page before any view or query sees it.
    - Every other value loses its leading and trailing whitespace and invisible characters
      (orgs.text), so text made only of them is blank and a required field says 必填. Passwords
      are passed on as typed.
    - A cookie carrying a NUL is dropped, so a forged session cookie never reaches the database.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path or NUL in request.path_info:
            raise Http404("地址中含有不允许的字符。")
        if any(NUL in key or NUL in value for key, value in request.COOKIES.items()):
            request.COOKIES = {
                key: value
                for key, value in request.COOKIES.items()
                if NUL not in key and NUL not in value
            }
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Here, not in __call__: request.user exists, so the 400 page has the site's header.
        posted = request.method == "POST"
        try:
            field = _field_with_nul(request.GET) or (
                _field_with_nul(request.POST) if posted else None
            )
        except OSError:  # the client went away mid-upload; CSRF checking answers that as before
            return None
        if field is not None:
            return render(request, "400.html", {"field": field}, status=400)
        request.GET = _normalised(request.GET)
        if posted:
            request.POST = _normalised(request.POST)
        return None


def _field_with_nul(query: QueryDict) -> str | None:
    for key, values in query.lists():
        if NUL in key or any(NUL in value for value in values):
            return key.replace(NUL, "\\0")
    return None


def _normalised(query: QueryDict) -> QueryDict:
    """`query` with each value stripped of invisible edges; the same object when nothing changes."""
    cleaned: dict[str, list[str]] = {}
    changed = False
    for key, values in query.lists():
        if VERBATIM in key.lower():
            cleaned[key] = values
            continue
        cleaned[key] = [strip_invisible(value) for value in values]
        changed = changed or cleaned[key] != values
    if not changed:
        return query
    result = QueryDict(mutable=True, encoding=query.encoding)
    for key, values in cleaned.items():
        result.setlist(key, values)
    result._mutable = False
    return result


class LedgerLockMiddleware:
    """A change to a record under a live 写实簿 signature that reached the database by a path with
    no check of its own (the admin, a page that did not expect it) is refused there by a trigger;
    the user gets a 409 page with the refusal — who signed and when — instead of a server error.
    The refused statement changed nothing, and the transaction it ran in is rolled back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_lock_error(exception):
            return None
        return render(request, "409.html", {"message": lock_error_text(exception)}, status=409)
