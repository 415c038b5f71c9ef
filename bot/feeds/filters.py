"""What a feed asks for: its filter (the part the hub applies and the part applied here), and the
parsing of ``/feed add`` options into one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core.errors import UserError
from bot.core.rating import Rating, parse_max_rating
from bot.hub.client import ModelQuery
from bot.hub.models import MODEL_TYPES, Model, ModelVersion
from bot.store.feeds import SubscriptionRow

MAX_VALUES = 10


@dataclass(frozen=True, slots=True)
class FeedFilter:
    types: tuple[str, ...] = ()
    base_models: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    creators: tuple[str, ...] = ()
    query: str | None = None
    max_rating: Rating | None = None

    @classmethod
    def from_options(cls, *, types: str | None, base_models: str | None, tags: str | None, creators: str | None,
                     query: str | None, max_rating: str | None, known_base_models: Sequence[str]) -> FeedFilter:
        """``/feed add``'s text options (comma-separated lists) -> a filter, or a UserError saying
        what is wrong."""
        return cls(types=parse_types(types), base_models=parse_base_models(base_models, known_base_models),
                   tags=split_values(tags, what="tags"), creators=split_values(creators, what="creators"),
                   query=(query or "").strip()[:100] or None,
                   max_rating=parse_max_rating(max_rating) if max_rating else None)

    def hub_query(self) -> ModelQuery:
        """What the hub can apply. One tag or one creator is a hub filter; several are OR-ed locally."""
        return ModelQuery(
            query=self.query, types=self.types, base_models=self.base_models,
            tag=self.tags[0] if len(self.tags) == 1 else None,
            username=self.creators[0] if len(self.creators) == 1 else None,
            sort="Newest", nsfw=True,
        ).normalized()

    def matches(self, model: Model, version: ModelVersion) -> bool:
        """The local part of the filter (also re-checks what the hub should have applied)."""
        if self.types and (model.type or "") not in self.types:
            return False
        if self.base_models and (version.base_model or "") not in self.base_models:
            return False
        if self.tags:
            wanted = {t.lower() for t in self.tags}
            if not wanted & {t.lower() for t in model.tags}:
                return False
        if self.creators:
            wanted = {c.lower() for c in self.creators}
            if (model.creator_name or "").lower() not in wanted:
                return False
        return True

    def describe(self) -> str:
        parts = []
        if self.types:
            parts.append("types " + ", ".join(self.types))
        if self.base_models:
            parts.append("base " + ", ".join(self.base_models))
        if self.tags:
            parts.append("tags " + ", ".join(self.tags))
        if self.creators:
            parts.append("by " + ", ".join(self.creators))
        if self.query:
            parts.append(f"matching “{self.query}”")
        if self.max_rating is not None:
            parts.append(f"up to {self.max_rating.name}")
        return "; ".join(parts) or "all new models"


def split_values(text: str | None, *, what: str) -> tuple[str, ...]:
    """Comma-separated option text -> distinct trimmed values (at most ``MAX_VALUES``)."""
    if not text:
        return ()
    values = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    if len(values) > MAX_VALUES:
        raise UserError(f"At most {MAX_VALUES} {what} per feed.")
    for v in values:
        if len(v) > 60:
            raise UserError(f"“{v[:40]}…” is too long for one of the {what}.")
    return values


def parse_types(text: str | None) -> tuple[str, ...]:
    values = split_values(text, what="types")
    known = {t.lower(): t for t in MODEL_TYPES}
    bad = [v for v in values if v.lower().replace(" ", "") not in known]
    if bad:
        raise UserError(f"Unknown model type{'s' if len(bad) > 1 else ''}: {', '.join(bad)}. "
                        f"Types: {', '.join(MODEL_TYPES)}.")
    return tuple(known[v.lower().replace(" ", "")] for v in values)


def parse_base_models(text: str | None, known: Sequence[str]) -> tuple[str, ...]:
    values = split_values(text, what="base models")
    lookup = {k.lower(): k for k in known}
    bad = [v for v in values if v.lower() not in lookup]
    if bad:
        raise UserError(f"Unknown base model{'s' if len(bad) > 1 else ''}: {', '.join(bad)}. "
                        f"Pick from the suggestions, e.g. {', '.join(list(known)[:8])}.")
    return tuple(lookup[v.lower()] for v in values)


def filter_of(sub: SubscriptionRow) -> FeedFilter:
    rating = None
    if sub.max_rating:
        try:
            rating = parse_max_rating(sub.max_rating)
        except ValueError:
            rating = None
    return FeedFilter(types=sub.types, base_models=sub.base_models, tags=sub.tags, creators=sub.creators,
                      query=sub.query, max_rating=rating)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def version_kind(model: Model, version: ModelVersion) -> str:
    """``new_version`` when the model had an earlier published version, else ``new_model``."""
    date = version.date
    for other in model.versions:
        if other.id != version.id and other.date is not None and (date is None or other.date < date):
            return "new_version"
    return "new_model"
