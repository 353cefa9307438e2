"""The official forms as PDF, one function per form: the 写实簿 (黑创先办[2010]12号 附件1 and
附件2), the 党组织书记公开承诺书 (豫创组发〔2010〕22号 附件2) and the 点评意见表 (兵创先组发〔2011〕3号
§三.2). Collecting the data is not done here: each function receives what the pages already hold
(assembled ledgers, a letter, signed reviews) and draws it through the templates under
ledgers/print/ with WeasyPrint.

Every render goes through `render_pdf`, whose URL fetcher answers data: URIs only, so a document
can never read a local file or reach the network, whatever text a user typed; user text reaches the
HTML through Django's auto-escaping. The stylesheet is part of the HTML (ledgers/print/print.css),
so `ledger_html` is the whole document a bare WeasyPrint render gets too.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import segno
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from ledgers import sections as S
from ledgers.assembly import MISSING, NONE, READY, LedgerView, SectionView
from orgs.pdf import LocalOnlyFetcher, html_document, render_pdf, url_fetcher  # noqa: F401

DEFAULT_ISSUER = "××省创先争优活动领导小组办公室 制"

# the sources a section is built from → the partial that draws its content
_CONTENT_TEMPLATES = {
    S.PLEDGES: "ledgers/print/_pledges.html",
    S.FULFILMENT: "ledgers/print/_reports.html",
    S.REVIEW: "ledgers/print/_review.html",
    S.YEAR_END: "ledgers/print/_summary.html",
}
# headings the forms print with spaces between the characters
_SPACED = {"公开承诺事项": "wide", S.SUMMARY_HEADING: "spaced", S.APPRAISAL_HEADING: "spaced"}


# ---------------------------------------------------------------- rendering


def _issuer() -> str:
    return getattr(settings, "LEDGER_ISSUER", "") or DEFAULT_ISSUER


def qr_data_uri(text: str) -> str:
    """A QR code of `text` as an SVG data: URI (vector, so it prints sharp at any size)."""
    return segno.make(text, error="m").svg_data_uri(scale=4, border=1)


# ---------------------------------------------------------------- 党组织书记公开承诺书


def secretary_letter_pdf(letter) -> bytes:
    """党组织书记公开承诺书 from a SecretaryPledge (pledges.selectors.letter_of): the secretary's
    details, the pledges signed with the date, the upper organisation's 审定意见 and its date."""
    return render_pdf(secretary_letter_html(letter))


def secretary_letter_html(letter) -> str:
    return render_to_string("ledgers/print/secretary_letter.html", {"letter": letter})


# ---------------------------------------------------------------- 点评意见表


def review_form_pdf(reviews: Iterable) -> bytes:
    """点评意见表, one signed LeaderReview per page (a single review or a batch for a period).
    Give the reviews with subject_member and subject_org selected."""
    return render_pdf(review_form_html(reviews))


def review_form_html(reviews: Iterable) -> str:
    reviews = list(reviews)
    if not reviews:
        raise ValueError("no review to print")
    for review in reviews:
        if not review.is_signed:
            raise ValueError(f"review {review.pk} is not signed: only signed reviews are printed")
    rows = [
        {"review": review, "signed_on": timezone.localdate(review.signed_at)} for review in reviews
    ]
    return render_to_string("ledgers/print/review_form.html", {"rows": rows})


# ---------------------------------------------------------------- 写实簿


@dataclass
class SignLine:
    """One 签字 line of the form: filled when signed, blank for a pen when not."""

    label: str  # 党员本人, 党支部书记 …
    name: str = ""
    note: str = ""  # a paper signature, or the capacity a deputy signed in
    on: datetime.date | None = None


@dataclass
class PrintSection:
    view: SectionView
    heading: str
    heading_style: str  # "", "wide" or "spaced": the characters set apart as printed
    content_template: str
    content: dict
    missing: list[str]  # what is missing and who owes it (an unsigned section that is due)
    missing_reason: str
    supplement: str
    blank: str  # why the section stays empty (not in any branch), else ""
    owner_note: str  # the branch a member's quarter belongs to, when not the keeper
    signs: list[SignLine]

    appraisal_heading: str = S.APPRAISAL_HEADING

    @property
    def is_year(self) -> bool:
        return self.view.spec.builds_from == S.YEAR_END

    @property
    def running_name(self) -> str:
        """The section as the 续页 header names it: a review's heading does not say the period."""
        if self.view.spec.is_review:
            return f"{self.view.period.short_label}领导点评"
        return self.heading

    @property
    def items(self) -> list[dict]:
        """The pledges or the fulfilment reports, dates written as the form writes them."""
        if self.view.spec.builds_from == S.PLEDGES:
            pledges = self.content.get("pledges", [])
            return [p | {"due": _date_text(p.get("due", ""))} for p in pledges]
        return list(self.content.get("reports", []))

    @property
    def review_date(self) -> str:
        review = self.content.get("review") or {}
        return _date_text(review.get("date", ""))

    @property
    def appraisal(self) -> dict | None:
        found = self.content.get("appraisal")
        if not found:
            return None
        return found | {"published_on": _date_text(found.get("published_on", ""))}


