"""The house's arrows hold (DESIGN.md; contracts in pyproject.toml ``[tool.importlinter]``):
``cogs > app > ui > render > services > capabilities > store > hub > core``; nothing imports ``cogs``;
services, store, hub and core never import discord; cogs, ui and render reach the store only
through services; no import cycle anywhere, type-checking imports included; no SQL outside the store.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter on the packages found under ``root`` (a copy of the repository, or the repository)."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(root), "PATH": "", "PYTHONDONTWRITEBYTECODE": "1"})


def _copy_of_the_house(tmp_path: Path) -> Path:
    root = tmp_path / "house"
    root.mkdir()
    for name in ("bot", "cogs"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_import_contracts_are_kept() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_a_wrong_way_import_fails_the_contracts(tmp_path: Path) -> None:
    root = _copy_of_the_house(tmp_path)
    # the store reaching up into the Discord plumbing: the kind of arrow the layers forbid
    db = root / "bot" / "store" / "db.py"
    db.write_text(db.read_text() + "\nfrom bot.ui import respond  # noqa: E402,F401\n")
    result = _lint_imports(root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and "bot.store.db -> bot.ui.respond" in result.stdout


def test_a_service_importing_discord_fails_the_contracts(tmp_path: Path) -> None:
    root = _copy_of_the_house(tmp_path)
    service = root / "bot" / "feeds" / "service.py"
    service.write_text(service.read_text() + "\nimport discord  # noqa: E402,F401\n")
    result = _lint_imports(root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Services, store, hub and core never import discord BROKEN" in result.stdout


def test_a_cog_importing_another_cog_fails_the_contracts(tmp_path: Path) -> None:
    root = _copy_of_the_house(tmp_path)
    models = root / "cogs" / "models.py"
    models.write_text(models.read_text() + "\nfrom cogs import admin  # noqa: E402,F401\n")
    result = _lint_imports(root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Nothing imports a cog (cogs neither import each other) BROKEN" in result.stdout


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.find_modules_directly_imported_by(node) & modules):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles_type_checking_imports_included() -> None:
    graph = grimp.build_graph("bot", "cogs", exclude_type_checking_imports=False)
    # a package's __init__ that re-exports its submodules is not a cycle with them
    modules = {m for m in graph.modules if m.startswith(("bot", "cogs"))}
    cycles = [c for c in _cycles(graph, modules)
              if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert cycles == []


_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b.*\b(FROM|INTO|SET|WHERE)\b|\.(execute|executemany|fetchall|"
                  r"fetchone|fetchval|scan_fetchall|transaction)\(")


def test_no_sql_outside_the_store() -> None:
    offenders = []
    for path in [*(REPO / "bot").rglob("*.py"), *(REPO / "cogs").rglob("*.py")]:
        if (REPO / "bot" / "store") in path.parents:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _SQL.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []
