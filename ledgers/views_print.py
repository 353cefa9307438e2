"""The official forms as PDF: one ledger from its page, the 点评意见表 of a signed review (one, or
the batch of a period), the 党组织书记公开承诺书; and the page that starts the batch print of a
branch's or a committee's ledgers as a background job (ledgers/jobs.py)."""

from __future__ import annotations

import re
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from ledgers import access, jobs, pdf, services
from ledgers.assembly import LedgerView
from ledgers.views_office import verify_url
from orgs import access as org_access
from orgs.access import Action
from orgs.form_helpers import apply_errors
from orgs.periods import HALF, QUARTER, Period, year_or_404
from pledges import access as pledge_access
from reviews import access as review_access
from reviews import selectors as review_selectors

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def pdf_response(content: bytes, *, ascii_name: str, name: str) -> HttpResponse:
    """A PDF shown in the browser, saved under `name` (UTF-8, RFC 6266) or, by an old client,
    under `ascii_name`."""
    response = HttpResponse(content, content_type="application/pdf")
    safe = _UNSAFE.sub("-", ascii_name).strip("-.") or "document.pdf"
    response["Content-Disposition"] = (
        f"inline; filename=\"{safe}\"; filename*=UTF-8''{quote(name, safe='')}"
    )
    response["Cache-Control"] = "private, no-store"
    return response


def ledger_filename(view: LedgerView) -> tuple[str, str]:
    """(ASCII name, name) of one ledger's PDF: 2026-张三-写实簿.pdf."""
    kind = "member" if view.is_member else "org"
    ascii_name = f"ledger-{view.year}-{kind}-{view.subject.pk}.pdf"
    return ascii_name, f"{view.year}-{view.subject_name}-写实簿.pdf"


def _ledger_pdf(view: LedgerView) -> HttpResponse:
    content = pdf.ledger_pdf([view], verify_url=verify_url)
    ascii_name, name = ledger_filename(view)
    return pdf_response(content, ascii_name=ascii_name, name=name)


@require_GET
def member_pdf(request, pk, year):
    """A member's ledger of `year` as the official form (附件2)."""
    year = year_or_404(year)
    member = access.get_member_for_ledger(request.user, pk, year=year)
    view = services.assemble(subject=member, year=year, today=timezone.localdate())
    return _ledger_pdf(view)


@require_GET
def org_pdf(request, pk, year):
    """An organisation's ledger of `year` as the official form (附件1)."""
    org = access.get_org_for_ledger(request.user, pk)
    year = year_or_404(year)
    view = services.assemble(subject=org, year=year, today=timezone.localdate())
    return _ledger_pdf(view)


# ---------------------------------------------------------------- 点评意见表, 书记公开承诺书


@require_GET
def review_pdf(request, pk):
    """点评意见表 of one signed review."""
    review = review_access.get_review_for_user(request.user, pk)
    if not review.is_signed:
        raise Http404("只有已签字的点评可以打印点评意见表。")
    content = pdf.review_form_pdf([review])
    return pdf_response(
        content,
        ascii_name=f"review-{review.pk}.pdf",
        name=f"点评意见表-{review.subject_name}-{review.period_label}.pdf",
    )


def _review_period(slug: str) -> Period:
    try:
        period = Period.parse(slug)
    except ValueError:
        raise Http404("期次有误。") from None
    if period.kind not in (QUARTER, HALF):
        raise Http404("期次有误。")
    return period


@require_GET
def reviews_pdf(request, pk, period):
    """点评意见表 of every signed review `org` wrote or owes in the period, one a page: a branch's
    of its members for a quarter, a committee's of its child organisations and their secretaries
    for a half-year."""
    org = org_access.get_org_for_user(request.user, pk, Action.EXPORT)
    found = _review_period(period)
    reviews = list(review_selectors.signed_reviews(period=found, org=org).values())
    if not reviews:
        return render(request, "ledgers/office_reviews_empty.html", {"org": org, "period": found})
    return pdf_response(
        pdf.review_form_pdf(reviews),
        ascii_name=f"reviews-{org.pk}-{found.slug}.pdf",
        name=f"点评意见表-{org.name}-{found.label}.pdf",
    )


@require_GET
def letter_pdf(request, pk):
    """党组织书记公开承诺书, with the upper organisation's 审定意见 once given."""
    letter = pledge_access.get_letter_for_user(request.user, pk)
    return pdf_response(
        pdf.secretary_letter_pdf(letter),
        ascii_name=f"secretary-pledge-{letter.org_id}-{letter.year}.pdf",
        name=f"{letter.year}年{letter.org.name}党组织书记公开承诺书.pdf",
    )


# ---------------------------------------------------------------- batch print


class BatchForm(forms.Form):
    what = forms.ChoiceField(label="打印哪些写实簿", choices=jobs.WHAT_CHOICES)
    form = forms.ChoiceField(
        label="文件形式", choices=jobs.FORM_CHOICES, initial=jobs.PDF, widget=forms.RadioSelect
    )

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["what"].choices = choices
        self.fields["what"].widget = forms.RadioSelect(choices=choices)
        self.fields["what"].initial = choices[0][0] if choices else None


@require_http_methods(["GET", "POST"])
def batch(request, pk, year):
    """Print every ledger of `year` that the organisation keeps, as one PDF or a zip of one PDF
    each, in the background: its secretary (or deputy), or office staff over it."""
    org = org_access.get_org_for_user(request.user, pk)
    year = year_or_404(year)
    if not jobs.can_print_batch(request.user, org):
        raise PermissionDenied("只有本组织的书记、副书记或上级办公室工作人员可以批量打印写实簿。")
    choices = jobs.what_choices(org)
    form = BatchForm(request.POST or None, choices=choices)
    if request.method == "POST" and form.is_valid():
        try:
            job = jobs.ledger_batch_start(by=request.user, org=org, year=year, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已提交后台打印，完成后可在本页下载。")
            return redirect("jobs:detail", pk=job.pk)
    return render(
        request,
        "ledgers/office_batch.html",
        {"org": org, "year": year, "form": form, "choices": choices},
    )
