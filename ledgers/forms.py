"""The forms of the 写实簿 pages: they clean what was posted, the services decide."""

from __future__ import annotations

from typing import NamedTuple

from django import forms

from ledgers import sections as S
from ledgers.services import NOTE_LIMIT, REASON_LIMIT
from orgs.form_helpers import DateInput

# a grid page shows at most this many cells to tick; a post naming more is not from it
CELLS_LIMIT = 1000


class Cell(NamedTuple):
    """One box of a grid: a slot of a section of a subject's ledger, posted as "pk:section:slot"."""

    pk: int
    section: str
    slot: str

    @property
    def value(self) -> str:
        return f"{self.pk}:{self.section}:{self.slot}"


def parse_cell(kind: str, text: str) -> Cell | None:
    """The cell a posted value names, or None when it names none of `kind`'s ledgers."""
    pk, _, rest = str(text).partition(":")
    section, _, slot = rest.partition(":")
    if not (pk.isascii() and pk.isdigit()) or len(pk) > 18:
        return None
    try:
        spec = S.section_spec(kind, section)
    except KeyError:
        return None
    if slot not in spec.slots:
        return None
    return Cell(int(pk), section, slot)


class CellsField(forms.Field):
    """The ticked boxes of a grid, in the order posted, each once."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, kind: str, **kwargs):
        self.kind = kind
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        values = value or []
        if len(values) > CELLS_LIMIT:
            raise forms.ValidationError(f"一次最多勾选 {CELLS_LIMIT} 个栏目，请分批签字。")
        cells = []
        for text in values:
            cell = parse_cell(self.kind, text)
            if cell is None:
                raise forms.ValidationError("所选栏目有误，请回到写实簿一览重新勾选。")
            if cell not in cells:
                cells.append(cell)
        return cells


class SignManyForm(forms.Form):
    """The grid's sign-off: the boxes ticked (or every box the user may sign on the page:
    `all`), then on the confirmation page `confirm` and, for the 党员本人 boxes of members
    without a login, the day they signed the paper ledger."""

    paper_on = forms.DateField(
        label="党员在纸质写实簿上签字的日期", required=False, widget=DateInput()
    )
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)
    all = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cells"] = CellsField(kind=kind)


class SignForm(forms.Form):
    """The confirmation of one signature; for a member without a login, the day the member
    signed the paper ledger."""

    confirm = forms.BooleanField(widget=forms.HiddenInput, initial=True)
    # the digest of the content the page showed: a change since refuses the signature
    shown = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)
    paper_on = forms.DateField(label="党员在纸质写实簿上签字的日期", widget=DateInput())

    def __init__(self, *args, paper: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not paper:
            del self.fields["paper_on"]


class NoteForm(forms.Form):
    text = forms.CharField(
        label="内容",
        max_length=NOTE_LIMIT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text=f"不超过{NOTE_LIMIT}字；清空后保存即删除。",
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="撤回理由",
        max_length=REASON_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="撤回理由记入写实簿的历史记录。",
    )
