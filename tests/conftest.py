"""Shared fixtures. The real hub samples are read from ../shared/hub-samples (never copied here), or
from ``$HUB_SAMPLES_DIR``.

A fresh clone has no ``../shared``: the fake hub then serves generated models in place of the
captures, and the tests whose point is the real captures skip with one line saying how to provide
them (``load_sample``, or any test that ends on ``SamplesMissing`` — e.g. reading ``hub.samples``).
A samples directory that exists but lacks files is still an error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store
from tests.fakes import hub_data, hub_server

REPO = Path(__file__).resolve().parents[1]


def samples_path() -> Path:
    """``$HUB_SAMPLES_DIR``, else ``<repo>/../shared/hub-samples`` (the same rule as the fake hub's)."""
    return hub_data.samples_dir()


def samples_skip_reason() -> str:
    return f"hub samples not found at {samples_path()}: {hub_data.SAMPLES_HINT}"


@pytest.fixture(scope="session")
def load_sample() -> Callable[[str], Any]:
    root = samples_path()
    if not root.is_dir():
        pytest.skip(samples_skip_reason())

    def load(name: str) -> Any:
        return json.loads((root / name).read_text(encoding="utf-8"))

    return load


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


# --------------------------------------------------------------------------- samples missing -> skip


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    """The error, its causes and contexts, and the members of exception groups."""
    seen: set[int] = set()
    stack = [error]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack += [e.__cause__, e.__context__, *getattr(e, "exceptions", ())]


def _missing_samples_reason(error: BaseException) -> str | None:
    """Why a failure is the want of the real captures (None: a real failure). Only ever where the
    samples directory does not exist; with the samples (as in CI) every failure stays a failure."""
    if samples_path().is_dir():
        return None
    root = str(samples_path())
    for e in _chain(error):
        if isinstance(e, hub_data.SamplesMissing):
            return samples_skip_reason()
        if isinstance(e, FileNotFoundError) and str(getattr(e, "filename", "") or "").startswith(root):
            return samples_skip_reason()
    if hub_server.STANDIN_MISSES:
        # The fake hub served generated stand-ins and answered 404 for something the test asked for:
        # a captured model's id or hash (tests that need the captures by name).
        missed = hub_server.STANDIN_MISSES[0]
        return f"{samples_skip_reason()} (not among the fake hub's generated stand-ins: {missed})"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    hub_server.STANDIN_MISSES.clear()
    if item.get_closest_marker("hub_samples") and not samples_path().is_dir():
        pytest.skip(samples_skip_reason())


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hub_samples: the test needs the real captured hub responses "
                                       "(skipped where the samples directory does not exist)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Where the samples directory does not exist, a test (or fixture) that failed for want of it is
    reported as skipped, with the one line saying how to provide the samples."""
    report = yield
    if report.failed and call.excinfo is not None and call.when in ("setup", "call"):
        reason = _missing_samples_reason(call.excinfo.value)
        if reason is not None:
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] + 1, f"Skipped: {reason}")
    return report
