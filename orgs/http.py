"""Small helpers about the request itself, shared by every app."""

from __future__ import annotations

from django.conf import settings


def client_address(request) -> str:
    """The client's address: from the header the reverse proxy in front sets
    (settings.CLIENT_IP_HEADER, e.g. HTTP_X_REAL_IP behind nginx), else the connection's own."""
    header = settings.CLIENT_IP_HEADER
    if header and request.META.get(header):
        return request.META[header].split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")
