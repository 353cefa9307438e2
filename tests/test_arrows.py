"""The dependency arrows of ../shared/DESIGN.md ("Apps and the direction of dependence"), held by
reading every module's imports: `import x` and `from x import y`, at the top of a module or inside
a function, under TYPE_CHECKING too, and the modules reached by name (importlib.import_module,
__import__, import_string, apps.get_model, a lazy "app.Model" reference). A broken arrow is reported with its file, line and import.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "orgs", "pledges", "reviews", "ledgers", "reports")

# An arrow points to what a package may import of the others. config is the wiring and may import
# every app; no app imports config (it imports the apps' urls: the arrow would make a loop).
# reports' "all of the above" includes ledgers; apart from that nothing imports ledgers or reports.
MAY_IMPORT = {
    "config": {"orgs", "pledges", "reviews", "ledgers", "reports"},
    "orgs": set(),
    "pledges": {"orgs"},
    "reviews": {"orgs", "pledges"},
    "ledgers": {"orgs", "pledges", "reviews"},
    "reports": {"orgs", "pledges", "reviews", "ledgers"},
}
# These read the other apps only through their published read API, never their models.
READ_API_ONLY = {"ledgers", "reports"}
READ_API_MODULES = {"selectors", "access"}
# The foundation's shared helpers, which hold no app's records and write none of them: ledgers and
# reports use them like every app does.
ORGS_FOUNDATION = {
    "orgs.periods": "the one Period and the campaign year bound",
    "orgs.figures": "the kept per-organisation statistics: registry, refresh, roll-up",
    "orgs.spreadsheets": "the one rule for text that looks like a formula in a workbook",
    "orgs.demo": "the demo seed's bulk writing helpers (COPY, loading mode, sequences)",
    "orgs.calendar": "office settings per subtree and year (deadlines, windows)",
    "orgs.extensions": "the registry through which an app offers links, to-dos and locks",
    "orgs.events": "the one history-row helper, for the app's own event models",
    "orgs.refusals": "the one way a service refuses",
    "orgs.feedback": "a refusal shown as a message",
    "orgs.form_helpers": "the date input and form error helpers",
    "orgs.pager": "the one pager",
    "orgs.numbers": "shares and percentages",
    "orgs.rectifications": "the rectification row type every open_rectifications returns",
    "orgs.admin_base": "the read-only admin base",
    "orgs.deadlines": "the campaign calendar: deadline kinds, their dates and obligation rules",
    "orgs.jobs": "background jobs: the registry, start_job and the result file",
    "orgs.locks": "the registry of records a signature holds, and the refusal",
    "orgs.pdf": "the one PDF render, whose URL fetcher answers data: URIs only",
    # a ledger or a table row hangs on an organisation or a member: its foreign keys and type
    # hints name these rows; lists of them are still read through orgs.selectors and orgs.access
    "orgs.models": "the tree and the roster rows (Organization, Member, their kinds)",
}


@dataclass(frozen=True)
class Import:
    path: str  # relative to the project root
    line: int
    text: str  # the import statement as written (normalised)
    target: str  # the module it reaches


@dataclass(frozen=True)
class Violation:
    where: Import
    why: str

    def __str__(self) -> str:
        return f"{self.where.path}:{self.where.line}: {self.where.text}  — {self.why}"


def module_exists(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(
    source: str,
    *,
    module: str,
    path: str,
    is_package: bool = False,
    exists: Callable[[str], bool] = module_exists,
) -> Iterator[Import]:
    """Every import in `source`, the source of `module`, with the module each name reaches:
    `from pledges import selectors` reaches pledges.selectors, `from pledges import Pledge` the
    package pledges."""
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, ast.unparse(node), alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                target = submodule if alias.name != "*" and exists(submodule) else base
                yield Import(path, node.lineno, ast.unparse(node), target)
        elif isinstance(node, ast.Call):
            target = _named_by_call(node)
            if target:
                yield Import(path, node.lineno, ast.unparse(node), target)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            lazy = LAZY_MODEL.fullmatch(node.value)
            if lazy:  # ForeignKey("pledges.Pledge") and the like reach that app's models
                yield Import(path, node.lineno, repr(node.value), f"{lazy.group(1)}.models")


# "app.Model": how a ForeignKey or apps.get_model names another app's model without importing it
LAZY_MODEL = re.compile(rf"({'|'.join(PACKAGES)})\.[A-Z]\w*")
DYNAMIC_IMPORTS = {"import_module", "__import__", "import_string"}


def _named_by_call(node: ast.Call) -> str | None:
    """The module a call reaches by name: importlib.import_module("x"), __import__("x"),
    import_string("x.y"), apps.get_model("app", "Model")."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    texts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if not texts:
        return None
    if name in DYNAMIC_IMPORTS:
        return texts[0]
    if name == "get_model":
        return f"{texts[0].partition('.')[0]}.models"
    return None


def is_read_api(target: str) -> bool:
    if any(target == name or target.startswith(name + ".") for name in ORGS_FOUNDATION):
        return True
    return any(part in READ_API_MODULES for part in target.split(".")[1:])


def arrow_broken(importer: str, target: str) -> str | None:
    """Why `importer` (a module) may not import `target`, or None when the arrows allow it."""
    source, dest = importer.split(".")[0], target.split(".")[0]
    if dest not in PACKAGES or dest == source:
        return None  # the standard library, a dependency, or the package itself
    if dest not in MAY_IMPORT[source]:
        return f"{source} may not import {dest}"
    if source in READ_API_ONLY and not is_read_api(target):
        return f"{source} reads {dest} only through its selectors and access modules"
    return None


def violations_in(module: str, imports) -> list[Violation]:
    found = []
    for imp in imports:
        why = arrow_broken(module, imp.target)
        if why:
            found.append(Violation(imp, why))
    return found


