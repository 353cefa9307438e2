"""The rows behind the calendar, the reminders and the background jobs.

- `Deadline`: one due date of the campaign calendar. The rows without an organisation are the
  default calendar of a year (written from the circulars by `orgs.deadlines.ensure_year`); a row
  at an organisation moves that date for its subtree, the nearest row above winning.
- `Reminder`: the outbox. One row per (person, deadline, step), so a second insert of the same
  reminder is a no-op; the row is at once the in-app notice (read or not) and the e-mail to send
  (its delivery state).
- `EmailOptOut`: a kind of reminder a user does not want by e-mail (in-app notices always come).
- `CalendarFeed`: the secret token in the address of a user's .ics feed.
- `Job`: long work run off the request (exports, imports, batches) and its result file.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Deadline(models.Model):
    org = models.ForeignKey(
        "orgs.Organization",
        verbose_name="设置单位",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deadlines",
    )
    year = models.PositiveSmallIntegerField("年度")
    kind = models.CharField("事项", max_length=40)
    period = models.CharField("期次", max_length=8)  # a Period slug: 2026Q1, 2026H2, 2026
    due_on = models.DateField("截止日期")
    # days before the date to remind at (7, 1); a negative number is days after (overdue)
    steps = models.JSONField("提醒时间", default=list)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "截止日期"
        verbose_name_plural = "截止日期"
        constraints = [
            models.UniqueConstraint(
                fields=["org", "kind", "period"],
                condition=Q(org__isnull=False),
                name="deadline_once_at_org",
            ),
            models.UniqueConstraint(
                fields=["kind", "period"],
                condition=Q(org__isnull=True),
                name="deadline_default_once",
            ),
        ]
        indexes = [models.Index(fields=["year", "kind", "period"], name="deadline_year_kind")]

    def __str__(self) -> str:
        return f"{self.org or '默认'} {self.kind} {self.period} {self.due_on}"


class EmailState(models.TextChoices):
    QUEUED = "queued", "待发送"
    SENDING = "sending", "发送中"
    SENT = "sent", "已发送"
    FAILED = "failed", "发送失败"
    SKIPPED = "skipped", "不发邮件"  # no address, or the user turned e-mail off for this kind
    CANCELLED = "cancelled", "已办结，未发送"


class Reminder(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders"
    )
    kind = models.CharField("事项", max_length=40)
    period = models.CharField("期次", max_length=8)
    # "-7", "-1": days before; "+1": overdue; "up1": to the parent, "up2": to the grandparent
    step = models.CharField("提醒节点", max_length=8)
    due_on = models.DateField("截止日期")
    # what is still not done: [{"org": id, "org_name", "text", "count", "url"[, "late"]}]
    items = models.JSONField("未完成事项", default=list)
    created_at = models.DateTimeField("提醒时间", auto_now_add=True)
    read_at = models.DateTimeField("已读时间", null=True, blank=True)
    done_at = models.DateTimeField("办结时间", null=True, blank=True)  # the work was done since
    email_state = models.CharField(
        "邮件", max_length=10, choices=EmailState.choices, default=EmailState.QUEUED
    )
    attempts = models.PositiveSmallIntegerField("发送次数", default=0)
    next_attempt_at = models.DateTimeField("下次发送", null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField("发送时间", null=True, blank=True)
    last_error = models.CharField("错误", max_length=500, blank=True)

    class Meta:
        verbose_name = "提醒"
        verbose_name_plural = "提醒"
        constraints = [
            # one reminder per person, deadline and step; the date is part of the deadline, as
            # organisations under one person may have different dates for it
            models.UniqueConstraint(
                fields=["user", "kind", "period", "step", "due_on"], name="reminder_once"
            )
        ]
        indexes = [
            # the sender takes queued rows in (user, id) order, whole users at a time
            models.Index(
                fields=["user", "id"],
                condition=Q(email_state="queued"),
                name="reminder_to_send",
            ),
            # claims left behind by a sender that died
            models.Index(
                fields=["claimed_at"],
                condition=Q(email_state="sending"),
                name="reminder_claimed",
            ),
            models.Index(
                fields=["user"],
                condition=Q(read_at__isnull=True, done_at__isnull=True),
                name="reminder_unread",
            ),
            models.Index(fields=["user", "-created_at"], name="reminder_user_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.period} {self.step}"


class EmailOptOut(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_opt_outs"
    )
    kind = models.CharField("事项", max_length=40)

    class Meta:
        verbose_name = "不接收邮件的提醒"
        verbose_name_plural = "不接收邮件的提醒"
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="email_opt_out_once")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}"


class CalendarFeed(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "日历订阅"
        verbose_name_plural = "日历订阅"

    def __str__(self) -> str:
        return f"{self.user_id}"


class JobState(models.TextChoices):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "进行中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"


class Job(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    kind = models.CharField("任务", max_length=40)
    title = models.CharField("名称", max_length=200)
    params = models.JSONField(default=dict)
    state = models.CharField(
        "状态", max_length=10, choices=JobState.choices, default=JobState.QUEUED
    )
    done = models.PositiveIntegerField("已完成", default=0)
    total = models.PositiveIntegerField("总数", default=0)
    message = models.CharField("说明", max_length=500, blank=True)
    error = models.TextField("错误", max_length=5000, blank=True)
    result = models.FileField("结果文件", upload_to="jobs/%Y/%m/", max_length=200, blank=True)
    result_name = models.CharField("文件名", max_length=200, blank=True)
    created_at = models.DateTimeField("提交时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    expires_at = models.DateTimeField("文件保留至", null=True, blank=True)

    class Meta:
        verbose_name = "后台任务"
        verbose_name_plural = "后台任务"
        indexes = [
            models.Index(fields=["user", "-created_at"], name="job_user_recent"),
            models.Index(fields=["expires_at"], name="job_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.title}（{self.get_state_display()}）"

    @property
    def percent(self) -> int:
        if self.state == JobState.DONE:
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0
