"""Model cards: which model a member means, and everything its card shows in a given channel.

The rating decision for every picture is made here, through ``bot.core.rating`` only: images above the
server's max rating (or legacy NSFW, or Blocked) are never fetched for an ordinary channel. When no
image may be shown, the card gets a BlurHash placeholder (nothing fetched) or no picture at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from bot.catalog.cache import Fetched, HubCache
from bot.core.errors import UserError
from bot.core.rating import ChannelPolicy, Rating, may_show
from bot.hub.client import ModelQuery
from bot.hub.errors import HubNotFound
from bot.hub.models import Image, Model, ModelVersion, is_hash_like
from bot.media.previews import Preview, PreviewImage, PreviewService
from bot.store import Store
from bot.store.votes import Score

MAX_PREVIEW_TILES = 4
_HUB_HOSTS = re.compile(r"(^|\.)civitai\.(com|green|red)$", re.IGNORECASE)
_MODEL_PATH = re.compile(r"^/models/([0-9]{1,10})(?:/|$)")
_DIGITS = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True, slots=True)
class ModelRef:
    model_id: int | None
    version_id: int | None = None


@dataclass(frozen=True, slots=True)
class ModelCard:
    model: Model
    version: ModelVersion | None
    hub_url: str
    images: tuple[Image, ...]  # the images shown (all allowed in the channel), at most four
    withheld: int  # images of the shown version kept out of this channel by its rating
    preview: Preview | None
    score: Score | None  # this server's votes (None outside a server)
    fetched: Fetched[Model]

    @property
    def stale_note(self) -> str | None:
        return self.fetched.note()


def parse_model_ref(text: str) -> ModelRef | None:
    """An id (``4384``), a hub URL (``https://civitai.com/models/4384/dreamshaper?modelVersionId=128713``,
    also civitai.green/.red) or ``None`` when the text must be a name."""
    text = text.strip().strip("<>")
    if _DIGITS.fullmatch(text):
        return ModelRef(int(text))
    parts = urlsplit(text if "://" in text else f"https://{text}" if text.lower().startswith("civitai.") else text)
    if parts.scheme in ("http", "https") and parts.hostname and _HUB_HOSTS.search(parts.hostname):
        match = _MODEL_PATH.match(parts.path)
        if match:
            version = parse_qs(parts.query).get("modelVersionId", [None])[0]
            return ModelRef(int(match.group(1)), int(version) if version and _DIGITS.fullmatch(version) else None)
        raise UserError("That hub link is not a model page (expected https://civitai.com/models/ID).")
    return None


def model_url(base_url: str, model_id: int, version_id: int | None = None) -> str:
    url = f"{base_url.rstrip('/')}/models/{model_id}"
    return f"{url}?modelVersionId={version_id}" if version_id else url


def allowed_images(version: ModelVersion | None, policy: ChannelPolicy) -> tuple[list[Image], int]:
    """(the version's images this channel may show, how many were withheld). Videos are skipped."""
    if version is None:
        return [], 0
    shown: list[Image] = []
    withheld = 0
    for image in version.images:
        if not may_show(image.level, age_restricted=policy.age_restricted, max_rating=policy.max_rating):
            withheld += 1
            continue
        if (image.type or "image") != "image" or not image.url:
            continue
        shown.append(image)
    return shown, withheld


class CardService:
    def __init__(self, cache: HubCache, store: Store, previews: PreviewService, *, hub_base_url: str) -> None:
        self.cache = cache
        self.store = store
        self.previews = previews
        self.hub_base_url = hub_base_url.rstrip("/")

    async def names_of(self, model_ids: list[int]) -> dict[int, str]:
        """Model names from the cache (no hub request; a model not cached has no name here)."""
        out: dict[int, str] = {}
        for model_id in model_ids:
            row = await self.store.catalog.get_model(model_id)
            if row is not None and row.model.name:
                out[model_id] = row.model.name
        return out

    async def resolve(self, text: str) -> ModelRef:
        """What the member typed -> a model (and maybe version). Names are looked up in the local
        index first, then with the hub's search."""
        text = (text or "").strip()
        if not text:
            raise UserError("Tell me which model: an id, a hub link, or a name.")
        ref = parse_model_ref(text)
        if ref is not None:
            return ref
        hits = await self.store.catalog.search(text, limit=1)
        if hits:
            return ModelRef(hits[0].id)
        page = await self.cache.models_page(ModelQuery(query=text[:200], nsfw=True), limit=5)
        if page.value.items:
            return ModelRef(page.value.items[0].id)
        raise UserError(f"No model on the hub matches “{text[:80]}”.")

    async def build(self, ref: ModelRef, policy: ChannelPolicy, *, with_preview: bool = True) -> ModelCard:
        if ref.model_id is None:
            raise UserError("Tell me which model: an id, a hub link, or a name.")
        try:
            fetched = await self.cache.model(ref.model_id)
        except HubNotFound:
            raise UserError(f"The hub has no model with id {ref.model_id}.") from None
        model = fetched.value
        version = model.version(ref.version_id) if ref.version_id else model.default_version
        if ref.version_id and version is None:
            raise UserError(f"Model {model.id} has no version {ref.version_id}.")
        images, withheld = allowed_images(version, policy)
        images = images[:MAX_PREVIEW_TILES]
        preview = None
        if with_preview:
            preview = await self._preview(images, version, policy)
        score = None
        if policy.guild_id is not None:  # in a server: its votes, also when there are none yet
            score = await self.store.votes.score(policy.guild_id, model_id=model.id)
        url = model_url(self.hub_base_url, model.id, version.id if version else None)
        return ModelCard(model=model, version=version, hub_url=url, images=tuple(images), withheld=withheld,
                         preview=preview, score=score, fetched=fetched)

    async def build_for_hash(self, value: str, policy: ChannelPolicy, *, with_preview: bool = True) -> ModelCard:
        if not is_hash_like(value):
            raise UserError("That is not a hub file hash: expected 8, 10, 12 or 64 hexadecimal characters "
                            "(AutoV1, AutoV2, AutoV3, SHA256, CRC32 or BLAKE3).")
        try:
            found = await self.cache.version_by_hash(value)
        except HubNotFound:
            raise UserError(f"No model on the hub has a file with the hash `{value.strip().upper()[:64]}`.") from None
        version = found.value
        if version.model_id is None:
            raise UserError("The hub knows that file but did not say which model it belongs to.")
        return await self.build(ModelRef(version.model_id, version.id), policy, with_preview=with_preview)

    async def _preview(self, images: list[Image], version: ModelVersion | None,
                       policy: ChannelPolicy) -> Preview | None:
        if images:
            preview = await self.previews.collage(
                [PreviewImage(url=i.url or "", width=i.width, height=i.height, blurhash=i.blurhash) for i in images])
            if preview is not None:
                return preview
        # Nothing may (or could) be shown: a placeholder from a BlurHash, which reveals only colours.
        # Never from a Blocked image.
        for image in version.images if version else ():
            if image.blurhash and not image.level & Rating.BLOCKED:
                return await self.previews.placeholder(image.blurhash, image.width, image.height)
        return None

    async def version_choices(self, model_id: int) -> list[ModelVersion]:
        """The cached versions of a model (for autocomplete: never asks the hub)."""
        cached = await self.store.catalog.get_model(model_id)
        return list(cached.model.versions) if cached else []
