"""The one way the project renders a PDF: WeasyPrint with a URL fetcher that answers data: URIs
and nothing else, so a document can never read a local file or reach the network, whatever text
a user typed. Each app draws its forms through its own templates and calls `render_pdf`."""

from __future__ import annotations

from urllib import request as urllib_request

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse


class LocalOnlyFetcher(URLFetcher):
    """Answers data: URIs and nothing else: no file://, no network, no redirects."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False)

    def fetch(self, url: str, headers=None) -> URLFetcherResponse:
        if not url[:5].lower() == "data:":
            raise ValueError(f"refused to fetch {url[:80]!r}: only data: URIs are allowed")
        # decoded by urllib's data: handler directly, so no state is shared between threads
        response = urllib_request.DataHandler().data_open(urllib_request.Request(url))
        return URLFetcherResponse(url, response.read(), dict(response.headers.items()))


url_fetcher = LocalOnlyFetcher()


def html_document(html: str) -> HTML:
    """The WeasyPrint document of a whole HTML text, fetching nothing but data: URIs."""
    return HTML(string=html, url_fetcher=url_fetcher)


def render_pdf(html: str) -> bytes:
    """The PDF of a whole HTML document, fetching nothing but data: URIs."""
    return html_document(html).write_pdf()
