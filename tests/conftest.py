"""Shared fixtures. The real hub samples are read from ../shared/hub-samples (never copied here)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store

REPO = Path(__file__).resolve().parents[1]


def samples_path() -> Path:
    return Path(os.environ.get("HUB_SAMPLES_DIR") or REPO.parent / "shared" / "hub-samples")


@pytest.fixture(scope="session")
def load_sample() -> Callable[[str], Any]:
    root = samples_path()
    if not root.is_dir():
        pytest.fail(f"hub samples not found at {root}; set HUB_SAMPLES_DIR")

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
