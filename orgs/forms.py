"""Forms clean and normalise input; the rules live in orgs.services."""

from __future__ import annotations

import datetime
import math
import re

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from orgs.form_helpers import DateInput
from orgs.models import Member, Organization
from orgs.periods import YEAR_MAX, YEAR_MIN
from orgs.selectors import secretary_candidates

MONTH_RE = re.compile(r"^\s*(\d{4})\s*(?:[-./年])\s*(\d{1,2})\s*(?:月)?\s*$")


def parse_month(text: str) -> datetime.date | None:
    """'1965-03', '1965.3', '1965/03', '1965年3月' → date(1965, 3, 1); None if not a month."""
    match = MONTH_RE.match(text or "")
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (1900 <= year <= 2100 and 1 <= month <= 12):
        return None
    return datetime.date(year, month, 1)


class MonthField(forms.CharField):
    """A year and month, stored as the first day of that month."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "例如 1965-03"})

    def prepare_value(self, value):
        if isinstance(value, datetime.date):
            return value.strftime("%Y-%m")
        return value

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        month = parse_month(value)
        if month is None:
            raise forms.ValidationError("请按“年-月”填写，例如 1965-03。", code="invalid")
        return month


class OrganizationForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "code", "kind", "sector", "is_active"]

    def clean_code(self):
        code = self.cleaned_data["code"].strip().upper()
        if not re.fullmatch(r"[A-Z0-9][A-Z0-9._-]*", code):
            raise forms.ValidationError("组织代码只能使用字母、数字、点、下划线和短横线。")
        return code

    def clean_name(self):
        return self.cleaned_data["name"].strip()


class OrganizationEditForm(OrganizationForm):
    secretary = forms.ModelChoiceField(
        label="书记", queryset=Member.objects.none(), required=False, empty_label="（未设）"
    )

    class Meta(OrganizationForm.Meta):
        fields = [*OrganizationForm.Meta.fields, "secretary"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        secretary = self.fields["secretary"]
        secretary.queryset = (
            secretary_candidates(org=self.instance)
            .select_related("org")
            .order_by("org__lft", "name")
        )
        secretary.label_from_instance = lambda m: f"{m.name}（{m.org.name}）"


class OrgMoveForm(forms.Form):
    new_parent_code = forms.CharField(label="新的上级组织代码", max_length=32)

    def clean_new_parent_code(self):
        return self.cleaned_data["new_parent_code"].strip().upper()


class YearFigureForm(forms.Form):
    year = forms.IntegerField(label="年度", min_value=YEAR_MIN, max_value=YEAR_MAX)
    activist_count = forms.IntegerField(label="入党积极分子数", min_value=0, max_value=1_000_000)


class MemberForm(forms.ModelForm):
    birth_date = MonthField(label="出生年月")

    class Meta:
        model = Member
        fields = list(Member.EDITABLE_FIELDS)
        widgets = {"joined_on": DateInput()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if getattr(field, "choices", None) and list(field.choices)[0][0] == "":
                field.choices = [("", "请选择"), *list(field.choices)[1:]]

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("请填写姓名。")
        return name


class MemberTransferForm(forms.Form):
    to_code = forms.CharField(label="转入党组织代码", max_length=32)
    on = forms.DateField(label="转接日期", widget=DateInput())
    note = forms.CharField(label="说明", max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["on"].initial = timezone.localdate()

    def clean_to_code(self):
        return self.cleaned_data["to_code"].strip().upper()


class RosterImportForm(forms.Form):
    file = forms.FileField(label="花名册文件（.xlsx）")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".xlsx"):
            raise forms.ValidationError("请上传 .xlsx 格式的 Excel 文件。")
        if upload.size > settings.ROSTER_UPLOAD_MAX_BYTES:
            limit = settings.ROSTER_UPLOAD_MAX_BYTES // (1024 * 1024)
            raise forms.ValidationError(f"文件超过 {limit} MB，请分批导入或使用命令行导入。")
        return upload


class RoleForm(forms.Form):
    """A role for a member chosen from a list (never a typed username), and for a member with
    no login yet, the username of the login opened for them."""

    role = forms.ChoiceField(label="角色")
    member = forms.ModelChoiceField(
        label="党员", queryset=Member.objects.none(), empty_label="请选择"
    )
    username = forms.CharField(
        label="新开通账号的用户名",
        help_text=(
            "仅在该党员还没有登录账号时使用；不填则自动生成。3 至 30 个小写英文字母或数字，"
            "不含标点；不能与已有用户名相似，“dy”加数字留给自动生成。"
        ),
        max_length=150,
        required=False,
    )

    def __init__(self, *args, roles, scope, candidates, **kwargs):
        """`scope`: the members the user may grant to (checked); `candidates`: the few shown."""
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [("", "请选择"), *((r.value, r.label) for r in roles)]
        member = self.fields["member"]
        member.queryset = scope
        # the list shows the candidates only: a whole county's members would not fit a page
        member.widget.choices = [
            ("", "请选择"),
            *(
                (m.pk, f"{m.name}（{m.org.name}{'，已有登录账号' if m.user_id else ''}）")
                for m in candidates
            ),
        ]

    def clean_username(self):
        return self.cleaned_data["username"].strip()


class ThrottledLogin:
    """For Django's login forms: each attempt is reserved (counted per account and address, per
    account, per address) before its password is checked; one over a limit is refused unchecked."""

    def clean(self):
        from orgs.http import client_address
        from orgs.login_limits import login_reserve, login_succeeded

        username = self.cleaned_data.get("username") or ""
        if not username or not self.cleaned_data.get("password"):
            return super().clean()
        address = client_address(self.request) if self.request is not None else ""
        wait = login_reserve(username=username, address=address)
        if wait:
            raise ValidationError(
                f"登录失败次数过多，请在 {math.ceil(wait / 60)} 分钟后再试。", code="throttled"
            )
        cleaned = super().clean()  # a failure keeps its reservation: it is the counted failure
        login_succeeded(username=username, address=address)
        return cleaned


class LoginForm(ThrottledLogin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "用户名或密码不正确，请重新输入。",
    }


class AdminLoginForm(ThrottledLogin, AdminAuthenticationForm):
    """The admin's login form, under the same limits (else it would be a way around them)."""
