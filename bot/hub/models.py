"""Tolerant models of the hub's JSON.

Every field is optional and every shape may drift between API eras (see the reference
``hub-api.md`` §10). The parsers never raise on a missing or oddly typed field: they coerce what
they can and leave ``None`` (or an empty tuple) otherwise. The raw JSON object is kept on every
model (``raw``), so nothing the hub sent is lost and the cache can store it verbatim.

Objects that cannot be identified (a model without an integer ``id``) are rejected with
``ValueError`` by ``from_json``; list parsers skip them and count them in ``Page.skipped``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from bot.core.rating import LEGACY_NSFW, image_level, level_from_value

T = TypeVar("T")

HASH_KINDS: tuple[str, ...] = ("SHA256", "AutoV1", "AutoV2", "AutoV3", "CRC32", "BLAKE3")
_HASH_KEYS = {k.lower(): k for k in HASH_KINDS}
_HEX = re.compile(r"^[0-9A-F]+$")
_IMAGE_ID_IN_URL = re.compile(r"/(\d+)\.(?:jpe?g|png|webp|gif|mp4|webm)$", re.IGNORECASE)

#: The hub's ModelType values (hub-api.md §4), in the hub's order.
MODEL_TYPES: tuple[str, ...] = (
    "Checkpoint", "TextualInversion", "Hypernetwork", "AestheticGradient", "LORA", "LoCon", "DoRA", "Controlnet",
    "Upscaler", "MotionModule", "VAE", "TextEncoder", "UNet", "CLIPVision", "Poses", "Wildcards", "Workflows",
    "ComfyWorkflows", "Detection", "VisionLanguage", "CLIP", "LLM", "Other",
)


# --------------------------------------------------------------------------- coercion helpers


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,19}", value.strip()):
        return int(value.strip())
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def as_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return None


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str_tuple(value: Any) -> tuple[str, ...]:
    """A list of strings, a single string, or the Postgres-array text ``"{a,b}"`` -> tuple of str."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
            return tuple(p.strip().strip('"') for p in text.split(",") if p.strip())
        return (text,) if text else ()
    out = []
    for item in as_list(value):
        if isinstance(item, str) and item.strip():
            out.append(item)
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
            out.append(item["name"])  # tags as objects ({id, name}) in some endpoints
    return tuple(out)


def as_datetime(value: Any) -> datetime | None:
    """ISO-8601 (``...Z`` or with offset) -> an aware UTC datetime; anything else -> None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def normalize_hash(value: str) -> str:
    """User or hub text -> the hub's form of a hash: stripped, upper-case hex (``0x`` dropped)."""
    text = value.strip().upper()
    if text.startswith("0X"):
        text = text[2:]
    return text


def is_hash_like(value: str) -> bool:
    """Could this be one of the hub's hashes? (hex, 8/10/12/64 characters)."""
    text = normalize_hash(value)
    return bool(_HEX.match(text)) and len(text) in (8, 10, 12, 64)


def _required_id(obj: Mapping[str, Any], what: str) -> int:
    ident = as_int(obj.get("id"))
    if ident is None:
        raise ValueError(f"{what} without an integer id")
    return ident


# --------------------------------------------------------------------------- objects


@dataclass(frozen=True, slots=True)
class Creator:
    username: str | None
    image: str | None = None
    model_count: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Any) -> Creator | None:
        obj = as_dict(obj)
        if not obj:
            return None
        return cls(username=as_str(obj.get("username")), image=as_str(obj.get("image")),
                   model_count=as_int(obj.get("modelCount")), raw=obj)


@dataclass(frozen=True, slots=True)
class HubAccount:
    """``GET /api/v1/me``: the hub member a personal API key belongs to (hub-api.md §1)."""

    id: int | None
    username: str
    status: str | None = None  # active, muted, banned
    token_scope: int | None = None  # bit mask of the key's scopes, where the hub says

    @classmethod
    def from_json(cls, obj: Any) -> HubAccount:
        obj = as_dict(obj)
        username = as_str(obj.get("username"))
        if not username:
            raise ValueError("/me without a username")
        return cls(id=as_int(obj.get("id")), username=username, status=as_str(obj.get("status")),
                   token_scope=as_int(obj.get("tokenScope")))


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    model_count: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Any) -> Tag:
        obj = as_dict(obj)
        name = as_str(obj.get("name"))
        if not name:
            raise ValueError("tag without a name")
        return cls(name=name, model_count=as_int(obj.get("modelCount")), raw=obj)


