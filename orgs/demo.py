"""A fictional province (江岳省) for demonstrations and benchmarks.

The tree is built in memory, its nested-set columns (tree_id, lft, rght, level) computed in one
depth-first pass, and written with bulk inserts (COPY on PostgreSQL) instead of one save per node.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import random
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import DatabaseError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from orgs import extensions, figures, services
from orgs.models import (
    Education,
    Member,
    MemberCategory,
    Membership,
    Organization,
    OrgKind,
    OrgYearFigure,
    Role,
    Sector,
)

DEMO_PASSWORD = "cxzy2026"

SCALES = {
    # cities, counties per city, townships per county, branches per township, members per branch
    "small": {"cities": 1, "counties": 3, "townships": 2, "branches": 10, "members": (18, 32)},
    "province": {"cities": 13, "counties": 8, "townships": 16, "branches": 58, "members": (8, 34)},
}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅玉兰志强海燕春梅文斌国庆德明振华小红"
    "立新晓东永刚建华淑珍凤英桂芝秀珍丽华卫东金山宝林玉珍文华德胜瑞林学军春生冬梅秋菊少华晓明雪梅红霞"
)
PLACE_HEAD = "临青清云安宁平长永泰丰新东西南北金玉白石明嘉兴庆和康富顺福盛龙凤桃柳松梅"
PLACE_TAIL = "江山川阳州原河湖林城溪岭泉峰沟坪桥庄塘岗湾洲"
ENTERPRISE = [
    "机械有限公司",
    "食品有限公司",
    "纺织有限公司",
    "建筑工程公司",
    "物流有限公司",
    "电子科技公司",
]
MINORITIES = ["回族", "满族", "蒙古族", "朝鲜族", "壮族", "土家族"]
EDUCATION_WEIGHTS = [
    (Education.POSTGRADUATE, 3),
    (Education.BACHELOR, 22),
    (Education.COLLEGE, 25),
    (Education.VOCATIONAL, 12),
    (Education.HIGH_SCHOOL, 20),
    (Education.JUNIOR, 18),
]
# A finer level for part of some drawn levels, picked by a hash of the member id so that the
# random stream (and so every other generated value) stays what it was before the finer levels.
FINER_EDUCATION = {
    Education.POSTGRADUATE: [Education.MASTER] * 3 + [Education.DOCTORATE, Education.POSTGRADUATE],
    Education.VOCATIONAL: [Education.VOCATIONAL] * 2
    + [Education.VOCATIONAL_HIGH, Education.TECHNICAL],
    Education.JUNIOR: [Education.JUNIOR] * 2 + [Education.PRIMARY],
}


def _finer_education(drawn: str, member_id: int) -> str:
    choices = FINER_EDUCATION.get(drawn)
    return choices[(member_id * 2654435761) % 4294967291 % len(choices)] if choices else drawn


@dataclass
class Node:
    name: str
    code: str
    kind: str
    sector: str
    children: list[Node] = field(default_factory=list)
    id: int = 0
    parent_id: int | None = None
    lft: int = 0
    rght: int = 0
    level: int = 0
    member_count: int = 0
    secretary_from: Node | None = None  # the node among whose members the secretary is
    secretary_index: int = 0  # which of them: a committee's is not its branch's secretary


class Names:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def place(self) -> str:
        return self.rng.choice(PLACE_HEAD) + self.rng.choice(PLACE_TAIL)

    def person(self) -> str:
        given = self.rng.choice(GIVEN) + (self.rng.choice(GIVEN) if self.rng.random() < 0.7 else "")
        return self.rng.choice(SURNAMES) + given


def build_tree(scale: str, rng: random.Random) -> Node:
    spec = SCALES[scale]
    names = Names(rng)
    low, high = spec["members"]

    def organ_branch(parent: Node, label: str) -> Node:
        branch = Node(f"{label}机关党支部", f"{parent.code}JG", OrgKind.BRANCH, Sector.ORGAN)
        branch.member_count = rng.randint(low, high)
        branch.secretary_from = branch
        parent.children.append(branch)
        parent.secretary_from, parent.secretary_index = branch, 1
        return branch

    province = Node("中共江岳省委员会", "JY", OrgKind.PROVINCE, Sector.ORGAN)
    organ_branch(province, "省委")
    used_cities: set[str] = set()
    for c in range(1, spec["cities"] + 1):
        city_name = names.place()
        while city_name in used_cities:
            city_name = names.place()
        used_cities.add(city_name)
        city = Node(f"中共{city_name}市委员会", f"JY{c:02d}", OrgKind.CITY, Sector.ORGAN)
        province.children.append(city)
        organ_branch(city, f"{city_name}市委")
        for k in range(1, spec["counties"] + 1):
            county_name = names.place() + ("区" if k == 1 else "县")
            county = Node(
                f"中共{county_name}委员会", f"{city.code}{k:02d}", OrgKind.COUNTY, Sector.ORGAN
            )
            city.children.append(county)
            organ_branch(county, county_name + "委")
            for t in range(1, spec["townships"] + 1):
                county.children.append(
                    build_township(county, t, spec["branches"], names, rng, (low, high))
                )
    return province


def build_township(county: Node, t: int, branches: int, names: Names, rng, counts) -> Node:
    street = t % 4 == 0
    place = names.place()
    town = Node(
        f"中共{place}{'街道工作委员会' if street else '镇委员会'}",
        f"{county.code}{t:02d}",
        OrgKind.COMMITTEE,
        Sector.COMMUNITY if street else Sector.RURAL,
    )
    low, high = counts
    for b in range(1, branches - 1):
        roll = rng.random() if b > 2 else 0.0  # the first two are villages (demo logins)
        if roll < 0.78:
            unit = names.place() + ("社区" if street else "村")
            sector = Sector.COMMUNITY if street else Sector.RURAL
        elif roll < 0.88:
            unit, sector = names.place() + rng.choice(ENTERPRISE), Sector.PRIVATE_ENTERPRISE
        elif roll < 0.95:
            unit, sector = names.place() + rng.choice(["小学", "中学"]), Sector.SCHOOL
        else:
            unit, sector = names.place() + "卫生院", Sector.INSTITUTION
        branch = Node(f"{unit}党支部", f"{town.code}{b:03d}", OrgKind.BRANCH, sector)
        branch.member_count = rng.randint(low, high)
        branch.secretary_from = branch
        town.children.append(branch)
        if b == 1:
            for g in range(1, 3):
                branch.children.append(
                    Node(f"第{'一二'[g - 1]}党小组", f"{branch.code}-G{g}", OrgKind.GROUP, sector)
                )
    general = Node(
        f"{place}中心学校党总支", f"{town.code}Z1", OrgKind.GENERAL_BRANCH, Sector.SCHOOL
    )
    for g in range(1, 3):
        branch = Node(
            f"{place}中心学校第{'一二'[g - 1]}党支部",
            f"{general.code}{g}",
            OrgKind.BRANCH,
            Sector.SCHOOL,
        )
        branch.member_count = rng.randint(low, high)
        branch.secretary_from = branch
        general.children.append(branch)
    general.secretary_from, general.secretary_index = general.children[0], 1
    town.children.append(general)
    town.secretary_from, town.secretary_index = town.children[0], 1
    return town


def number_tree(root: Node, *, first_id: int, tree_id: int) -> list[Node]:
    """Give every node an id and its nested-set columns in one depth-first pass."""
    nodes: list[Node] = []
    counter, next_id = 1, first_id
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            node.rght = counter
            counter += 1
            continue
        node.id, next_id = next_id, next_id + 1
        node.lft = counter
        counter += 1
        nodes.append(node)
        stack.append((node, True))
        for child in reversed(node.children):
            child.parent_id = node.id
            child.level = node.level + 1
            stack.append((child, False))
    return nodes


def _member_rows(nodes: list[Node], rng: random.Random, first_id: int, today: datetime.date):
    """Yield (member fields tuple) for every member of every node."""
    names = Names(rng)
    education = [e for e, _ in EDUCATION_WEIGHTS]
    weights = [w for _, w in EDUCATION_WEIGHTS]
    member_id = first_id
    for node in nodes:
        for i in range(node.member_count):
            birth = datetime.date(rng.randint(1938, 2003), rng.randint(1, 12), 1)
            earliest = birth.replace(year=birth.year + 18)
            joined = earliest + datetime.timedelta(
                days=rng.randint(0, max(1, (today - earliest).days - 1))
            )
            probationary = (today - joined).days < 365
            age = today.year - birth.year
            edu = rng.choices(education, weights)[0]
            post = "党支部书记" if i == 0 else ("支部委员" if i < 4 else "")
            yield (
                member_id,
                names.person(),
                "男" if rng.random() < 0.7 else "女",
                "汉族" if rng.random() < 0.93 else rng.choice(MINORITIES),
                birth,
                joined,
                _finer_education(edu, member_id),
                post,
                MemberCategory.PROBATIONARY if probationary else MemberCategory.FULL,
                age >= 80 and rng.random() < 0.6,
                edu == Education.JUNIOR and age >= 65 and rng.random() < 0.5,
                age >= 60 and rng.random() < 0.8,
                age < 45 and rng.random() < 0.04,
                node.id,
            )
            member_id += 1


MEMBER_COLUMNS = ["id", *Member.EDITABLE_FIELDS, "org_id"]


def bulk_copy(table: str, columns: list[str], rows) -> None:
    """COPY on PostgreSQL (inside `loading`); executemany in batches elsewhere."""
    quote = connection.ops.quote_name
    name, columns = table, [quote(c) for c in columns]
    table = quote(table)
    if connection.vendor == "postgresql":
        with loading(name), connection.cursor() as cursor:
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        return
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
    batch: list = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) >= 5000:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


_loading_now: set[str] = set()


@contextlib.contextmanager
def loading(table: str):
    """A bulk load into `table` (PostgreSQL; elsewhere nothing): one COPY by bulk_copy, or
    several when a seeder wraps its chunks in it. Around the load, inside the caller's
    transaction:

    - into an empty table, the indexes that back no constraint are dropped and built once at
      the end (one sort each instead of millions of insertions);
    - the foreign-key checks are not run row by row: Django defers them to the commit, where
      for a province (tens of millions of rows) they queue gigabytes of trigger events and then
      lock each referenced row once per reference. The seeders write rows made from ids just
      written or read, so with the rights to (a superuser: the bench and demo databases) the
      load runs with session_replication_role = replica, which leaves the checks out; without
      them the checks run as usual.

    What is written is the same either way."""
    if connection.vendor != "postgresql" or table in _loading_now:
        yield
        return
    outermost = not _loading_now  # the checks are left out, and back, once for nested loads
    _loading_now.add(table)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {connection.ops.quote_name(table)})")
            indexes = [] if cursor.fetchone()[0] else _drop_indexes(cursor, table)
            unchecked = outermost and _without_row_checks(cursor)
        yield
        with connection.cursor() as cursor:
            if unchecked:
                cursor.execute("SET LOCAL session_replication_role = origin")
            if indexes:
                cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
                for definition in indexes:
                    cursor.execute(definition)
    finally:
        _loading_now.discard(table)


def _drop_indexes(cursor, table: str) -> list[str]:
    """Drop `table`'s indexes that back no constraint; their definitions, to build them again."""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        [table],
    )
    found = cursor.fetchall()
    for name, _ in found:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    return [definition for _, definition in found]


