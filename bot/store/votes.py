"""Per-server votes on model versions (the community score on model cards)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.store.db import Database


@dataclass(frozen=True, slots=True)
class Score:
    up: int
    down: int

    @property
    def total(self) -> int:
        return self.up + self.down


class VoteStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def score(self, guild_id: int, *, model_id: int | None = None,
                    version_ids: Sequence[int] = ()) -> Score:
        """Votes in this server for a model (all its versions) or for the given versions."""
        if model_id is not None:
            rows = await self.db.fetchall(
                "SELECT value, count(*) FROM votes WHERE guild_id = ? AND model_id = ? GROUP BY value",
                (guild_id, model_id))
        elif version_ids:
            marks = ",".join("?" * len(version_ids))
            rows = await self.db.fetchall(
                f"SELECT value, count(*) FROM votes WHERE guild_id = ? AND model_version_id IN ({marks}) "
                "GROUP BY value", (guild_id, *version_ids))
        else:
            return Score(0, 0)
        counts = {row[0]: row[1] for row in rows}
        return Score(up=counts.get(1, 0), down=counts.get(-1, 0))
