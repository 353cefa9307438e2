"""The 写实簿 at province scale, run by bench/run.py inside its Django setup.

    BENCH_ONLY=ledgers make bench
    BENCH_ONLY=ledgers BENCH_LEDGERS=pdf,pages make bench   # leave out the batch (minutes)

- Realism, written once into the bench database through the services (ledgers_open,
  ledger_note_save, ledger_sign_many): in the largest county, the sibling branches with most
  members, BENCH_LEDGER_BRANCHES of them, get this year's member ledgers and every section
  already due signed — the missing records explained, the members' paper signatures recorded by
  the branch secretary, the branch's slots signed by the secretary — and their organisation
  ledgers the 承诺写实 and the first half-year. The seed's branches hold at most 34 members, so
  the two largest of them are first brought to 50 by transfers from their siblings
  (orgs.services.member_transfer, dated 2 January). The member printed alone gets a 另附页 and
  a 简要总结 of a few hundred characters first. Then every ledger of the county is opened
  (about 21,000) and the ledger tables analysed. The signers are the secretary logins
  bs<org id> that the reminders benchmark writes (written here too if missing), named after
  each organisation's secretary.
- One member ledger as PDF: ledgers.pdf.ledger_pdf (HTML built from the view, then WeasyPrint
  with the project's URL fetcher) against weasyprint.HTML(string=html).write_pdf() of the same
  HTML (its stylesheet is inside it), alternating, BENCH_RUNS times each; medians and the ratio.
- A ~50-member branch, all ledgers, as the "ledger_batch" job (ledgers/jobs.py): two Celery
  workers (each a separate process, pool "solo") against Redis (BENCH_REDIS_URL, a database of
  its own that must be empty), the job queued by ledgers.jobs.ledger_batch_start; wall time from
  the start to the job's row saying done, and the peak RSS (VmHWM) of the worker that ran it.
  One job runs on one worker, so this is measured as: the PDF alone, the zip alone, two
  branches' PDFs at once (both workers busy), and the one branch split into two subprocesses
  that each lay out half the ledgers the way the job does (two half PDFs, not merged).
- The branch grid (ledgers.selectors.branch_grid, and its page as the branch's secretary) for
  the province's largest other branch and for the signed 50-member one; the children grid
  (selectors.children_grid and its page) of the committee with most children and of the signed
  branches' parent; the county inspection (selectors.inspection and its page, as the county's
  office login bo<id>) of the last half-year ended, for the county with most members, and the
  drill-down's first page (members and organisations) of the signed committee: queries and
  median time, against a floor measured in the same run (count(*) over the review table); the
  slowest query of each, and the tables of more than 10,000 rows its plan reads whole. EXPLAIN
  ANALYZE of each one's slowest query goes to bench/results/ledgers_explain.txt.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# which measures: BENCH_LEDGERS=pdf,pages,batch (all by default)
PARTS = set(os.environ.get("BENCH_LEDGERS", "pdf,pages,batch").split(","))
SIGN_BRANCHES = int(os.environ.get("BENCH_LEDGER_BRANCHES", "12"))
BATCH_SIZE = (45, 55)  # members of the batch branches
WORKER_READY_SECONDS = 90
JOB_SECONDS = 900
EXPLAIN = ROOT / "bench" / "results" / "ledgers_explain.txt"

SUPPLEMENT = (
    "本季度除承诺事项外，还参加了村里组织的冬季环境整治和防汛值守，共出工6次；"
    "帮助留守老人王某某办理了医保转移手续，协调解决了邻里用水纠纷一起。"
    "在党员活动日上交流了种植技术，带动3户群众试种新品种，预计每户增收2000元以上。"
    "对照承诺逐项检查：一是联系群众的承诺已兑现，走访农户12户，记录民情日记8篇；"
    "二是学习承诺基本兑现，参加集中学习4次，撰写心得2篇，但自学时间还不够；"
    "三是带头致富的承诺正在推进，合作社入股手续已办完，年底见成效。"
    "下一步打算：继续做好联系户的服务，把学习安排到每周固定时间，带动更多群众参加合作社。"
) * 2
SUMMARY = (
    "一年来，该同志能够按照支部要求认真履行公开承诺，积极参加“三会一课”和主题党日活动，"
    "在联系服务群众、带头发展生产、维护村里稳定等方面发挥了先锋模范作用。"
    "全年走访联系户40余次，帮助群众解决实际困难9件，带头参加志愿服务和环境整治，"
    "受到群众好评。存在的不足：理论学习不够系统，有时满足于完成任务，创新意识有待加强。"
    "今后要加强学习，在带领群众增收致富上下更大功夫，争当优秀共产党员。"
)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _load() -> list[float]:
    """The machine's load average (1, 5, 15 minutes): the numbers are read against it."""
    return [round(x, 1) for x in os.getloadavg()]