@dataclass(frozen=True, slots=True)
class Stats:
    """Model or version stats across eras. ``download_count`` is None when the creator hides it."""

    download_count: int | None = None
    thumbs_up: int | None = None
    thumbs_down: int | None = None
    comment_count: int | None = None
    favorite_count: int | None = None
    tipped_amount: int | None = None
    rating: float | None = None  # 2023 star rating; zero placeholders later, gone since 2025-11
    rating_count: int | None = None

    @classmethod
    def from_json(cls, obj: Any) -> Stats:
        obj = as_dict(obj)
        return cls(
            download_count=as_int(obj.get("downloadCount")),
            thumbs_up=as_int(obj.get("thumbsUpCount")),
            thumbs_down=as_int(obj.get("thumbsDownCount")),
            comment_count=as_int(obj.get("commentCount")),
            favorite_count=as_int(obj.get("favoriteCount")),
            tipped_amount=as_int(obj.get("tippedAmountCount")),
            rating=as_float(obj.get("rating")),
            rating_count=as_int(obj.get("ratingCount")),
        )


@dataclass(frozen=True, slots=True)
class Image:
    url: str | None
    level: int  # rating mask, from whichever era's field (bot.core.rating.image_level)
    id: int | None = None
    width: int | None = None
    height: int | None = None
    blurhash: str | None = None
    type: str | None = None
    created_at: datetime | None = None
    post_id: int | None = None
    username: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Any) -> Image:
        obj = as_dict(obj)
        url = as_str(obj.get("url"))
        ident = as_int(obj.get("id"))
        if ident is None and url:  # /models/{id} images carry their id only in the URL's file name
            match = _IMAGE_ID_IN_URL.search(url)
            ident = int(match.group(1)) if match else None
        return cls(
            url=url,
            level=image_level(obj),
            id=ident,
            width=as_int(obj.get("width")),
            height=as_int(obj.get("height")),
            blurhash=as_str(obj.get("hash")),
            type=as_str(obj.get("type")) or "image",
            created_at=as_datetime(obj.get("createdAt")),
            post_id=as_int(obj.get("postId")),
            username=as_str(obj.get("username")),
            raw=obj,
        )


@dataclass(frozen=True, slots=True)
class ModelFile:
    id: int | None
    name: str | None
    size_kb: float | None
    type: str | None
    primary: bool
    format: str | None
    fp: str | None
    size: str | None  # "full" / "pruned"
    hashes: Mapping[str, str]  # canonical kind (HASH_KINDS) -> upper-case hex
    pickle_scan: str | None = None
    virus_scan: str | None = None
    download_url: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Any) -> ModelFile:
        obj = as_dict(obj)
        meta = as_dict(obj.get("metadata"))
        hashes: dict[str, str] = {}
        for key, value in as_dict(obj.get("hashes")).items():
            kind = _HASH_KEYS.get(str(key).lower())
            text = as_str(value)
            if kind and text and _HEX.match(normalize_hash(text)):
                hashes[kind] = normalize_hash(text)
        return cls(
            id=as_int(obj.get("id")),
            name=as_str(obj.get("name")),
            size_kb=as_float(obj.get("sizeKB")),
            type=as_str(obj.get("type")),
            primary=as_bool(obj.get("primary")) is True,
            format=as_str(meta.get("format")),
            fp=as_str(meta.get("fp")),
            size=as_str(meta.get("size")),
            hashes=hashes,
            pickle_scan=as_str(obj.get("pickleScanResult")),
            virus_scan=as_str(obj.get("virusScanResult")),
            download_url=as_str(obj.get("downloadUrl")),
            raw=obj,
        )

    @property
    def size_bytes(self) -> int | None:
        return int(self.size_kb * 1024) if self.size_kb is not None else None


