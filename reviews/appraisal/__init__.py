"""Democratic appraisal (民主评议 / 群众评议).

A yearly session (`Appraisal`) run by a branch over its members or by a parent over its basic-level
organisations goes through the four steps of 黑创先办[2010]12号 §三: 确定方案 (plan) → 公开述职
(statements) → 组织评议 (voting, then closed) → 公开结果 (published).

Ballots come in two ways: one-time codes cast on a phone (`Slip` → `Ballot`, nothing linking one to
the other or to a person) and paper sheets counted by two tellers (`PaperEntry` → `PaperCount`).

- models.py     sessions, subjects, slips, ballots, paper counts, grade rules, history
- codes.py      slip codes: generation, parsing, hashing
- rules.py      the result-grade rule (优秀 / 合格 / 基本合格 / 不合格) and its defaults
- tally.py      counting, the invariants and the digest stored at closing
- services.py   every state change
- selectors.py  reads for pages and for the 写实簿
- views.py, forms.py, urls.py   pages; the voting page is the one public route
"""