def project_modules() -> Iterator[tuple[Path, str, bool]]:
    """(file, module name, is a package) of every module of the packages, migrations aside."""
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            parts = file.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            is_package = parts[-1] == "__init__"
            yield file, ".".join(parts[:-1] if is_package else parts), is_package


def test_every_module_keeps_the_arrows():
    modules, imports, found = 0, 0, []
    for file, module, is_package in project_modules():
        source = file.read_text(encoding="utf-8")
        path = str(file.relative_to(ROOT))
        module_imports = list(imports_of(source, module=module, path=path, is_package=is_package))
        modules += 1
        imports += len(module_imports)
        found += violations_in(module, module_imports)
    # the walk read the code (a wrong root would read nothing and pass)
    assert modules > 50 and imports > 500, (modules, imports)
    assert not found, "imports that break DESIGN.md's arrows:\n" + "\n".join(map(str, found))


# ---------------------------------------------------------------- the checker checks


# the modules the fake sources below name, as if they were in the tree
FAKE_MODULES = {
    "pledges.selectors",
    "pledges.models",
    "orgs.models",
    "orgs.periods",
    "orgs.pager",
    "orgs.feedback",
    "orgs.services",
}


def _reported(module: str, source: str, *, is_package: bool = False) -> list[str]:
    path = module.replace(".", "/") + ".py"
    imports = imports_of(
        source, module=module, path=path, is_package=is_package, exists=FAKE_MODULES.__contains__
    )
    return [str(v) for v in violations_in(module, imports)]


@pytest.mark.parametrize(
    ("module", "source", "why"),
    [
        ("orgs.views", "from pledges.models import Pledge", "orgs may not import pledges"),
        ("orgs.views", "def f():\n    import reviews.services\n", "orgs may not import reviews"),
        ("orgs.demo", "from ledgers import models", "orgs may not import ledgers"),
        ("orgs.demo", "import reports", "orgs may not import reports"),
        ("pledges.views", "from reviews import selectors", "pledges may not import reviews"),
        (
            "pledges.models",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from reviews.models import X\n",
            "pledges may not import reviews",
        ),
        ("pledges.views", "from ledgers.selectors import rows", "pledges may not import ledgers"),
        ("reviews.services", "import ledgers.selectors", "reviews may not import ledgers"),
        ("reviews.appraisal.views", "from reports import x", "reviews may not import reports"),
        ("ledgers.selectors", "from reports.selectors import x", "ledgers may not import reports"),
        ("orgs.tasks", "from config.celery import app", "orgs may not import config"),
        (
            "ledgers.views",
            "from pledges.models import Pledge",
            "ledgers reads pledges only through its selectors and access modules",
        ),
        (
            "reports.tables",
            "def rows():\n    from pledges import models\n",
            "reports reads pledges only through its selectors and access modules",
        ),
        (
            "reports.tables",
            "from orgs.services import member_transfer",
            "reports reads orgs only through its selectors and access modules",
        ),
        (
            "ledgers.pdf",
            "from reviews.appraisal import services",
            "ledgers reads reviews only through its selectors and access modules",
        ),
        (
            "reports.tables",
            "import importlib\nm = importlib.import_module('reviews.models')",
            "reports reads reviews only through its selectors and access modules",
        ),
        ("orgs.views", "m = __import__('pledges.models')", "orgs may not import pledges"),
        (
            "ledgers.views",
            "from django.utils.module_loading import import_string\n"
            "P = import_string('pledges.models.Pledge')",
            "ledgers reads pledges only through its selectors and access modules",
        ),
        (
            "reports.tables",
            "from django.apps import apps\nP = apps.get_model('pledges', 'Pledge')",
            "reports reads pledges only through its selectors and access modules",
        ),
        (
            "ledgers.models",
            "from django.db import models\nx = models.ForeignKey('reviews.LeaderReview')",
            "ledgers reads reviews only through its selectors and access modules",
        ),
        ("orgs.models", "x = 'pledges.Pledge'", "orgs may not import pledges"),
    ],
)
def test_the_checker_reports_an_import_against_the_arrows(module, source, why):
    reported = _reported(module, source)
    assert len(reported) == 1 and reported[0].endswith(why), reported
    assert reported[0].startswith(module.replace(".", "/") + ".py:")


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("config.urls", "from reports import urls\nfrom ledgers.views import x"),
        ("pledges.services", "from orgs.models import Organization\nfrom orgs import access"),
        ("reviews.selectors", "from pledges.models import Pledge\nimport orgs.periods"),
        ("ledgers.selectors", "from pledges import selectors\nfrom reviews.selectors import x"),
        ("ledgers.views", "from orgs.periods import Period\nfrom orgs.access import Action"),
        ("reports.tables", "import reviews.appraisal.selectors\nfrom ledgers.selectors import x"),
        ("reports.views", "from orgs import pager, feedback\nfrom pledges.access import can_x"),
        ("ledgers.models", "from . import selectors\nfrom .pdf import render"),
        ("reviews.appraisal.views", "from ..models import LeaderReview\nimport django.db"),
    ],
)
def test_the_checker_lets_the_arrows_pass(module, source):
    assert _reported(module, source) == []


def test_relative_imports_resolve_inside_their_package():
    found = list(
        imports_of(
            "from . import services\nfrom ..models import Review\nfrom .tally import count",
            module="reviews.appraisal",
            path="reviews/appraisal/__init__.py",
            is_package=True,
            exists={"reviews.appraisal.services"}.__contains__,
        )
    )
    assert [i.target for i in found] == [
        "reviews.appraisal.services",
        "reviews.models",
        "reviews.appraisal.tally",
    ]
    assert [i.line for i in found] == [1, 2, 3]
