"""Forms clean and normalise input; the rules live in reviews.appraisal.services."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from orgs.form_helpers import DateInput
from orgs.periods import YEAR_MAX, YEAR_MIN
from reviews.appraisal.models import AppraisalKind, ResultGrade, VotingMethod
from reviews.appraisal.rules import DEFAULT, FIELDS

COUNT_ATTRS = {"inputmode": "numeric", "min": "0"}


def _count(label: str, required: bool = True) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=required,
        min_value=0,
        max_value=100000,
        initial=0,
        widget=forms.NumberInput(attrs=COUNT_ATTRS),
        error_messages={
            "invalid": f"“{label}”请填写整数。",
            "min_value": f"“{label}”不能小于 0。",
            "required": f"请填写“{label}”。",
        },
    )


class PlanForm(forms.Form):
    held_on = forms.DateField(label="评议日期", widget=DateInput())
    place = forms.CharField(label="评议地点", max_length=100)
    method = forms.ChoiceField(label="评议方式", choices=VotingMethod.choices)
    content = forms.CharField(
        label="评议内容",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        initial="围绕创建“五个好”基层党组织、争当“五带头”党员和公开承诺事项的落实情况进行评议。",
    )
    expected_member = _count("应参加党员人数", required=False)
    expected_masses = _count("应参加群众（代表）人数", required=False)
    expected_leader = _count("应参加下级党组织负责人人数（评议党组织时）", required=False)
    expected_recipient = _count("应参加服务对象代表人数（评议党组织时）", required=False)

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        if kind == AppraisalKind.MEMBER:
            del self.fields["expected_leader"]
            del self.fields["expected_recipient"]
        self.fields["held_on"].initial = timezone.localdate()

    def clean(self):
        data = super().clean()
        for name in ("expected_member", "expected_masses", "expected_leader", "expected_recipient"):
            data[name] = data.get(name) or 0
        return data


class CreateForm(PlanForm):
    kind = forms.ChoiceField(label="评议类别", choices=AppraisalKind.choices)
    year = forms.IntegerField(label="年度", min_value=YEAR_MIN, max_value=YEAR_MAX)
    field_order = ["kind", "year"]

    def __init__(self, *args, kinds: list[str], **kwargs):
        only_members = kinds == [AppraisalKind.MEMBER]
        super().__init__(
            *args, kind=AppraisalKind.MEMBER if only_members else AppraisalKind.ORG, **kwargs
        )
        self.fields["kind"].choices = [c for c in AppraisalKind.choices if c[0] in kinds]
        self.fields["year"].initial = timezone.localdate().year


class StatementForm(forms.Form):
    statement = forms.CharField(
        label="述职报告（开展创先争优活动和履行承诺情况）",
        max_length=3000,
        widget=forms.Textarea(attrs={"rows": 8}),
    )


class ExclusionForm(forms.Form):
    # 200: what the session keeps of the reason (reviews.appraisal.services.plan.subject_exclude)
    reason = forms.CharField(label="暂缓评议原因", max_length=200)


class RestoreForm(forms.Form):
    key = forms.ChoiceField(
        label="恢复评议的对象",
        error_messages={
            "required": "请选择。",
            "invalid_choice": "不在暂缓评议名单中，请刷新页面后重试。",
        },
    )

    def __init__(self, *args, excluded: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = [(key, item["name"]) for key, item in excluded.items()]


class GroupForm(forms.Form):
    """The participant group a paper count or its discarding is for."""

    group = forms.ChoiceField(
        label="参加人员类别",
        error_messages={"required": "请选择。", "invalid_choice": "有误，请刷新页面后重试。"},
    )

    def __init__(self, *args, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [(str(g), g.label) for g in groups]


class PublishForm(forms.Form):
    low_turnout_confirmed = forms.BooleanField(label="我已知悉参加率偏低，仍要公开", required=False)


class DecisionForm(forms.Form):
    """The committee's grade for each member (grade_<pk>) and the reason for one that differs
    from the suggestion (reason_<pk>); a grade left blank changes nothing."""

    def __init__(self, *args, subjects, **kwargs):
        super().__init__(*args, **kwargs)
        self.subject_ids = []
        for subject in subjects:
            self.subject_ids.append(subject.pk)
            self.fields[f"grade_{subject.pk}"] = forms.ChoiceField(
                label=f"“{subject.name}”的认定结果",
                choices=[("", "—"), *ResultGrade.choices],
                required=False,
                error_messages={"invalid_choice": "无效，请重新选择。"},
            )
            self.fields[f"reason_{subject.pk}"] = forms.CharField(
                label=f"“{subject.name}”的调整理由", max_length=500, required=False
            )

    def decisions(self) -> dict[int, tuple[str, str]]:
        data = self.cleaned_data
        return {pk: (data[f"grade_{pk}"], data[f"reason_{pk}"]) for pk in self.subject_ids}

    def entered(self) -> dict[str, str]:
        """What was typed, for the page shown again. Each value is cut to its field's length:
        only a forged request posts more, and the session is no place to keep it."""
        return {
            name: str(self.data.get(name, ""))[: getattr(field, "max_length", None) or 20]
            for name, field in self.fields.items()
        }


class SlipForm(forms.Form):
    group = forms.ChoiceField(label="参加人员类别")
    count = forms.IntegerField(
        label="印制张数",
        min_value=1,
        max_value=200,
        widget=forms.NumberInput(attrs=COUNT_ATTRS),
        error_messages={"min_value": "至少印制 1 张。", "max_value": "每次最多印制 200 张。"},
    )

    def __init__(self, *args, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [(str(g), g.label) for g in groups]


class VoidForm(forms.Form):
    first = forms.IntegerField(label="起始编号", min_value=1, max_value=9999)
    last = forms.IntegerField(label="终止编号", min_value=1, max_value=9999)


class PaperForm(forms.Form):
    """One teller's count for one group: the sheets, then per subject the four grades and 弃权."""

    sheets_issued = _count("发出评议表")
    sheets_returned = _count("收回评议表")
    blank_sheets = _count("空白表")
    spoiled_sheets = _count("废表")

    def __init__(self, *args, subjects, scale, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = []
        labels = list(scale) + ["弃权"]
        for subject in subjects:
            names = []
            for j, label in enumerate(labels):
                name = f"c{subject.position}_{j}"
                self.fields[name] = _count(f"第 {subject.position} 项“{subject.name}”{label}")
                names.append(name)
            self.rows.append((subject, names))

    def row_fields(self):
        return [(subject, [self[name] for name in names]) for subject, names in self.rows]

    def figures(self) -> dict:
        data = self.cleaned_data
        return {
            "sheets_issued": data["sheets_issued"],
            "sheets_returned": data["sheets_returned"],
            "blank_sheets": data["blank_sheets"],
            "spoiled_sheets": data["spoiled_sheets"],
            "counts": [[data[name] for name in names] for _, names in self.rows],
        }


class RuleForm(forms.Form):
    year = forms.IntegerField(label="年度", min_value=YEAR_MIN, max_value=YEAR_MAX)
    excellent_good_min = forms.IntegerField(
        label="优秀：“好”票不少于（%）", min_value=0, max_value=100
    )
    excellent_poor_max = forms.IntegerField(
        label="优秀：“差”票不超过（%）", min_value=0, max_value=100
    )
    basic_positive_min = forms.IntegerField(
        label="低于此比例为基本合格：“好”与“较好”票合计（%）", min_value=0, max_value=100
    )
    fail_poor_min = forms.IntegerField(label="不合格：“差”票达到（%）", min_value=0, max_value=100)
    commend_satisfaction_min = forms.IntegerField(
        label="推荐先进党组织：满意率不低于（%）", min_value=0, max_value=100
    )
    turnout_min = forms.IntegerField(
        label="参加率不低于（%）：低于此比例公开结果时提示，且不推荐评先评优人选",
        min_value=0,
        max_value=100,
        help_text="参加率 = 实际参加人数 ÷ 方案中各类人员应参加人数之和（四舍五入到整数）。"
        "默认 67%（三分之二）。",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in FIELDS:
            self.fields[name].initial = getattr(DEFAULT, name)
