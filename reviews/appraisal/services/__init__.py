"""Every change to an appraisal session. Each refuses with a Chinese ValidationError and, apart from
casting a ballot, leaves an AppraisalEvent; each re-checks the actor itself.

- plan.py     确定方案 and 公开述职: the plan, its subjects, 暂缓评议, statements, opening the vote
- ballots.py  slips (选票码) and casting a ballot
- paper.py    paper sheets counted by two independent tellers
- results.py  closing and counting, the committee's grades, publication, the grade rule
- locks.py    the session row's locks and the checks made under them

The app's writes are named here, so callers (views, tasks, the demo, other apps) import one module.
"""

from reviews.appraisal.services.ballots import (
    MAX_BATCH,
    CodeRefused,
    ballot_cast,
    closed_message,
    code_check,
    marks_text,
    slips_issue,
    slips_void,
)
from reviews.appraisal.services.paper import (
    PaperOutcome,
    co_teller_refusal,
    paper_differences,
    paper_discard,
    paper_enter,
    teller_refusal,
    tellers_dependence,
)
from reviews.appraisal.services.plan import (
    MAX_SUBJECTS,
    PLAN_FIELDS,
    appraisal_advance,
    appraisal_create,
    appraisal_update,
    statement_save,
    subject_exclude,
    subject_restore,
    voting_date_refusal,
)
from reviews.appraisal.services.results import (
    appraisal_close,
    appraisal_publish,
    results_adopt_suggested,
    results_decide,
    rule_set,
    turnout_warning,
)

__all__ = [
    "MAX_BATCH",
    "MAX_SUBJECTS",
    "PLAN_FIELDS",
    "CodeRefused",
    "PaperOutcome",
    "appraisal_advance",
    "appraisal_close",
    "appraisal_create",
    "appraisal_publish",
    "appraisal_update",
    "ballot_cast",
    "closed_message",
    "co_teller_refusal",
    "code_check",
    "marks_text",
    "paper_differences",
    "paper_discard",
    "paper_enter",
    "results_adopt_suggested",
    "results_decide",
    "rule_set",
    "slips_issue",
    "slips_void",
    "statement_save",
    "subject_exclude",
    "subject_restore",
    "teller_refusal",
    "tellers_dependence",
    "turnout_warning",
    "voting_date_refusal",
]
