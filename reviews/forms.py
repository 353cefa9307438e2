from django import forms
from django.utils import timezone

from orgs.form_helpers import DateInput
from reviews.models import Method


class ReviewForm(forms.Form):
    method = forms.ChoiceField(label="点评方式", choices=Method.choices)
    reviewed_on = forms.DateField(label="点评日期", widget=DateInput())
    achievements = forms.CharField(
        label="成绩", max_length=3000, widget=forms.Textarea(attrs={"rows": 4})
    )
    shortcomings = forms.CharField(
        label="不足", max_length=3000, widget=forms.Textarea(attrs={"rows": 3})
    )
    direction = forms.CharField(
        label="努力方向", max_length=3000, widget=forms.Textarea(attrs={"rows": 3})
    )
    scope = forms.CharField(label="通报范围（可不填）", max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reviewed_on"].initial = timezone.localdate()

    def chosen_method(self) -> str:
        """The method posted, if it is one of the choices ("" otherwise): the access check of a
        review of an organisation depends on it before the whole form is validated."""
        try:
            return self.fields["method"].clean(self["method"].data)
        except forms.ValidationError:
            return ""


class ItemForm(forms.Form):
    requirement = forms.CharField(label="整改事项", max_length=500)
    deadline = forms.DateField(label="整改期限", widget=DateInput())


class ItemReportForm(forms.Form):
    response = forms.CharField(
        label="整改情况", max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ItemActionForm(forms.Form):
    """Which change a button on a rectification item asks for (the report by default)."""

    action = forms.ChoiceField(
        choices=[("report", "报告整改情况"), ("close", "销号"), ("reopen", "重新打开")]
    )


class ExemptionForm(forms.Form):
    reason = forms.CharField(label="免予点评原因（如长期病休、组织撤销）", max_length=300)


class DrawForm(forms.Form):
    size = forms.IntegerField(label="抽取数量", min_value=1, max_value=200)
    seed = forms.CharField(
        label="随机种子（可不填，系统自动生成并记录）", max_length=40, required=False
    )
