"""Democratic appraisal (民主评议 / 群众评议).

A yearly session (`Appraisal`) run by a branch over its members or by a parent over its basic-level
organisations goes through the four steps of 黑创先办[2010]12号 §三: 确定方案 (plan) → 公开述职
(statements) → 组织评议 (voting, then closed) → 公开结果 (published).

Ballots come in two ways: one-time codes cast on a phone (`Slip` → `Ballot`, nothing linking one to
the other or to a person) and paper sheets counted by two tellers (`PaperEntry` → `PaperCount`).

- models.py     sessions, subjects, slips, ballots, paper counts, history; the lifecycle booleans
- codes.py      slip codes: generation, parsing, hashing
- rules.py      the result-grade rule (优秀 / 合格 / 基本合格 / 不合格) and its defaults
- tally.py      counting, the invariants and the digest stored at closing
- access.py     who may see and do what: `appraisals_visible_to`, the getters, the `can_*` checks
- services/     every state change: plan.py (plan, statements), ballots.py (slips, casting),
                paper.py (tellers), results.py (closing, grades, publication, the rule), locks.py
- selectors.py  reads for pages, and `published_entries` for the 写实簿 and the statistics
- views.py      the session's pages; views_slips.py (printing slips), views_paper.py (tellers),
                views_results.py (results, 评先评优, the rule), views_ballot.py (the one public
                route: the voting page and its limits on wrong codes); forms.py, urls.py
- the `appraisal_verify` command recounts a closed session against its frozen digest
"""
