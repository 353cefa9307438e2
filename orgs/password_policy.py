"""An account whose password someone else set (a secretary opening a login for a member, a
superuser in the admin) must choose its own before it may do anything else.

Whether it must is read once, when the user logs in, and kept in the session: later requests pay
no query for it. Changing the password elsewhere invalidates the session (Django's session hash),
so the mark never outlives the password it was read for."""

from __future__ import annotations

from django.shortcuts import redirect

from orgs.accounts import password_is_own

SESSION_KEY = "password_must_change"
# Reachable while the password must change: the change page, logging out, and what needs no login.
OPEN_VIEWS = frozenset({"password_change", "logout", "login", "healthz"})
OPEN_NAMESPACES = frozenset({"public", "vote"})  # /gs/ notice board, /py/ voting page


def mark_session_at_login(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver: note in the session whether the password must change."""
    session = getattr(request, "session", None)
    if session is None:
        return
    if password_is_own(user):
        session.pop(SESSION_KEY, None)
    else:
        session[SESSION_KEY] = True


def password_changed_in_session(request) -> None:
    request.session.pop(SESSION_KEY, None)


def must_change_password(request) -> bool:
    return bool(request.session.get(SESSION_KEY))


class PasswordChangeRequiredMiddleware:
    """Sends a user who must change their password to the change page, from every page but those
    in OPEN_VIEWS and OPEN_NAMESPACES (static files are answered before any view)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or match.url_name in OPEN_VIEWS and not match.namespace:
            return None
        if OPEN_NAMESPACES.intersection(match.namespaces):
            return None
        if not must_change_password(request):
            return None
        return redirect("password_change")