@dataclass(frozen=True, slots=True)
class ModelVersion:
    id: int
    model_id: int | None
    name: str | None
    base_model: str | None
    base_model_type: str | None
    published_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    level: int  # aggregate mask (0 when the era has none)
    description: str | None
    trained_words: tuple[str, ...]
    stats: Stats
    files: tuple[ModelFile, ...]
    images: tuple[Image, ...]
    download_url: str | None
    index: int | None = None
    status: str | None = None
    availability: str | None = None
    air: str | None = None
    # /model-versions/{id} and by-hash carry a summary of the parent model
    model_name: str | None = None
    model_type: str | None = None
    model_nsfw: bool | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Any, *, model_id: int | None = None) -> ModelVersion:
        obj = as_dict(obj)
        parent = as_dict(obj.get("model"))
        files = tuple(ModelFile.from_json(f) for f in as_list(obj.get("files")) if isinstance(f, Mapping))
        images = tuple(Image.from_json(i) for i in as_list(obj.get("images")) if isinstance(i, Mapping))
        level = level_from_value(obj.get("nsfwLevel")) if not isinstance(obj.get("nsfwLevel"), bool) else 0
        return cls(
            id=_required_id(obj, "model version"),
            model_id=as_int(obj.get("modelId")) or model_id,
            name=as_str(obj.get("name")),
            base_model=as_str(obj.get("baseModel")),
            base_model_type=as_str(obj.get("baseModelType")),
            published_at=as_datetime(obj.get("publishedAt")),
            created_at=as_datetime(obj.get("createdAt")),
            updated_at=as_datetime(obj.get("updatedAt")),
            level=level,
            description=as_str(obj.get("description")),
            trained_words=as_str_tuple(obj.get("trainedWords")),
            stats=Stats.from_json(obj.get("stats")),
            files=files,
            images=images,
            download_url=as_str(obj.get("downloadUrl")),
            index=as_int(obj.get("index")),
            status=as_str(obj.get("status")),
            availability=as_str(obj.get("availability")),
            air=as_str(obj.get("air")),
            model_name=as_str(parent.get("name")),
            model_type=as_str(parent.get("type")),
            model_nsfw=as_bool(parent.get("nsfw")),
            raw=obj,
        )

    @property
    def date(self) -> datetime | None:
        """When this version appeared: ``publishedAt``, or ``createdAt`` in the 2023 era."""
        return self.published_at or self.created_at

    @property
    def primary_file(self) -> ModelFile | None:
        for f in self.files:
            if f.primary:
                return f
        model_files = [f for f in self.files if (f.type or "Model") == "Model"]
        return (model_files or list(self.files) or [None])[0]

    def image_level_mask(self) -> int:
        """The version's level: its own aggregate, or the OR of its images' levels (2023 era)."""
        level = self.level
        for image in self.images:
            level |= image.level
        return level


