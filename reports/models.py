"""报送: the statistics tables an office reports upward on the calendar's dates, as frozen snapshots.

A `Submission` is written once and never changed (save refuses an update, delete refuses, and so
do a queryset's update() and delete(); the tables' figures, who and when are in the row), nor are
its attachments and its return. Returning one is a `SubmissionReturn` row beside it; submitting
again writes the next version, so every version stays. The rules are in reports/submissions.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orgs.models import Organization
from orgs.periods import Period


class FrozenError(Exception):
    """A submitted snapshot was about to change."""


class FrozenQuerySet(models.QuerySet):
    """Rows written once: a bulk update or delete is refused like a single one."""

    def update(self, **kwargs):
        raise FrozenError(f"{self.model._meta.verbose_name}不能修改。")

    def delete(self):
        raise FrozenError(f"{self.model._meta.verbose_name}不能删除。")


class Frozen(models.Model):
    """Written once, never changed or deleted (save refuses an update, delete refuses)."""

    objects = FrozenQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise FrozenError(f"{self._meta.verbose_name}不能修改。")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise FrozenError(f"{self._meta.verbose_name}不能删除。")


class Submission(Frozen):
    org = models.ForeignKey(
        Organization, verbose_name="填报单位", on_delete=models.PROTECT, related_name="+"
    )
    period = models.CharField("报送期间", max_length=8)  # the stats_report deadline's period
    version = models.PositiveSmallIntegerField("版本", default=1)
    due_date = models.DateField("报送日期")
    is_late = models.BooleanField("逾期报送", default=False)
    figures = models.JSONField("统计数据")  # {table key: {"period", "columns", "rows", "total"}}
    figures_as_of = models.DateTimeField("数据截至", null=True, blank=True)
    report_text = models.TextField("情况报告", max_length=20000, blank=True)
    digest = models.CharField("数据摘要", max_length=64)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="报送人", on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField("报送时间", auto_now_add=True)

    class Meta:
        verbose_name = "统计报送"
        verbose_name_plural = "统计报送"
        constraints = [
            models.UniqueConstraint(
                fields=["org", "period", "version"], name="submission_version_once"
            )
        ]
        indexes = [models.Index(fields=["period", "org"], name="submission_period_org")]

    def __str__(self) -> str:
        return f"{self.org} {self.period} 第{self.version}版"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise FrozenError("已报送的统计表不能修改。")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise FrozenError("已报送的统计表不能删除。")

    @property
    def period_obj(self) -> Period:
        """The quarter reported, as a Period."""
        return Period.parse(self.period)

    @property
    def return_row(self) -> SubmissionReturn | None:
        """The return of this version, if the parent sent it back."""
        try:
            return self.returned
        except SubmissionReturn.DoesNotExist:
            return None

    @property
    def is_returned(self) -> bool:
        return self.return_row is not None


class SubmissionAttachment(Frozen):
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="attachments")
    name = models.CharField("文件名", max_length=200)
    file = models.FileField("附件", upload_to="reports/%Y/%m/")
    size = models.PositiveIntegerField("大小")
    sha256 = models.CharField(max_length=64)

    class Meta:
        verbose_name = "报送附件"
        verbose_name_plural = "报送附件"

    def __str__(self) -> str:
        return self.name


class SubmissionReturn(Frozen):
    """The parent office sent a submission back for correction."""

    submission = models.OneToOneField(Submission, on_delete=models.PROTECT, related_name="returned")
    reason = models.CharField("退回理由", max_length=500)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="退回人", on_delete=models.PROTECT, related_name="+"
    )
    returned_at = models.DateTimeField("退回时间", auto_now_add=True)

    class Meta:
        verbose_name = "报送退回"
        verbose_name_plural = "报送退回"

    def __str__(self) -> str:
        return f"{self.submission} 退回"