def _without_row_checks(cursor) -> bool:
    """Whether the load may skip the per-row trigger checks (see `loading`)."""
    if not connection.in_atomic_block:
        return False  # SET LOCAL would end with the statement
    try:
        with transaction.atomic():
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:  # not a superuser
        return False
    return True


@transaction.atomic
def seed(*, scale: str = "small", seed: int = 2026, log=lambda text: None) -> dict:
    """Build the demo province; returns counts and the demo users."""
    rng = random.Random(seed)
    today = timezone.localdate()
    root = build_tree(scale, rng)
    first_org = (Organization.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    tree_id = (Organization.objects.aggregate(m=Max("tree_id"))["m"] or 0) + 1
    nodes = number_tree(root, first_id=first_org, tree_id=tree_id)
    log(f"组织 {len(nodes)} 个，写入中…")
    now = timezone.now()
    org_rows = (
        (
            n.id,
            n.name,
            n.code,
            n.kind,
            n.sector,
            n.parent_id,
            None,
            True,
            now,
            now,
            n.lft,
            n.rght,
            tree_id,
            n.level,
        )
        for n in nodes
    )
    bulk_copy(
        Organization._meta.db_table,
        [
            "id",
            "name",
            "code",
            "kind",
            "sector",
            "parent_id",
            "secretary_id",
            "is_active",
            "created_at",
            "updated_at",
            "lft",
            "rght",
            "tree_id",
            "level",
        ],
        org_rows,
    )

    first_member = (Member.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    first_member_of: dict[int, int] = {}  # org id → id of its first member (ids are consecutive)
    joined_of: list[tuple[int, int, datetime.date]] = []

    def members():
        for row in _member_rows(nodes, rng, first_member, today):
            first_member_of.setdefault(row[-1], row[0])
            joined_of.append((row[0], row[-1], row[5]))
            yield (*row, now, now)

    log("党员写入中…")
    bulk_copy(Member._meta.db_table, [*MEMBER_COLUMNS, "created_at", "updated_at"], members())
    log(f"党员 {len(joined_of)} 名；组织关系写入中…")
    bulk_copy(
        Membership._meta.db_table,
        ["member_id", "org_id", "start", "end", "note"],
        ((mid, org_id, joined, None, "") for mid, org_id, joined in joined_of),
    )
    secretaries = [
        (n.id, first_member_of[n.secretary_from.id] + n.secretary_index)
        for n in nodes
        if n.secretary_from is not None and n.secretary_from.id in first_member_of
    ]
    _set_secretaries(secretaries)
    year = today.year
    OrgYearFigure.objects.bulk_create(
        (
            OrgYearFigure(org_id=n.id, year=year, activist_count=rng.randint(0, 6))
            for n in nodes
            if n.member_count
        ),
        batch_size=5000,
    )
    reset_sequences()
    users = _demo_users(root)
    _demo_transfers(root, today)
    extra = {}
    for seeder in extensions.demo_seeders:  # later apps add their demo records
        extra.update(seeder(scale=scale, rng=rng, today=today, log=log))
    extra["figures"] = rebuild_figures(year=year, log=log)
    return {"orgs": len(nodes), "members": len(joined_of), "users": users, **extra}


def rebuild_figures(*, year: int, log=lambda text: None) -> int:
    """The statistics' kept figures of every period of `year`, recomputed from what the seeders
    wrote (they write in bulk, past the services' refresh). The planner is told first what the
    tables now hold: inside the seed's transaction nothing else would have analysed them."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    log("统计数重算中…")
    written = figures.rebuild(figures.periods_of_year(year), log=log)
    if connection.vendor == "postgresql":  # the tables read them next
        with connection.cursor() as cursor:
            for src in figures.sources():
                cursor.execute(f"ANALYZE {connection.ops.quote_name(src.model._meta.db_table)}")
    return sum(written.values())


def _set_secretaries(pairs: list[tuple[int, int]]) -> None:
    table = Organization._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for start in range(0, len(pairs), 10000):
                chunk = pairs[start : start + 10000]
                cursor.execute(
                    f"UPDATE {table} o SET secretary_id = v.s FROM "
                    f"(SELECT unnest(%s::bigint[]) AS id, unnest(%s::bigint[]) AS s) v WHERE o.id = v.id",
                    [[p[0] for p in chunk], [p[1] for p in chunk]],
                )
        else:
            cursor.executemany(
                f"UPDATE {table} SET secretary_id = %s WHERE id = %s", [(s, o) for o, s in pairs]
            )


def reset_sequences(models=(Organization, Member, Membership, OrgYearFigure)) -> None:
    """After inserts with explicit ids, let the database hand out the next ones."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(models))
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


# The demo logins: username, full name, role, and how to find the organisation from the root.
DEMO_USERS = [
    ("sheng_office", "省委组织部 工作人员", Role.OFFICE, ()),
    ("shi_shuji", "市委 书记", Role.SECRETARY, (1,)),
    ("shi_office", "市活动办 工作人员", Role.OFFICE, (1,)),
    ("xian_shuji", "县委 书记", Role.SECRETARY, (1, 1)),
    ("xian_office", "县活动办 工作人员", Role.OFFICE, (1, 1)),
    ("zhen_shuji", "镇党委 书记", Role.SECRETARY, (1, 1, 1)),
    ("zhibu_shuji", "村党支部 书记", Role.SECRETARY, (1, 1, 1, 0)),
    ("zhibu_fushuji", "村党支部 副书记", Role.DEPUTY, (1, 1, 1, 0)),
    ("zhibu2_shuji", "邻村党支部 书记", Role.SECRETARY, (1, 1, 1, 1)),
    ("dangyuan", "普通党员", Role.MEMBER, (1, 1, 1, 0)),
]


def _demo_users(root: Node) -> list[tuple[str, str, str]]:
    User = get_user_model()
    created = []
    for username, full_name, role, path in DEMO_USERS:
        node = root
        for index in path:  # index 0 of every committee is its 机关党支部; counties start at 1
            node = node.children[index]
        org = Organization.objects.get(pk=node.id)
        user, _ = User.objects.get_or_create(username=username)
        user.first_name = full_name
        user.set_password(DEMO_PASSWORD)
        user.save()
        services.role_grant(by=None, user=user, org=org, role=role)
        if role == Role.SECRETARY and org.secretary_id:
            Member.objects.filter(pk=org.secretary_id, user__isnull=True).update(user=user)
        elif role == Role.MEMBER:
            member = Member.objects.filter(org=org, user__isnull=True).order_by("id")[5:6].first()
            if member:
                Member.objects.filter(pk=member.pk).update(user=user)
        created.append((username, full_name, f"{role.label} · {org.name}"))
    admin, _ = User.objects.get_or_create(
        username="admin",
        defaults={"is_staff": True, "is_superuser": True, "first_name": "省级管理员"},
    )
    admin.set_password(DEMO_PASSWORD)
    admin.save()
    created.append(("admin", "省级管理员", "Django 管理后台（省委组织部）"))
    return created


def _demo_transfers(root: Node, today: datetime.date) -> None:
    """A few members moved between two villages this year, so history has something to show."""
    town = root.children[1].children[1].children[1]
    source, target = town.children[2], town.children[3]
    on = max(datetime.date(today.year, 1, 1), today - datetime.timedelta(days=45))
    for member in Member.objects.filter(org_id=source.id).order_by("-id")[:3]:
        if member.memberships.get(end__isnull=True).start < on:
            services.member_transfer(
                by=None,
                member=member,
                to_org=Organization.objects.get(pk=target.id),
                on=on,
                note="外出务工返乡，转回户籍所在村",
            )


def demo_logins_text(users) -> str:
    out = io.StringIO()
    out.write(f"演示账号（密码均为 {DEMO_PASSWORD}）：\n")
    for username, full_name, where in users:
        out.write(f"  {username:<14} {full_name:<12} {where}\n")
    return out.getvalue()


def existing_demo_users() -> list[tuple[str, str, str]]:
    User = get_user_model()
    names = [u[0] for u in DEMO_USERS] + ["admin"]
    return [
        (u.username, u.first_name, "")
        for u in User.objects.filter(username__in=names).order_by("pk")
    ]