# ---------------------------------------------------------------- the places measured


def _largest_county():
    from django.db import connection

    from orgs.models import Member, Organization

    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT c.id, count(m.id) FROM {Organization._meta.db_table} c
            JOIN {Organization._meta.db_table} o
              ON o.tree_id = c.tree_id AND o.lft BETWEEN c.lft AND c.rght
            JOIN {Member._meta.db_table} m ON m.org_id = o.id
            WHERE c.kind = 'county' GROUP BY c.id ORDER BY 2 DESC, 1 LIMIT 1"""
        )
        pk, members = cursor.fetchone()
    return Organization.objects.get(pk=pk), members


def _demo_orgs():
    """The organisations of the demo logins (the other benchmarks' pages write there)."""
    from orgs.demo import DEMO_USERS
    from orgs.models import Organization, OrganizationUserObjectPermission

    ids = OrganizationUserObjectPermission.objects.filter(
        user__username__in=[row[0] for row in DEMO_USERS]
    ).values_list("content_object_id", flat=True)
    # the committees and branches: the province, city and county logins only read here
    return list(
        Organization.objects.filter(pk__in=list(ids)).exclude(
            kind__in=["province", "city", "county"]
        )
    )


def _groups(county, demo) -> tuple[dict, dict]:
    """The county's active branches by parent (leaving out the demo logins' committees), and the
    members of each branch."""
    from django.db.models import Count

    from orgs.models import Member, Organization, OrgKind

    sizes = dict(
        Member.objects.filter(county.subtree_q("org__"))
        .values_list("org_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    groups: dict[int, list] = {}
    for branch in Organization.objects.filter(
        county.subtree_q(), kind=OrgKind.BRANCH, is_active=True
    ).order_by("lft"):
        if not any(d.tree_id == branch.tree_id and d.lft <= branch.lft <= d.rght for d in demo):
            groups.setdefault(branch.parent_id, []).append(branch)
    return groups, sizes


def _fill(branches: list, sizes: dict, today: datetime.date) -> int:
    """Make the two largest of sibling `branches` hold 50 members each, moving members of the
    others in (orgs.services.member_transfer by the giving branch's secretary, dated the year's
    second day, so that the whole year is the new branch's). The seed's branches hold at most
    34 members. Each giving branch keeps its secretary and at least 10 members."""
    from orgs import services as org_services
    from orgs.models import Member

    on = datetime.date(today.year, 1, 2)
    ranked = sorted(branches, key=lambda o: (-sizes.get(o.pk, 0), o.pk))
    targets, donors = ranked[:2], ranked[2:]
    moved = 0
    for target in targets:
        need = 50 - sizes.get(target.pk, 0)
        for donor in donors:
            if need <= 0:
                break
            spare = sizes.get(donor.pk, 0) - 10
            if spare <= 0:
                continue
            by = _secretary_login(donor)
            candidates = (
                Member.objects.filter(org=donor, memberships__end__isnull=True)
                .filter(memberships__start__lt=on)
                .exclude(pk=donor.secretary_id)
                .select_related("org", "org__parent")
                .order_by("pk")[: min(spare, need)]
            )
            for member in candidates:
                org_services.member_transfer(by=by, member=member, to_org=target, on=on)
                sizes[donor.pk] -= 1
                sizes[target.pk] = sizes.get(target.pk, 0) + 1
                need -= 1
                moved += 1
    return moved


def pick(today: datetime.date) -> dict:
    """The county, the parent organisation and branches to sign, the two batch branches, the
    province's largest other branch. The same each run (ordered by size, then id)."""
    from django.db.models import Count, Q

    from ledgers.selectors import kept_members
    from orgs.models import Member, Organization, OrgKind

    county, county_members = _largest_county()
    demo = _demo_orgs()
    moved = 0
    for attempt in range(2):
        groups, sizes = _groups(county, demo)

        def key(item, sizes=sizes):
            parent_id, branches = item
            batch = [o for o in branches if BATCH_SIZE[0] <= sizes.get(o.pk, 0) <= BATCH_SIZE[1]]
            return (min(len(batch), 2), sum(sizes.get(o.pk, 0) for o in branches), -parent_id)

        parent_id, branches = max(groups.items(), key=key)
        batch = [o for o in branches if BATCH_SIZE[0] <= sizes.get(o.pk, 0) <= BATCH_SIZE[1]]
        if len(batch) >= 2:
            break
        if attempt:
            raise RuntimeError(f"no two branches of 45-55 members in {county.name}")
        moved = _fill(branches, sizes, today)
    parent = Organization.objects.get(pk=parent_id)
    batch = sorted(batch, key=lambda o: (abs(sizes[o.pk] - 50), o.pk))[:2]
    rest = [o for o in branches if o not in batch]
    signed = batch + rest[: max(0, SIGN_BRANCHES - len(batch))]
    # the committee whose drill-down is read: the parent, or the committee above it
    committee = (
        parent
        if parent.kind == OrgKind.COMMITTEE
        else parent.get_ancestors().filter(kind=OrgKind.COMMITTEE).last()
    )
    largest = (
        Member.objects.filter(org__kind=OrgKind.BRANCH)
        .exclude(org__in=batch)
        .values("org_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "org_id")
        .first()
    )
    big_committee = (
        Organization.objects.filter(kind=OrgKind.COMMITTEE, is_active=True)
        .annotate(n=Count("children", filter=Q(children__is_active=True)))
        .order_by("-n", "pk")
        .first()
    )
    return {
        "county": county,
        "county_members": county_members,
        "parent": parent,
        "committee": committee,
        "signed_branches": signed,
        "batch": batch,
        "batch_members": [len(kept_members(org=o, year=today.year, today=today)) for o in batch],
        "moved_in": moved,
        "largest_branch": Organization.objects.get(pk=largest["org_id"]),
        "largest_branch_members": largest["n"],
        "big_committee": big_committee,
    }


def _secretary_login(org):
    """bs<org id>, the secretary login of `org` (bench/reminders_bench.ensure_people), named
    after the organisation's secretary so that the print shows a name."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=f"bs{org.pk}")
    name = org.secretary.name if org.secretary_id else f"{org.name}书记"
    if user.first_name != name:
        user.first_name, user.last_name = name, ""
        user.save(update_fields=["first_name", "last_name"])
    return user


# ---------------------------------------------------------------- realism


def _pdf_member(branch, year: int, today: datetime.date):
    """The member of `branch` whose ledger holds the most text (the one printed alone)."""
    from ledgers.assembly import member_ledgers
    from ledgers.selectors import kept_members

    views = member_ledgers(
        year=year, members=kept_members(org=branch, year=year, today=today), today=today
    )
    best = max(
        views,
        key=lambda v: (
            len(json.dumps([s.live for s in v.sections], ensure_ascii=False)),
            -v.member.pk,
        ),
    )
    return best.member


# why a record is missing, by what the section is built from (the keeper's 缺记录说明)
MISSING_REASONS = {
    "pledges": "该党员的承诺为口头承诺，尚未录入，经支部委员会核实。",
    "fulfilment": "本期兑现情况在支部党员大会上口头报告，未形成书面记录。",
    "review": "本期领导点评为集中点评，未形成个人书面意见。",
    "year": "未参加本年度民主评议，经支部委员会认定。",
}


def _sign(key: str, subjects: list, *, keeper_user, signers, year: int, today) -> int:
    """Sign section `key` of every subject's ledger through the services, as a secretary would:
    the missing records explained first (ledger_note_save), then each slot, lower first, in one
    ledger_sign_many per signer, on a day soon after the section became signable.
    `signers(view, slot)` → (user, on paper). Returns the signatures made."""
    from ledgers import access, services
    from ledgers import sections as S
    from ledgers.assembly import MISSING, PARTLY, READY, member_ledgers, org_ledgers
    from ledgers.models import NoteKind
    from ledgers.services import SignItem
    from orgs.models import Member

    if not subjects:
        return 0
    is_member = isinstance(subjects[0], Member)

    def views(day):
        if is_member:
            return member_ledgers(year=year, members=subjects, today=day)
        return org_ledgers(year=year, orgs=subjects, today=day)

    due_after = views(today)[0].section(key).due_after
    if today <= due_after:
        return 0
    day = min(due_after + datetime.timedelta(days=10), today)
    for view in views(day):
        section = view.section(key)
        if section.state == MISSING:
            services.ledger_note_save(
                by=keeper_user, subject=view.subject, year=year, section=key,
                kind=NoteKind.MISSING, text=MISSING_REASONS[section.spec.builds_from], today=day,
            )  # fmt: skip
    made = 0
    spec = S.section_spec("member" if is_member else "org", key)
    for n, slot in enumerate(spec.slots):
        batches: dict[tuple[int, bool], tuple[object, list]] = {}
        for view in views(day):
            section = view.section(key)
            if (
                section.state not in (READY, PARTLY)
                or slot in section.signatures
                or any(lower not in section.signatures for lower in spec.slots[:n])
            ):
                continue
            user, paper = signers(view, slot)
            if access.sign_refusal(user, view, section, slot, paper=paper) is not None:
                continue
            batches.setdefault((user.pk, paper), (user, []))[1].append(
                SignItem(view.subject, key, slot)
            )
        for (_pk, paper), (user, items) in batches.items():
            made += len(
                services.ledger_sign_many(
                    by=user, year=year, items=items, paper_on=day if paper else None, today=day
                )
            )
    return made


def _open_county(county, year: int, today: datetime.date) -> int:
    """建立写实簿 for the whole county, each organisation's by its own secretary login (the
    ledgers ledgers_open makes: its members' and its basic-level children's). Returns how many
    were made; none when they are open already."""
    from django.contrib.auth import get_user_model

    from ledgers import services
    from ledgers.access import LEDGER_ORG_KINDS
    from ledgers.models import Ledger, LedgerKind
    from orgs.models import Member, Organization

    members = Member.objects.filter(county.subtree_q("org__")).count()
    have = Ledger.objects.filter(
        county.subtree_q("keeper__"), kind=LedgerKind.MEMBER, year=year
    ).count()
    if have >= members * 0.9:
        return 0
    keepers = list(
        Organization.objects.filter(
            county.subtree_q(), is_active=True, kind__in=[*LEDGER_ORG_KINDS, "county"]
        ).order_by("lft")
    )
    users = {
        u.username: u
        for u in get_user_model().objects.filter(username__in=[f"bs{o.pk}" for o in keepers])
    }
    return sum(
        services.ledgers_open(by=users[f"bs{org.pk}"], org=org, year=year, today=today)
        for org in keepers
    )


def _analyze() -> None:
    from django.db import connection

    from ledgers.models import Ledger, LedgerEvent, LedgerNote, Lock, Signature

    with connection.cursor() as cursor:
        for model in (Ledger, Signature, LedgerNote, LedgerEvent, Lock):
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def ensure_signed(places: dict, today: datetime.date) -> dict:
    """Open and sign the chosen branches' ledgers of this year, and their organisation ledgers
    kept by the parent (once each: kept in the database)."""
    from ledgers import sections as S
    from ledgers import services
    from ledgers.models import Ledger, LedgerKind, NoteKind, Signature
    from ledgers.selectors import kept_members, kept_orgs

    year = today.year
    parent, branches = places["parent"], places["signed_branches"]
    pdf_member = _pdf_member(places["batch"][0], year, today)
    started = time.perf_counter()
    out = {"pdf_member": pdf_member.pk}
    signed = Signature.objects.filter(ledger__year=year, withdrawn_at__isnull=True)
    if not signed.filter(ledger__kind=LedgerKind.MEMBER, ledger__keeper__in=branches).exists():
        # the member printed alone: a long 另附页 on two quarters, the 简要总结 written
        first = _secretary_login(places["batch"][0])
        services.ledgers_open(by=first, org=places["batch"][0], year=year, today=today)
        for section, kind, text in (
            ("q2", NoteKind.SUPPLEMENT, SUPPLEMENT),
            ("q3", NoteKind.SUPPLEMENT, SUPPLEMENT[:300]),
            ("year", NoteKind.SUMMARY, SUMMARY),
        ):
            services.ledger_note_save(
                by=first, subject=pdf_member, year=year, section=section, kind=kind, text=text,
                today=today,
            )  # fmt: skip
        made = 0
        for branch in branches:
            secretary = _secretary_login(branch)
            services.ledgers_open(by=secretary, org=branch, year=year, today=today)
            members = kept_members(org=branch, year=year, today=today)

            def member_signers(view, slot, secretary=secretary):
                # no member of the seed has a login: the secretary records the paper signature
                if slot == S.MEMBER_SELF and view.member.user_id is None:
                    return secretary, True
                return (view.member.user if slot == S.MEMBER_SELF else secretary), False

            for spec in S.MEMBER_SECTIONS:
                made += _sign(
                    spec.key, members, keeper_user=secretary, signers=member_signers,
                    year=year, today=today,
                )  # fmt: skip
        out["member_signatures_made"] = made
    if not signed.filter(ledger__kind=LedgerKind.ORG, ledger__keeper=parent).exists():
        upper = _secretary_login(parent)
        services.ledgers_open(by=upper, org=parent, year=year, today=today)
        own = {o.pk: _secretary_login(o) for o in branches}
        children = [o for o in kept_orgs(org=parent) if o.pk in own]

        def org_signers(view, slot):
            return (upper if slot == S.UPPER else own[view.org.pk]), False

        made = 0
        for key in ("pledge", "h1", "h1r"):
            made += _sign(
                key, children, keeper_user=upper, signers=org_signers, year=year, today=today
            )
        out["org_signatures_made"] = made
    out["county_ledgers_opened"] = _open_county(places["county"], year, today)
    _analyze()
    out["seconds"] = round(time.perf_counter() - started, 1)
    mine = Signature.objects.filter(ledger__year=year, withdrawn_at__isnull=True).filter(
        ledger__keeper__in=[*branches, parent]
    )
    out["signatures"] = mine.count()
    out["ledgers_of_year"] = Ledger.objects.filter(year=year).count()
    return out


# ---------------------------------------------------------------- one member ledger as PDF


def pdf_measure(*, member_pk: int, today: datetime.date, runs: int) -> dict:
    """Both renders of one member ledger, alternating, in this process (a fresh one: see
    bench_pdf)."""
    from weasyprint import HTML

    from ledgers import pdf, services
    from ledgers.views_office import verify_url
    from orgs.models import Member

    member = Member.objects.select_related("org", "user").get(pk=member_pk)
    started = time.perf_counter()
    view = services.assemble(subject=member, year=today.year, today=today)
    assembled = time.perf_counter() - started
    url = verify_url(view)
    started = time.perf_counter()
    html = pdf.ledger_html([view], verify_url=url)
    built = time.perf_counter() - started

    def project() -> bytes:
        return pdf.ledger_pdf([view], verify_url=url)

    def bare() -> bytes:
        return HTML(string=html).write_pdf()

    # the first render of a process loads the fonts: once each before measuring
    first_project, first_bare = project(), bare()
    samples = {"project": [], "bare": []}
    cpu = {"project": [], "bare": []}  # this process's CPU time: less moved by other load
    for n in range(runs):
        order = (("project", project), ("bare", bare))
        for name, fn in order if n % 2 == 0 else reversed(order):
            began, began_cpu = time.perf_counter(), time.process_time()
            fn()
            samples[name].append(time.perf_counter() - began)
            cpu[name].append(time.process_time() - began_cpu)
    project_ms = statistics.median(samples["project"])
    bare_ms = statistics.median(samples["bare"])
    project_cpu, bare_cpu = statistics.median(cpu["project"]), statistics.median(cpu["bare"])
    return {
        "project_median_ms": _ms(project_ms),
        "bare_weasyprint_median_ms": _ms(bare_ms),
        "ratio": round(project_ms / bare_ms, 3),
        "project_cpu_median_ms": _ms(project_cpu),
        "bare_cpu_median_ms": _ms(bare_cpu),
        "cpu_ratio": round(project_cpu / bare_cpu, 3),
        "project_min_max_ms": [_ms(min(samples["project"])), _ms(max(samples["project"]))],
        "bare_min_max_ms": [_ms(min(samples["bare"])), _ms(max(samples["bare"]))],
        "runs": runs,
        "pages": len(HTML(string=html).render().pages),
        "html_chars": len(html),
        "pdf_bytes": [len(first_project), len(first_bare)],
        "signatures": sum(len(s.signatures) for s in view.sections),
        "assemble_ms": _ms(assembled),
        "html_ms": _ms(built),
    }


_PDF = r"""
import datetime, json, os, sys
sys.path[:0] = [{root!r}, {bench!r}]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
import ledgers_bench
out = ledgers_bench.pdf_measure(
    member_pk={member_pk}, today=datetime.date.fromisoformat({today!r}), runs={runs}
)
print(json.dumps(out))
"""


def bench_pdf(results: dict, *, member_pk: int, today: datetime.date, runs: int) -> None:
    """One member ledger, the project's render against a bare WeasyPrint render of its HTML, in
    a fresh process (the benchmark's own, after writing thousands of rows, holds a large heap
    whose garbage collections would fall more on the render that allocates more)."""
    code = _PDF.format(
        root=str(ROOT), bench=str(ROOT / "bench"), member_pk=member_pk,
        today=today.isoformat(), runs=runs,
    )  # fmt: skip
    env = os.environ.copy()
    env["DEBUG"] = "0"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    row = json.loads(done.stdout.strip().splitlines()[-1])
    results["ledger_pdf_one_member"] = row | {"loadavg": _load()}


# ---------------------------------------------------------------- the batch job


def _cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a live process has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _vm(pid: int, field: str) -> float | None:
    """VmHWM / VmRSS of a live process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except FileNotFoundError:
        return None
    return None


class Workers:
    """Celery workers of config.celery (pool solo: the worker process runs the task itself)
    against their own Redis database, started fresh for each measure."""

    def __init__(self, count: int, logs: Path):
        self.count, self.logs = count, logs
        self.procs: list[subprocess.Popen] = []
        self.names: list[str] = []
        self.idle_rss: list[float | None] = []
        self.idle_cpu: list[float | None] = []

    def env(self) -> dict:
        env = os.environ.copy()
        env.update(REDIS_URL=REDIS_URL, DEBUG="0", PYTHONUNBUFFERED="1")
        return env

    def __enter__(self) -> Workers:
        stamp = int(time.time() * 1000)
        for n in range(self.count):
            name = f"ledgerbench{n}-{stamp}"
            log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 — closed with the worker
            proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config.celery", "worker",
                 "--pool", "solo", "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "-l", "info"],
                cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            log.close()
            self.procs.append(proc)
            self.names.append(name)
        deadline = time.monotonic() + WORKER_READY_SECONDS
        for proc, name in zip(self.procs, self.names, strict=True):
            while "ready." not in self.log(name):
                if proc.poll() is not None or time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError(f"worker {name} did not start:\n{self.log(name)[-3000:]}")
                time.sleep(0.2)
            self.idle_rss.append(_vm(proc.pid, "VmRSS"))
            self.idle_cpu.append(_cpu(proc.pid))
        return self

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def ran(self, task_id: str) -> list[int]:
        """The workers whose log says they received the task."""
        return [n for n, name in enumerate(self.names) if f"[{task_id}] received" in self.log(name)]

    def peaks(self) -> list[float | None]:
        return [_vm(proc.pid, "VmHWM") for proc in self.procs]

    def cpu_since_ready(self, n: int) -> float | None:
        now, idle = _cpu(self.procs[n].pid), self.idle_cpu[n]
        return None if now is None or idle is None else round(now - idle, 2)

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _sender():
    from celery import Celery

    return Celery("ledgers_bench", broker=REDIS_URL)


def _redis_empty() -> bool:
    import redis

    return redis.Redis.from_url(REDIS_URL).dbsize() == 0


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def _start_batches(sender, starts: list[tuple]) -> list:
    """Queue the batch jobs through ledgers.jobs.ledger_batch_start, their messages sent to the
    workers' Redis (this process runs Celery eagerly, as run.py leaves it without REDIS_URL)."""
    from ledgers import jobs as ledger_jobs
    from orgs import jobs as org_jobs

    tasks: dict[int, str] = {}

    def enqueue(job_id: int) -> None:
        tasks[job_id] = sender.send_task("orgs.run_job", args=[job_id]).id

    found = []
    with mock.patch.object(org_jobs, "_enqueue", enqueue):
        for by, org, year, form in starts:
            job = ledger_jobs.ledger_batch_start(
                by=by, org=org, year=year, what=ledger_jobs.MEMBERS, form=form
            )
            job.task_id = tasks[job.pk]
            found.append(job)
    return found


def _wait(jobs: list, started: float) -> dict[int, float]:
    from orgs.models import Job, JobState

    ended: dict[int, float] = {}
    deadline = time.monotonic() + JOB_SECONDS
    while len(ended) < len(jobs):
        for job in Job.objects.filter(pk__in=[j.pk for j in jobs if j.pk not in ended]):
            if job.state in (JobState.DONE, JobState.FAILED):
                ended[job.pk] = time.perf_counter() - started
        if time.monotonic() > deadline:
            raise RuntimeError(f"batch jobs not done in {JOB_SECONDS} s")
        time.sleep(0.1)
    return ended


def _job_row(job, wall: float, workers: Workers) -> dict:
    job.refresh_from_db()
    ran = workers.ran(job.task_id)
    peaks = workers.peaks()
    row = {
        "loadavg": _load(),
        "state": job.state,
        "wall_s": round(wall, 2),
        "worker_s": round((job.finished_at - job.started_at).total_seconds(), 2)
        if job.finished_at and job.started_at
        else None,
        "ledgers": job.total,
        "file": job.result_name,
        "bytes": job.result.size if job.result else 0,
        "worker": ran,
        "worker_cpu_s": [workers.cpu_since_ready(n) for n in ran],
        "worker_peak_rss_mb": [peaks[n] for n in ran],
        "worker_idle_rss_mb": [workers.idle_rss[n] for n in ran],
    }
    if job.message:
        row["message"] = job.message
    if job.error:
        row["error"] = job.error[:300]
    return row


def _discard(jobs: list) -> None:
    from orgs.models import Job

    for job in Job.objects.filter(pk__in=[j.pk for j in jobs]):
        if job.result:
            job.result.delete(save=False)
        job.delete()


_HALF = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
began = time.perf_counter()
import django
django.setup()
import datetime
from ledgers import jobs, pdf
from ledgers.views_office import verify_url
from orgs.models import Organization
ready = time.perf_counter()
usage = resource.getrusage(resource.RUSAGE_SELF)
ready_cpu = usage.ru_utime + usage.ru_stime
org = Organization.objects.get(pk={org_id})
today = datetime.date.fromisoformat({today!r})
# as ledgers.jobs._run_batch lays out a PDF batch, for this process's half of the members
subjects, assemble = jobs.batch_ledgers(org=org, year=today.year, what=jobs.MEMBERS, today=today)
cut = (len(subjects) + 1) // 2
mine = subjects[:cut] if {part} == 0 else subjects[cut:]
documents = []
for chunk in jobs._chunks(mine):
    html = pdf.ledger_html(assemble(chunk), verify_url=verify_url)
    documents.append(pdf.html_document(html).render())
pages = [page for document in documents for page in document.pages]
content = documents[0].copy(pages).write_pdf()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{
    "ledgers": len(mine), "pages": len(pages), "bytes": len(content),
    "setup_s": round(ready - began, 2), "work_s": round(time.perf_counter() - ready, 2),
    "work_cpu_s": round(usage.ru_utime + usage.ru_stime - ready_cpu, 2),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
}}))
"""


def _split(branch, today: datetime.date) -> dict:
    env = os.environ.copy()
    env["DEBUG"] = "0"
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _HALF.format(root=str(ROOT), org_id=branch.pk, today=today.isoformat(), part=part),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for part in (0, 1)
    ]
    halves, ends = [], []
    for proc in procs:
        out, err = proc.communicate(timeout=JOB_SECONDS)
        ends.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise RuntimeError(err[-3000:])
        halves.append(json.loads(out.strip().splitlines()[-1]))
    return {
        "wall_s": round(max(ends), 2),
        "loadavg": _load(),
        "halves": halves,
        "peak_rss_mb": max(h["peak_rss_mb"] for h in halves),
    }


def bench_batch(results: dict, *, places: dict, today: datetime.date) -> None:
    from ledgers import jobs as ledger_jobs

    year = today.year
    first, second = places["batch"]
    if not _redis_empty():
        results["ledger_batch"] = {
            "skipped": f"{REDIS_URL} is not empty: set BENCH_REDIS_URL to an unused database"
        }
        return
    users = {o.pk: _secretary_login(o) for o in (first, second)}
    sender = _sender()
    logs = Path(tempfile.mkdtemp(prefix="ledgers_bench_"))
    base = {"branch": first.name, "members": places["batch_members"][0], "logs": str(logs)}
    started_jobs: list = []  # deleted at the end, whatever happens (a batch is exclusive)
    try:
        for form, label in ((ledger_jobs.PDF, "pdf"), (ledger_jobs.ZIP, "zip")):
            with Workers(2, logs) as workers:
                started = time.perf_counter()
                jobs = _start_batches(sender, [(users[first.pk], first, year, form)])
                started_jobs += jobs
                ended = _wait(jobs, started)
                results[f"ledger_batch_{label}_one_job_2_workers"] = base | _job_row(
                    jobs[0], ended[jobs[0].pk], workers
                )
        with Workers(2, logs) as workers:
            started = time.perf_counter()
            jobs = _start_batches(
                sender,
                [
                    (users[first.pk], first, year, ledger_jobs.PDF),
                    (users[second.pk], second, year, ledger_jobs.PDF),
                ],
            )
            started_jobs += jobs
            ended = _wait(jobs, started)
            rows = [_job_row(job, ended[job.pk], workers) for job in jobs]
            results["ledger_batch_pdf_two_branches_2_workers"] = {
                "members": places["batch_members"],
                "wall_s": round(max(ended.values()), 2),
                "jobs": rows,
            }
    finally:
        _discard(started_jobs)
        _flush_redis()
    results["ledger_batch_pdf_split_2_processes"] = base | _split(first, today)


# ---------------------------------------------------------------- grid and inspection


def _slowest(queries: list[dict]) -> dict:
    if not queries:
        return {}
    slow = max(queries, key=lambda q: float(q["time"]))
    return {"ms": round(float(slow["time"]) * 1000, 1), "sql": slow["sql"][:160]}


def _explain(label: str, sql: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    with EXPLAIN.open("a") as out:
        out.write(f"==== {label}\n{sql}\n\n{plan}\n\n")


def _measure(results, name, fn, *, timed, floor_s, explain=True, **extra) -> None:
    """Queries and the slowest one on a first call, then the median of BENCH_RUNS calls."""
    import home_bench
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    reset_queries()
    with CaptureQueriesContext(connection) as ctx:
        fn()
    queries = list(ctx.captured_queries)
    median, low, high, _ = timed(fn)
    slow = _slowest(queries)
    row = {
        "median_ms": _ms(median),
        "min_ms": _ms(low),
        "max_ms": _ms(high),
        "queries": len(queries),
        "ratio_to_floor": round(median / floor_s, 2),
        "slowest_query_ms": slow.get("ms"),
        **extra,
    }
    if connection.vendor == "postgresql":
        scans = []
        for q in queries:
            if q["sql"].lstrip().upper().startswith("SELECT"):
                scans += home_bench._seq_scans(connection, q["sql"], None)
        row["seq_scans"] = sorted(set(scans))
        if explain and slow:
            _explain(name, max(queries, key=lambda q: float(q["time"]))["sql"])
    results[name] = row


def _page_url(name: str, *args) -> str | None:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def bench_pages(results: dict, *, places: dict, today: datetime.date, timed) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from ledgers import selectors
    from orgs.periods import HALF, Period
    from reviews.models import LeaderReview

    year = today.year
    EXPLAIN.parent.mkdir(parents=True, exist_ok=True)
    EXPLAIN.write_text("")

    def floor():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {LeaderReview._meta.db_table}")
            return cursor.fetchone()[0]

    floor_median, low, high, rows = timed(floor)
    results["ledgers_floor_count_reviews"] = {
        "median_ms": _ms(floor_median), "min_ms": _ms(low), "max_ms": _ms(high), "rows": rows,
    }  # fmt: skip
    m = {"timed": timed, "floor_s": floor_median}

    def client_for(username):
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        return client

    def get(client, url):
        def fn():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response

        return fn

    # the branch grid: the province's largest branch, and a signed ~50-member one
    for label, branch, members in (
        ("largest", places["largest_branch"], places["largest_branch_members"]),
        ("signed", places["batch"][0], places["batch_members"][0]),
    ):
        _measure(
            results, f"ledger_branch_grid_{label}",
            lambda b=branch: selectors.branch_grid(org=b, year=year, today=today),
            members=members, **m,
        )  # fmt: skip
        url = _page_url("ledgers:branch", branch.pk, year)
        if url is None:
            results[f"ledger_branch_grid_page_{label}"] = {"skipped": "no ledgers:branch page"}
        else:
            client = client_for(f"bs{branch.pk}")
            _measure(results, f"ledger_branch_grid_page_{label}", get(client, url), url=url, **m)
    # a committee's children grid: the province's committee with most children, the signed one
    for label, committee in (
        ("largest", places["big_committee"]),
        ("signed", places["parent"]),
    ):
        _measure(
            results, f"ledger_children_grid_{label}",
            lambda c=committee: selectors.children_grid(org=c, year=year, today=today),
            children=len(selectors.kept_orgs(org=committee)), **m,
        )  # fmt: skip
        url = _page_url("ledgers:children", committee.pk, year)
        if url is None:
            results[f"ledger_children_grid_page_{label}"] = {"skipped": "no ledgers:children page"}
        else:
            client = client_for(f"bs{committee.pk}")
            _measure(results, f"ledger_children_grid_page_{label}", get(client, url), url=url, **m)
    # the county inspection of the last half-year ended, its page, the drill-down
    county = places["county"]
    half = Period.containing(today, HALF)
    if half.end >= today:
        half = half.previous()
    _measure(
        results, "ledger_inspection_county",
        lambda: selectors.inspection(county=county, half=half),
        members=places["county_members"], half=half.slug, **m,
    )  # fmt: skip
    office = client_for(f"bo{county.pk}")
    url = _page_url("ledgers:inspection", county.pk, half.slug)
    _measure(results, "ledger_inspection_county_page", get(office, url), url=url, **m)
    committee = places["committee"]
    for kind in ("members", "orgs"):
        url = _page_url("ledgers:unsigned", committee.pk, half.slug) + f"?kind={kind}"
        _measure(results, f"ledger_unsigned_first_page_{kind}", get(office, url), url=url, **m)
    rows = selectors.inspection(county=county, half=half)
    signed_row = next((r for r in rows if r.org.lft <= committee.lft <= r.org.rght), None)
    if signed_row is not None:
        results["ledger_inspection_signed_committee"] = {
            "row": signed_row.org.name,
            "members": signed_row.members,
            "members_complete": signed_row.members_complete,
            "orgs": signed_row.orgs,
            "orgs_complete": signed_row.orgs_complete,
        }


# ---------------------------------------------------------------- entry


def run(results: dict, *, timed, runs: int | None = None) -> None:
    import reminders_bench
    from django.utils import timezone

    runs = runs or int(os.environ.get("BENCH_RUNS", "7"))
    # WeasyPrint's progress lines (INFO, shown with DEBUG) stay out of the table
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    today = timezone.localdate()
    results["ledgers_people"] = reminders_bench.ensure_people()
    started = time.perf_counter()
    places = pick(today)
    results["ledgers_places"] = {
        "seconds": round(time.perf_counter() - started, 1),
        "county": f"{places['county'].name} ({places['county'].pk})",
        "county_members": places["county_members"],
        "parent": f"{places['parent'].name} ({places['parent'].pk})",
        "committee": f"{places['committee'].name} ({places['committee'].pk})",
        "moved_in": places["moved_in"],
        "signed_branches": len(places["signed_branches"]),
        "batch": [f"{o.name} ({o.pk})" for o in places["batch"]],
        "batch_members": places["batch_members"],
        "largest_branch": f"{places['largest_branch'].name} ({places['largest_branch'].pk})",
        "largest_branch_members": places["largest_branch_members"],
        "big_committee": f"{places['big_committee'].name} ({places['big_committee'].pk})",
    }
    signed = ensure_signed(places, today)
    results["ledgers_signed"] = signed
    if "pdf" in PARTS:
        bench_pdf(results, member_pk=signed["pdf_member"], today=today, runs=runs)
    if "pages" in PARTS:
        bench_pages(results, places=places, today=today, timed=timed)
    if "batch" in PARTS:
        bench_batch(results, places=places, today=today)
