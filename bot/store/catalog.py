"""The model aggregate in SQLite: models, versions, files, hashes, images, the FTS index, and cached
list-query results.

A model is written whole: its row, its versions (raw JSON each), their files with every hash, their
images with rating level and BlurHash, and its full-text entry. ``put_models`` writes any number of
models in ONE transaction (a page of 100 from the hub is one commit).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.hub.models import Model, ModelVersion, normalize_hash
from bot.store.db import Database

_MAX_FTS_TERMS = 8
_POPULARITY_CAP = 2**31 - 1
_MAX_TERM_CHARS = 64
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class CachedModel:
    model: Model
    fetched_at: float


@dataclass(frozen=True, slots=True)
class CachedVersion:
    version: ModelVersion
    fetched_at: float


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One autocomplete / local-search row (no JSON parsing on this path)."""

    id: int
    name: str
    type: str | None
    creator: str | None
    popularity: int
    nsfw_level: int


@dataclass(frozen=True, slots=True)
class CachedQuery:
    model_ids: tuple[int, ...]
    next_cursor: str | None
    fetched_at: float


def fts_expression(text: str) -> str | None:
    """User text -> a safe FTS5 MATCH expression, or None when there is nothing to search.

    Every word becomes a quoted string (so ``AND``/``OR``/``NEAR``, ``*``, ``:``, quotes and
    parentheses are only text), the last one a prefix query. Words are the Unicode word runs the
    ``unicode61`` tokenizer would make, so non-Latin scripts work too."""
    words = _WORD.findall(text or "")
    words = [w[:_MAX_TERM_CHARS] for w in words if w.strip("_")][:_MAX_FTS_TERMS]
    if not words:
        return None
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def fts_rowid(model_id: int, popularity: int) -> int:
    """The model's FTS row id: popularity in the high bits, the id in the low 31 bits."""
    return (max(0, min(popularity, _POPULARITY_CAP)) << 31) | (model_id & _POPULARITY_CAP)


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


class CatalogStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ writes

    async def put_models(self, models: Iterable[Model], *, fetched_at: float | None = None) -> int:
        """Insert or replace whole models, all in one transaction. Returns how many were written."""
        fetched_at = time.time() if fetched_at is None else fetched_at
        models = list(models)
        if not models:
            return 0
        async with self.db.transaction() as conn:
            await _write_models(conn, models, fetched_at)
        return len(models)

    async def put_version(self, version: ModelVersion, *, fetched_at: float | None = None) -> None:
        """Cache a version fetched on its own (``/model-versions/{id}``, by-hash). It keeps its place
        among its model's versions if the model is cached."""
        fetched_at = time.time() if fetched_at is None else fetched_at
        async with self.db.transaction() as conn:
            row = await (await conn.execute(
                "SELECT position FROM model_versions WHERE id = ?", (version.id,))).fetchone()
            rows = _Rows.empty()
            rows.add_version(version, version.model_id, row[0] if row else 0, fetched_at)
            await rows.write(conn, model_ids=())

    async def put_page(self, key: str, models: Sequence[Model], next_cursor: str | None,
                       *, fetched_at: float | None = None) -> None:
        """A page of a list query: the models and the query's result list, in one transaction."""
        fetched_at = time.time() if fetched_at is None else fetched_at
        async with self.db.transaction() as conn:
            await _write_models(conn, models, fetched_at)
            await conn.execute(
                "INSERT INTO query_cache (key, model_ids, next_cursor, fetched_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET model_ids = excluded.model_ids, "
                "next_cursor = excluded.next_cursor, fetched_at = excluded.fetched_at",
                (key, json.dumps([m.id for m in models]), next_cursor, fetched_at),
            )

    async def prune_queries(self, older_than: float) -> int:
        """Forget cached list-query results fetched before ``older_than`` (the models stay)."""
        return await self.db.execute("DELETE FROM query_cache WHERE fetched_at < ?", (older_than,))

    async def prune_models(self, older_than: float, *, batch: int = 500) -> int:
        """Forget models (and versions cached on their own) not fetched since ``older_than``, a batch
        per transaction. Returns how many models went."""
        removed = 0
        while True:
            # no index on fetched_at: a walk of the whole table when little is old, so a scan
            ids = [r[0] for r in await self.db.scan_fetchall(
                "SELECT id FROM models WHERE fetched_at < ? LIMIT ?", (older_than, batch))]
            if not ids:
                break
            marks = ",".join("?" * len(ids))
            async with self.db.transaction() as conn:
                await conn.execute(f"DELETE FROM model_versions WHERE model_id IN ({marks})", ids)
                await conn.execute(
                    f"DELETE FROM models_fts WHERE rowid IN (SELECT fts_rowid FROM models WHERE id IN ({marks}))", ids)
                await conn.execute(f"DELETE FROM models WHERE id IN ({marks})", ids)
            removed += len(ids)
        await self.db.execute(
            "DELETE FROM model_versions WHERE fetched_at < ? AND (model_id IS NULL OR model_id NOT IN "
            "(SELECT id FROM models))", (older_than,))
        return removed

    async def delete_model(self, model_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM model_versions WHERE model_id = ?", (model_id,))
            await conn.execute(
                "DELETE FROM models_fts WHERE rowid = (SELECT fts_rowid FROM models WHERE id = ?)", (model_id,))
            await conn.execute("DELETE FROM models WHERE id = ?", (model_id,))

    # ------------------------------------------------------------------ reads

    async def get_model(self, model_id: int) -> CachedModel | None:
        row = await self.db.fetchone("SELECT raw, fetched_at FROM models WHERE id = ?", (model_id,))
        if row is None:
            return None
        versions = await self.db.fetchall(
            "SELECT raw FROM model_versions WHERE model_id = ? ORDER BY position, id", (model_id,))
        obj = json.loads(row["raw"])
        obj["modelVersions"] = [json.loads(v["raw"]) for v in versions]
        return CachedModel(Model.from_json(obj), row["fetched_at"])

    async def get_models(self, model_ids: Sequence[int]) -> dict[int, CachedModel]:
        out = {}
        for model_id in dict.fromkeys(model_ids):
            cached = await self.get_model(model_id)
            if cached is not None:
                out[model_id] = cached
        return out

    async def get_version(self, version_id: int) -> CachedVersion | None:
        row = await self.db.fetchone(
            "SELECT v.raw, v.model_id, v.fetched_at, m.raw AS model_raw FROM model_versions v "
            "LEFT JOIN models m ON m.id = v.model_id WHERE v.id = ?", (version_id,))
        if row is None:
            return None
        obj = json.loads(row["raw"])
        if row["model_raw"] is not None and "model" not in obj:
            parent = json.loads(row["model_raw"])
            obj["model"] = {k: parent.get(k) for k in ("name", "type", "nsfw", "poi") if k in parent}
        return CachedVersion(ModelVersion.from_json(obj, model_id=row["model_id"]), row["fetched_at"])

    async def find_versions_by_hash(self, value: str) -> list[int]:
        """Version ids whose files carry this hash (any kind), earliest-published first."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT h.version_id FROM file_hashes h "
            "JOIN model_versions v ON v.id = h.version_id WHERE h.hash = ? "
            "ORDER BY v.published_at IS NULL, v.published_at, v.id", (normalize_hash(value),))
        return [r[0] for r in rows]

    async def get_query(self, key: str) -> CachedQuery | None:
        row = await self.db.fetchone(
            "SELECT model_ids, next_cursor, fetched_at FROM query_cache WHERE key = ?", (key,))
        if row is None:
            return None
        return CachedQuery(tuple(json.loads(row["model_ids"])), row["next_cursor"], row["fetched_at"])

    async def search(self, text: str, *, limit: int = 25, types: Sequence[str] = (),
                     max_level: int | None = None) -> list[SearchHit]:
        """Prefix search over name, tags, creator and trained words, most popular first."""
        expression = fts_expression(text)
        params: list[Any] = []
        where = []
        if expression is None:
            sql = "SELECT id, name, type, creator, popularity, nsfw_level FROM models m"
            order = " ORDER BY m.popularity DESC, m.id DESC"
        else:
            # FTS5 yields matches in rowid order (popularity first): no sort of all matches
            sql = ("SELECT m.id, m.name, m.type, m.creator, m.popularity, m.nsfw_level "
                   "FROM models_fts f JOIN models m ON m.id = f.model_id")
            where.append("models_fts MATCH ?")
            params.append(expression)
            order = " ORDER BY f.rowid DESC"
        if types:
            where.append(f"m.type IN ({','.join('?' * len(types))})")
            params += list(types)
        if max_level is not None:
            where.append("(m.nsfw_level & ?) != 0")
            params.append(max_level)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += order + " LIMIT ?"
        params.append(max(1, min(100, limit)))
        rows = await self.db.fetchall(sql, params)
        return [SearchHit(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    async def count_models(self) -> int:
        """For /status. A scan (of the smallest index), so it runs beside the interactive reads."""
        return int(await self.db.scan_fetchval("SELECT count(*) FROM models") or 0)

    async def newest_fetch(self) -> float | None:
        """For /status. No index on ``fetched_at``: a scan of the whole table, beside the interactive reads."""
        return await self.db.scan_fetchval("SELECT max(fetched_at) FROM models")

    async def vocabulary(self, limit: int) -> tuple[list[str], list[str], list[str]]:
        """(tags, creators, base models) seen in the cache, most common first, at most ``limit`` of each.

        Three GROUP BY scans over the whole cache (a quarter of a second at 50,000 models): they run on
        the scan connection, so autocomplete reads never wait behind them. SQLite counts on its own
        thread; the event loop only receives the top of each list."""
        tags = await self.db.scan_fetchall(
            "SELECT t.value, count(*) AS n FROM models m, json_each(m.tags) t WHERE t.type = 'text' "
            "GROUP BY t.value ORDER BY n DESC LIMIT ?", (limit,))
        creators = await self.db.scan_fetchall(
            "SELECT creator, count(*) AS n FROM models WHERE creator IS NOT NULL GROUP BY creator "
            "ORDER BY n DESC LIMIT ?", (limit,))
        bases = await self.db.scan_fetchall(
            "SELECT base_model, count(*) AS n FROM model_versions WHERE base_model IS NOT NULL "
            "GROUP BY base_model ORDER BY n DESC LIMIT ?", (limit,))
        return [r[0] for r in tags], [r[0] for r in creators], [r[0] for r in bases]


@dataclass(slots=True)
class _Rows:
    """Every row a batch of models (or versions) writes, gathered first so each table gets one
    ``executemany``: a page of 100 models is a handful of round trips to the database thread."""

    models: list[tuple[Any, ...]]
    fts: list[tuple[Any, ...]]
    versions: list[tuple[Any, ...]]
    files: list[tuple[Any, ...]]
    hashes: list[tuple[Any, ...]]
    images: list[tuple[Any, ...]]

    @classmethod
    def empty(cls) -> _Rows:
        return cls([], [], [], [], [], [])

    def add_model(self, model: Model, fetched_at: float) -> None:
        raw = {k: v for k, v in model.raw.items() if k != "modelVersions"}
        trained = sorted({w for v in model.versions for w in v.trained_words})
        stats = model.stats
        rowid = fts_rowid(model.id, model.popularity)
        self.models.append((
            model.id, model.name or "", model.type, model.creator_name, model.effective_level(),
            json.dumps(list(model.tags), ensure_ascii=False),
            json.dumps(list(model.base_models), ensure_ascii=False),
            stats.download_count, stats.thumbs_up, stats.thumbs_down, model.popularity, rowid,
            _iso(model.last_version_at), json.dumps(raw, ensure_ascii=False, separators=(",", ":")), fetched_at,
        ))
        self.fts.append((rowid, model.name or "", " ".join(model.tags), model.creator_name or "",
                         " ".join(trained), model.id))
        for position, version in enumerate(model.versions):
            self.add_version(version, model.id, position, fetched_at)

    def add_version(self, version: ModelVersion, model_id: int | None, position: int, fetched_at: float) -> None:
        self.versions.append((
            version.id, model_id, position, version.name, version.base_model, _iso(version.date),
            version.image_level_mask(), json.dumps(list(version.trained_words), ensure_ascii=False),
            json.dumps(dict(version.raw), ensure_ascii=False, separators=(",", ":")), fetched_at,
        ))
        for index, f in enumerate(version.files):
            self.files.append((version.id, index, f.id, f.name, f.type, f.size_kb, f.format, f.fp, f.size,
                               int(f.primary)))
            self.hashes += [(value, kind, version.id, index) for kind, value in f.hashes.items()]
        self.images += [
            (version.id, index, image.id, image.url, image.level, image.width, image.height, image.blurhash,
             image.type)
            for index, image in enumerate(version.images)
        ]

    async def write(self, conn: aiosqlite.Connection, *, model_ids: Sequence[int]) -> None:
        """Replace the given models (and every version listed in this batch) with these rows."""
        version_ids = [(row[0],) for row in self.versions]
        if model_ids:
            await conn.executemany("DELETE FROM model_versions WHERE model_id = ?", [(i,) for i in model_ids])
            await conn.executemany(
                "DELETE FROM models_fts WHERE rowid = (SELECT fts_rowid FROM models WHERE id = ?)",
                [(i,) for i in model_ids])
        if version_ids:
            await conn.executemany("DELETE FROM model_versions WHERE id = ?", version_ids)
        if self.models:
            await conn.executemany(
                "INSERT INTO models (id, name, type, creator, nsfw_level, tags, base_models, download_count, "
                "thumbs_up, thumbs_down, popularity, fts_rowid, last_version_at, raw, fetched_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type, "
                "creator = excluded.creator, nsfw_level = excluded.nsfw_level, tags = excluded.tags, "
                "base_models = excluded.base_models, download_count = excluded.download_count, "
                "thumbs_up = excluded.thumbs_up, thumbs_down = excluded.thumbs_down, "
                "popularity = excluded.popularity, fts_rowid = excluded.fts_rowid, "
                "last_version_at = excluded.last_version_at, "
                "raw = excluded.raw, fetched_at = excluded.fetched_at",
                self.models,
            )
            await conn.executemany(
                "INSERT INTO models_fts (rowid, name, tags, creator, trained_words, model_id) "
                "VALUES (?, ?, ?, ?, ?, ?)", self.fts)
        if self.versions:
            await conn.executemany(
                "INSERT INTO model_versions (id, model_id, position, name, base_model, published_at, nsfw_level, "
                "trained_words, raw, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self.versions)
        if self.files:
            await conn.executemany(
                "INSERT INTO model_files (version_id, position, hub_file_id, name, type, size_kb, format, fp, "
                "size, is_primary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self.files)
        if self.hashes:
            await conn.executemany(
                "INSERT OR IGNORE INTO file_hashes (hash, kind, version_id, file_position) VALUES (?, ?, ?, ?)",
                self.hashes)
        if self.images:
            await conn.executemany(
                "INSERT INTO model_images (version_id, position, hub_image_id, url, nsfw_level, width, height, "
                "blurhash, type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", self.images)


async def _write_models(conn: aiosqlite.Connection, models: Sequence[Model], fetched_at: float) -> None:
    rows = _Rows.empty()
    unique = list({m.id: m for m in models}.values())  # the same model twice in a page: keep the last
    for model in unique:
        rows.add_model(model, fetched_at)
    await rows.write(conn, model_ids=[m.id for m in unique])