@dataclass(frozen=True, slots=True)
class Model:
    id: int
    name: str | None
    description: str | None
    type: str | None
    nsfw: bool | None  # legacy flag
    level: int  # aggregate mask (0 when the era has none)
    poi: bool | None
    minor: bool | None
    sfw_only: bool | None
    availability: str | None
    mode: str | None  # Archived / TakenDown; None when healthy
    allow_no_credit: bool | None
    allow_commercial_use: tuple[str, ...]
    allow_derivatives: bool | None
    allow_different_license: bool | None
    creator: Creator | None
    tags: tuple[str, ...]
    stats: Stats
    versions: tuple[ModelVersion, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Any) -> Model:
        obj = as_dict(obj)
        ident = _required_id(obj, "model")
        versions = []
        for v in as_list(obj.get("modelVersions")):
            try:
                versions.append(ModelVersion.from_json(v, model_id=ident))
            except ValueError:
                continue  # a version without an id cannot be referenced; keep the rest
        level = obj.get("nsfwLevel")
        return cls(
            id=ident,
            name=as_str(obj.get("name")),
            description=as_str(obj.get("description")),
            type=as_str(obj.get("type")),
            nsfw=as_bool(obj.get("nsfw")),
            level=level_from_value(level) if not isinstance(level, bool) else 0,
            poi=as_bool(obj.get("poi")),
            minor=as_bool(obj.get("minor")),
            sfw_only=as_bool(obj.get("sfwOnly")),
            availability=as_str(obj.get("availability")),
            mode=as_str(obj.get("mode")),
            allow_no_credit=as_bool(obj.get("allowNoCredit")),
            allow_commercial_use=as_str_tuple(obj.get("allowCommercialUse")),
            allow_derivatives=as_bool(obj.get("allowDerivatives")),
            allow_different_license=as_bool(obj.get("allowDifferentLicense")),
            creator=Creator.from_json(obj.get("creator")),
            tags=as_str_tuple(obj.get("tags")),
            stats=Stats.from_json(obj.get("stats")),
            versions=tuple(versions),
            raw=obj,
        )

    @property
    def latest_version(self) -> ModelVersion | None:
        """The most recently published version (the hub lists newest first, but don't rely on it)."""
        dated = [v for v in self.versions if v.date]
        if dated:
            return max(dated, key=lambda v: (v.date, v.id))
        return self.versions[0] if self.versions else None

    @property
    def default_version(self) -> ModelVersion | None:
        """The version the hub shows first: the creator's order (``index`` 0, else the list's first)."""
        if not self.versions:
            return None
        indexed = [v for v in self.versions if v.index is not None]
        return min(indexed, key=lambda v: v.index) if indexed else self.versions[0]  # type: ignore[arg-type,return-value]

    @property
    def last_version_at(self) -> datetime | None:
        """The model's "date": the hub has no model-level dates; Newest sorts by this."""
        latest = self.latest_version
        return latest.date if latest else None

    @property
    def base_models(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for v in self.versions:
            if v.base_model:
                seen.setdefault(v.base_model, None)
        return tuple(seen)

    @property
    def creator_name(self) -> str | None:
        return self.creator.username if self.creator else None

    def effective_level(self) -> int:
        """The model's aggregate, or (2023 era) derived from versions/images and the legacy flag."""
        level = self.level
        for v in self.versions:
            level |= v.image_level_mask()
        if self.level == 0 and self.nsfw:
            level |= LEGACY_NSFW
        return level

    def version(self, version_id: int) -> ModelVersion | None:
        return next((v for v in self.versions if v.id == version_id), None)

    @property
    def popularity(self) -> int:
        """One number for ranking (autocomplete): downloads, or thumbs-up when downloads are hidden."""
        s = self.stats
        if s.download_count is not None:
            return s.download_count
        return (s.thumbs_up or 0) * 20


@dataclass(frozen=True, slots=True)
class ArticleStats:
    """Article stats; the list uses ``likeCount``, the detail ``likeCountAllTime``. Both are read."""

    likes: int = 0
    hearts: int = 0
    laughs: int = 0
    cries: int = 0
    dislikes: int = 0
    comments: int = 0
    views: int = 0
    collected: int = 0
    favorites: int = 0
    tipped: int = 0

    _KEYS = {  # noqa: RUF012  (class constant, not a field: slots dataclass ignores it)
        "likes": "likeCount", "hearts": "heartCount", "laughs": "laughCount", "cries": "cryCount",
        "dislikes": "dislikeCount", "comments": "commentCount", "views": "viewCount",
        "collected": "collectedCount", "favorites": "favoriteCount", "tipped": "tippedAmountCount",
    }

    @classmethod
    def from_json(cls, obj: Any) -> ArticleStats:
        obj = as_dict(obj)
        values = {}
        for attr, key in cls._KEYS.items():
            value = as_int(obj.get(key))
            if value is None:
                value = as_int(obj.get(f"{key}AllTime"))
            values[attr] = value or 0
        return cls(**values)

    @property
    def engagement(self) -> float:
        """The digest's ranking, a blend of the list's stats: every like and every heart counts 1, every
        comment 2 (a comment takes more than a click), every hundred views 1 (views say a title drew
        readers, but they are cheap and a hundred times as many as reactions).

        ``likes + hearts + 2 * comments + views / 100``"""
        return self.likes + self.hearts + 2 * self.comments + self.views / 100


@dataclass(frozen=True, slots=True)
class ArticleTag:
    """A tag as articles carry it: ``{id, name, isCategory}`` (the article list filters on the ids)."""

    name: str
    id: int | None = None
    is_category: bool = False

    @classmethod
    def parse_all(cls, value: Any) -> tuple[ArticleTag, ...]:
        out = []
        for item in as_list(value):
            if isinstance(item, str) and item.strip():
                out.append(cls(item.strip()))
            elif isinstance(item, Mapping) and isinstance(item.get("name"), str) and item["name"].strip():
                out.append(cls(item["name"].strip(), as_int(item.get("id")), as_bool(item.get("isCategory")) or False))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Article:
    id: int
    title: str | None
    published_at: datetime | None
    updated_at: datetime | None
    level: int
    username: str | None
    tags: tuple[str, ...]
    tag_ids: tuple[int, ...]
    stats: ArticleStats
    cover: Image | None
    content: str | None  # sanitized HTML, detail only
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def tag_refs(self) -> tuple[ArticleTag, ...]:
        """The tags with their ids and whether each is a category."""
        return ArticleTag.parse_all(self.raw.get("tags"))

    @classmethod
    def from_json(cls, obj: Any) -> Article:
        obj = as_dict(obj)
        cover_obj = obj.get("coverImage")
        cover = Image.from_json(cover_obj) if isinstance(cover_obj, Mapping) else None
        if cover is None and isinstance(obj.get("cover"), str):
            cover = Image.from_json({"url": obj["cover"], "nsfwLevel": obj.get("nsfwLevel")})
        tag_ids = tuple(i for i in (as_int(as_dict(t).get("id")) for t in as_list(obj.get("tags")))
                        if i is not None)
        return cls(
            id=_required_id(obj, "article"),
            title=as_str(obj.get("title")),
            published_at=as_datetime(obj.get("publishedAt")),
            updated_at=as_datetime(obj.get("updatedAt")),
            level=level_from_value(obj.get("nsfwLevel")),
            username=as_str(as_dict(obj.get("user")).get("username")) or as_str(obj.get("username")),
            tags=as_str_tuple(obj.get("tags")),
            tag_ids=tag_ids,
            stats=ArticleStats.from_json(obj.get("stats")),
            cover=cover,
            content=as_str(obj.get("content")),
            raw=obj,
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list endpoint. ``next_cursor`` is None on the last page."""

    items: tuple[T, ...]
    next_cursor: str | None = None
    next_page: str | None = None
    total_items: int | None = None
    skipped: int = 0  # items the parser had to drop (no id, not an object)

    @classmethod
    def parse(cls, payload: Any, item: Callable[[Any], T]) -> Page[T]:
        """Parse a ``{items, metadata}`` envelope. Raises ``ValueError`` if it is not one."""
        if not isinstance(payload, Mapping) or not isinstance(payload.get("items"), list):
            raise ValueError("expected an object with an 'items' list")
        items: list[T] = []
        skipped = 0
        for raw in payload["items"]:
            try:
                items.append(item(raw))
            except (ValueError, TypeError):
                skipped += 1
        meta = as_dict(payload.get("metadata"))
        cursor = meta.get("nextCursor")
        next_cursor = None if cursor is None or cursor == "" or isinstance(cursor, bool) else str(cursor)
        return cls(
            items=tuple(items),
            next_cursor=next_cursor,
            next_page=as_str(meta.get("nextPage")),
            total_items=as_int(meta.get("totalItems")),
            skipped=skipped,
        )


def parse_items(values: Iterable[Any], item: Callable[[Any], T]) -> list[T]:
    """Parse a bare JSON array, dropping entries that cannot be parsed."""
    out = []
    for raw in values:
        try:
            out.append(item(raw))
        except (ValueError, TypeError):
            continue
    return out
