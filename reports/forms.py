"""The forms of 报送: a report with its attachments, and a return's reason. They take the input as
typed; reports/submissions.py judges it (length, control characters, the files' content)."""

from __future__ import annotations

from django import forms

from reports.submissions import ACCEPT, ALLOWED_TEXT, MAX_ATTACHMENTS, MAX_REASON, MAX_TEXT


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by the service, not here."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        return list(data) if isinstance(data, list | tuple) else [data]


class SubmissionForm(forms.Form):
    report_text = forms.CharField(
        label="情况报告",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=f"总体情况、突出做法和典型事例，选填，最多 {MAX_TEXT} 字。",
    )
    files = MultipleFileField(
        label="附件",
        required=False,
        help_text=f"选填，最多 {MAX_ATTACHMENTS} 个，每个不超过 10 MB；{ALLOWED_TEXT}。",
    )


class ReturnForm(forms.Form):
    reason = forms.CharField(
        label="退回理由",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"写明需要修改的地方，最多 {MAX_REASON} 字；报送单位将看到这条理由。",
        error_messages={"required": "请填写退回理由。"},
    )
