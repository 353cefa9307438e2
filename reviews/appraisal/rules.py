"""The rule that suggests a member's result grade (优秀 / 合格 / 基本合格 / 不合格).

Shares are taken over the ballots that graded the member; blanks are left out. In order:

1. 不合格 if “差” reaches `fail_poor_min` per cent (default 34: a third of the votes);
2. 基本合格 if “好” and “较好” together fall below `basic_positive_min` (default 50);
3. 优秀 if “好” reaches `excellent_good_min` (default 70) and “差” is at most
   `excellent_poor_max` (default 5);
4. otherwise 合格.

With no graded ballot there is no suggestion. The branch committee decides the grade; departing
from the suggestion needs a reason. An office may set other thresholds for its subtree and a year
(the nearest setting above the branch wins). Organisations get a satisfaction rate, (满意 + 比较满意)
over the graded ballots; those at or above `commend_satisfaction_min` (default 90) are suggested for
commendation (评先评优), as are members decided 优秀 — unless the session's turnout (参加率: those
who handed in a sheet over the plan's expected numbers) is below `turnout_min` (default 67: two
thirds), when publication asks for a confirmation and nobody from it is suggested.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from orgs.calendar import SettingKind, register_setting, setting_for
from orgs.models import Organization
from orgs.refusals import refuse
from reviews.appraisal.models import Appraisal, ResultGrade


@dataclass(frozen=True)
class Thresholds:
    excellent_good_min: int = 70
    excellent_poor_max: int = 5
    basic_positive_min: int = 50
    fail_poor_min: int = 34
    commend_satisfaction_min: int = 90
    turnout_min: int = 67  # per cent of the plan's expected numbers: two thirds, rounded
    set_at: str = ""  # the organisation that set them; empty for the defaults

    def describe(self) -> list[str]:
        return [
            f"“差”票占有效评价 {self.fail_poor_min}% 及以上：不合格；",
            f"“好”与“较好”票合计低于 {self.basic_positive_min}%：基本合格；",
            f"“好”票占 {self.excellent_good_min}% 及以上且“差”票不超过 "
            f"{self.excellent_poor_max}%：优秀；",
            "其余：合格。弃权票不计入有效评价。",
        ]


FIELDS = [f.name for f in fields(Thresholds) if f.name != "set_at"]
DEFAULT = Thresholds()


def _clean(t: Thresholds, year: int) -> None:
    for name in FIELDS:
        value = getattr(t, name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
            refuse("请填写 0 到 100 之间的整数。", name)
    if t.excellent_poor_max >= t.fail_poor_min:
        refuse("优秀所允许的“差”票比例应低于不合格的“差”票比例。", "excellent_poor_max")
    if not 1 <= t.fail_poor_min:
        refuse("不合格的“差”票比例至少为 1%。", "fail_poor_min")


GRADE_RULE = register_setting(
    SettingKind(
        key="appraisal.grades",
        label="评议结果等次规则",
        default=lambda year: DEFAULT,
        load=lambda value: Thresholds(**{name: value[name] for name in FIELDS if name in value}),
        dump=lambda t: {name: getattr(t, name) for name in FIELDS},
        clean=_clean,
    )
)


def thresholds_for(*, org: Organization, year: int) -> Thresholds:
    """The rule set nearest above `org` for `year`, else the defaults (one query)."""
    found = setting_for(key=GRADE_RULE.key, org=org, year=year)
    if found.set_at is None:
        return DEFAULT
    return replace(found.value, set_at=found.set_at.name)


def suggest(counts: list[int], t: Thresholds) -> str:
    """The suggested grade for [好, 较好, 一般, 差, 弃权]; "" when nobody graded."""
    good, fair, _, poor = counts[:4]
    graded = sum(counts[:4])
    if not graded:
        return ""
    if poor * 100 >= t.fail_poor_min * graded:
        return ResultGrade.FAIL
    if (good + fair) * 100 < t.basic_positive_min * graded:
        return ResultGrade.BASIC
    if good * 100 >= t.excellent_good_min * graded and poor * 100 <= t.excellent_poor_max * graded:
        return ResultGrade.EXCELLENT
    return ResultGrade.PASS


def turnout_low(appraisal: Appraisal, t: Thresholds) -> bool:
    """Whether a closed session's turnout, in whole per cent, is below the rule's share."""
    turnout = appraisal.turnout_percent
    return turnout is not None and turnout < t.turnout_min


def commended_org(counts: list[int], t: Thresholds) -> bool:
    graded = sum(counts[:4])
    return bool(graded) and (counts[0] + counts[1]) * 100 >= t.commend_satisfaction_min * graded
