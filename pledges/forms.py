from __future__ import annotations

from django import forms

from orgs.form_helpers import DateInput
from orgs.periods import QUARTER, YEAR_MAX, YEAR_MIN, Period
from pledges.models import (
    MEMBER_CATEGORIES,
    ORG_CATEGORIES,
    EvaluationResult,
    ImmediateReason,
    PledgeKind,
    Progress,
)


def _choices(values, blank="请选择"):
    return [("", blank), *[(v.value, v.label) for v in values]]


class PledgeForm(forms.Form):
    kind = forms.ChoiceField(label="承诺类型", choices=PledgeKind.choices)
    immediate_reason = forms.ChoiceField(
        label="即时承诺起因",
        choices=_choices(ImmediateReason, "（年度、任期承诺不填）"),
        required=False,
    )
    category = forms.ChoiceField(label="承诺类别")
    content = forms.CharField(
        label="承诺事项", max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    target = forms.CharField(label="目标（可衡量，如“帮扶3户困难群众”）", max_length=300)
    due_date = forms.DateField(label="完成时限", widget=DateInput())

    def __init__(self, *args, member_pledge: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _choices(
            MEMBER_CATEGORIES if member_pledge else ORG_CATEGORIES
        )
        if not member_pledge:
            return
        self.fields["kind"].choices = [c for c in PledgeKind.choices if c[0] != PledgeKind.TERM]


class MemberPledgeForm(PledgeForm):
    is_oral = forms.BooleanField(label="口头承诺（由书记代为记录）", required=False)
    community_code = forms.CharField(
        label="居住地社区党组织代码（在职党员社区承诺时填写）", max_length=32, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, member_pledge=True, **kwargs)

    def clean_community_code(self):
        return self.cleaned_data["community_code"].strip().upper()


class ReturnForm(forms.Form):
    comment = forms.CharField(
        label="退回意见", max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ApproveForm(forms.Form):
    """The confirmation step of 审定通过 (one pledge or a batch): a box to tick, no script needed."""

    confirm = forms.BooleanField(
        label="我已核对以上承诺内容，确认审定通过",
        error_messages={"required": "请勾选“确认审定通过”：审定通过后即可公示。"},
    )
    comment = forms.CharField(
        label="审定意见（可不填）", max_length=1000, required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="撤回原因", max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label="撤销审定的原因", max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class FulfilmentForm(forms.Form):
    period = forms.ChoiceField(label="期次")
    status = forms.ChoiceField(label="进度", choices=Progress.choices)
    text = forms.CharField(
        label="兑现情况", max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    reason = forms.CharField(label="无法完成的原因", max_length=500, required=False)
    undo_done = forms.BooleanField(
        label="确认承诺尚未完成（撤销此前报告的“已完成”）", required=False
    )

    def __init__(self, *args, periods: list[Period], done: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self._periods = {self.period_value(p): p for p in periods}
        self.fields["period"].choices = [(value, p.label) for value, p in self._periods.items()]
        if not done:  # the confirmation is asked only of a pledge already reported done
            del self.fields["undo_done"]

    @staticmethod
    def period_value(period: Period) -> str:
        return f"{period.year}-{period.number}"

    def clean_period(self) -> Period:
        return self._periods[self.cleaned_data["period"]]


class RectificationForm(forms.Form):
    requirement = forms.CharField(
        label="整改要求", max_length=1000, widget=forms.Textarea(attrs={"rows": 3})
    )
    deadline = forms.DateField(label="整改期限", widget=DateInput())


class RectificationActionForm(forms.Form):
    """Which button on a rectification's page was pressed (none: the response is reported)."""

    action = forms.ChoiceField(
        label="整改操作",
        required=False,
        choices=[("respond", "报告整改情况"), ("close", "销号"), ("reopen", "重新打开")],
        error_messages={"invalid_choice": "无效，请刷新页面后重试。"},
    )


class RectificationResponseForm(forms.Form):
    response = forms.CharField(
        label="整改情况", max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )


class EvaluationForm(forms.Form):
    result = forms.ChoiceField(label="评诺结果", choices=EvaluationResult.choices)
    remark = forms.CharField(
        label="评诺意见", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class WindowForm(forms.Form):
    year = forms.IntegerField(label="年度", min_value=YEAR_MIN, max_value=YEAR_MAX)
    start = forms.DateField(label="开始日期", widget=DateInput())
    end = forms.DateField(label="截止日期", widget=DateInput())


class SecretaryPledgeForm(forms.Form):
    post = forms.CharField(label="职务", max_length=100)
    term_start = forms.DateField(label="任职时间", widget=DateInput())
    contact = forms.CharField(label="联系方式", max_length=50)
    content = forms.CharField(
        label="公开承诺事项", max_length=4000, widget=forms.Textarea(attrs={"rows": 8})
    )


class SecretaryReviewForm(forms.Form):
    opinion = forms.CharField(
        label="上一级党组织审定意见", max_length=1000, widget=forms.Textarea(attrs={"rows": 3})
    )
    decision = forms.ChoiceField(
        label="审定结果", choices=[("approve", "审定通过"), ("return", "退回修改")]
    )


class SecretaryReportForm(forms.Form):
    quarter = forms.TypedChoiceField(label="季度", coerce=int)
    text = forms.CharField(
        label="落实推进情况", max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )
    measures = forms.CharField(
        label="践诺措施及完成时限", max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, year: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["quarter"].choices = [
            (p.number, p.short_label) for p in Period.all_of(year, QUARTER)
        ]