@dataclass
class PrintGroup:
    label: str  # 承诺写实, 履诺践诺写实, 年度写实: set vertically
    sections: list[PrintSection] = field(default_factory=list)

    @property
    def label_chars(self) -> list[str]:
        return list(self.label)


@dataclass
class PrintLedger:
    view: LedgerView
    groups: list[PrintGroup]
    scale: tuple[str, ...]
    issuer: str
    verify_url: str
    qr: str
    printed_on: datetime.date

    @property
    def form_title(self) -> str:
        return "党员创先争优活动写实簿" if self.view.is_member else "党组织创先争优写实簿"

    @property
    def running_title(self) -> str:
        return f"{self.view.subject_name}　{self.view.year}年度{self.form_title}"


def _date_text(iso: str) -> str:
    """'2026-06-30' (as the snapshots store dates) → '2026年6月30日'."""
    if not iso:
        return ""
    day = datetime.date.fromisoformat(iso)
    return f"{day.year}年{day.month}月{day.day}日"


def _capacity_note(label: str, signature) -> str:
    if signature.on_paper:
        who = f"，{signature.recorded_by_name}登记" if signature.recorded_by_name else ""
        return f"（纸质写实簿签字{who}）"
    capacity = signature.capacity
    if not capacity or capacity == label:
        return ""
    # "党支部副书记（代书记签字）" → "（党支部副书记，代书记签字）"
    return "（" + capacity.replace("（", "，").replace("）", "") + "）"


def _sign_lines(view: SectionView) -> list[SignLine]:
    lines = []
    for _slot, label, signature in view.slots():
        if signature is None:
            lines.append(SignLine(label))
        else:
            lines.append(
                SignLine(
                    label,
                    signature.signer_name,
                    _capacity_note(label, signature),
                    signature.signed_on,
                )
            )
    return lines


def _print_section(ledger: LedgerView, view: SectionView) -> PrintSection:
    spec = view.spec
    content = view.content
    state = view.state
    # what is missing is told once the period is over and while the section waits for its first
    # signature; once signed, the snapshot stands (with the reason given, if any)
    missing = list(view.missing) if state in (MISSING, READY) else []
    blank = ""
    if state == NONE:
        blank = f"{view.period.short_label}末不在任何党支部，此栏不写实。"
    owner_note = ""
    if (
        ledger.is_member
        and spec.builds_from in (S.FULFILMENT, S.REVIEW)
        and view.owner is not None
        and ledger.keeper is not None
        and view.owner.pk != ledger.keeper.pk
    ):
        owner_note = f"{view.period.short_label}所在党支部：{view.owner.name}"
    return PrintSection(
        view=view,
        heading=spec.heading,
        heading_style=_SPACED.get(spec.heading, ""),
        content_template=_CONTENT_TEMPLATES[spec.builds_from],
        content=content,
        missing=missing,
        missing_reason=content.get("missing_reason", ""),
        supplement=content.get("supplement", ""),
        blank=blank,
        owner_note=owner_note,
        signs=_sign_lines(view),
    )


def _groups(ledger: LedgerView) -> list[PrintGroup]:
    """The form's groups: 承诺写实, one 履诺践诺写实 per quarter (half-year), 年度写实."""
    groups: list[PrintGroup] = []
    last_key = None
    for view in ledger.sections:
        key = (view.spec.group, view.spec.period_kind, view.spec.number)
        if key != last_key:
            groups.append(PrintGroup(view.spec.group))
            last_key = key
        groups[-1].sections.append(_print_section(ledger, view))
    return groups


def _verify_url(verify_url: str | Callable[[LedgerView], str], view: LedgerView) -> str:
    if callable(verify_url):
        return verify_url(view) or ""
    return verify_url or ""


def ledger_html(
    views: Sequence[LedgerView],
    *,
    verify_url: str | Callable[[LedgerView], str] = "",
    issuer: str | None = None,
    printed_on: datetime.date | None = None,
) -> str:
    """The HTML of one or many ledgers, each starting on a new page. `verify_url`: the verify
    page's address, or a function giving it for each ledger (printed as a QR code); `issuer`: the
    cover's 制 line (default: settings.LEDGER_ISSUER)."""
    if not views:
        raise ValueError("no ledger to print")
    issuer = issuer or _issuer()
    printed_on = printed_on or timezone.localdate()
    ledgers = []
    for view in views:
        url = _verify_url(verify_url, view)
        ledgers.append(
            PrintLedger(
                view=view,
                groups=_groups(view),
                scale=S.MEMBER_SCALE if view.is_member else S.ORG_SCALE,
                issuer=issuer,
                verify_url=url,
                qr=qr_data_uri(url) if url else "",
                printed_on=printed_on,
            )
        )
    title = ledgers[0].running_title if len(ledgers) == 1 else f"写实簿（{len(ledgers)}册）"
    return render_to_string("ledgers/print/ledger.html", {"ledgers": ledgers, "title": title})


def ledger_pdf(
    views: Sequence[LedgerView],
    *,
    verify_url: str | Callable[[LedgerView], str] = "",
    issuer: str | None = None,
    printed_on: datetime.date | None = None,
) -> bytes:
    """One or many ledgers as one PDF (see ledger_html)."""
    return render_pdf(
        ledger_html(views, verify_url=verify_url, issuer=issuer, printed_on=printed_on)
    )
