"""Reviews that reach the hub (opt-in): members link their own hub account with a personal API key,
and a linked member's review can be posted to the hub as theirs through the hub's internal
``resourceReview.upsert`` (hub-api.md §11).

Three gates, all required: the operator set ``security.secret_key`` (without it nothing can be
sealed, so nobody can link), the server turned ``hub_reviews`` on, and the member linked a key.

The key is the member's and only theirs: it is checked with ``GET /me`` before it is kept, sealed at
rest (``bot.core.crypto``), opened only for that member's own post, and never put in a message, a
log line or an error (the hub client removes it from the hub's words). Every lookup is by the acting
member's Discord id, so no other member's action can ever use it.
"""

from __future__ import annotations

import html
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.crypto import SecretBox
from bot.core.errors import UserError
from bot.core.ratelimit import SlidingWindow
from bot.hub.client import HubClient
from bot.hub.errors import HubError, HubNotFound, HubRequestRejected
from bot.policy.settings import GuildSettingsService
from bot.store.hub_links import HubLinkStore
from bot.store.reviews import ReviewRow, ReviewStore

log = logging.getLogger(__name__)

SOCIAL_WRITE = 524288  # the scope "follow, react, comment & review" (hub-api.md §1)
POST_LIMIT, POST_WINDOW = 5, 60.0  # hub posts (retries too) a member may make per window
LINK_LIMIT, LINK_WINDOW = 5, 600.0  # keys a member may try per window: the bot is no key oracle
_KEY_SHAPE = re.compile(r"[A-Za-z0-9_.\-]{16,200}")


@dataclass(frozen=True, slots=True)
class HubLink:
    """What a member may see of their link (never the key)."""

    hub_username: str
    hub_user_id: int | None
    linked_at: float
    checked_at: float
    usable: bool  # False: sealed under another secret (the operator changed it): link again


@dataclass(frozen=True, slots=True)
class HubPostResult:
    posted: bool
    message: str  # for the member: posted, or why not and what to do
    retry: bool = False  # worth trying again later (the hub was busy or down)
    relink: bool = False  # the key no longer works: /hub link a new one


def review_html(text: str | None) -> str | None:
    """The hub stores review text as HTML: paragraphs at blank lines, line breaks kept, all escaped."""
    cleaned = (text or "").strip()
    if not cleaned:
        return None
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", cleaned) if p.strip()]
    return "".join("<p>" + "<br>".join(html.escape(line) for line in p.splitlines()) + "</p>" for p in paragraphs)


class HubReviewService:
    def __init__(self, hub: HubClient, links: HubLinkStore, reviews: ReviewStore, guild_settings: GuildSettingsService,
                 box: SecretBox | None, *, hub_base_url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.hub = hub
        self.links = links
        self.reviews = reviews
        self.guild_settings = guild_settings
        self.box = box
        self.key_page = f"{hub_base_url.rstrip('/')}/user/account"
        self._posts = SlidingWindow(POST_LIMIT, POST_WINDOW, clock=clock)
        self._tries = SlidingWindow(LINK_LIMIT, LINK_WINDOW, clock=clock)

    @property
    def enabled(self) -> bool:
        """The operator set a secret: members can link."""
        return self.box is not None

    def require_enabled(self) -> SecretBox:
        """The box that seals keys; refused in words when the operator set no secret."""
        if self.box is None:
            raise UserError("Linking hub accounts is off: the bot's operator has not set a secret to keep keys "
                            "safe. Your reviews stay in Discord, with a button to the hub page.")
        return self.box

    async def available(self, guild_id: int) -> bool:
        """Linked members' reviews may go to the hub from this server."""
        return self.enabled and (await self.guild_settings.get(guild_id)).hub_reviews

    def how_to_get_a_key(self) -> str:
        return (f"Create a personal API key on the hub at {self.key_page} (API Keys, Add API key) with the "
                "**SocialWrite** scope (\"follow, react, comment & review\"), then paste it here.")

    # ------------------------------------------------------------------ linking

    async def link(self, user_id: int, key: str) -> HubLink:
        """Check the key with the hub (``GET /me``) and keep it, sealed, for this member only."""
        box = self.require_enabled()
        key = key.strip()
        if key.lower().startswith("bearer "):
            key = key[7:].strip()
        if not _KEY_SHAPE.fullmatch(key):
            raise UserError("That does not look like a hub API key (letters and digits, no spaces). "
                            + self.how_to_get_a_key())
        wait = self._tries.hit(user_id)
        if wait:
            raise UserError(f"Too many keys tried: try again in {math.ceil(wait / 60)} min.")
        try:
            account = await self.hub.me(key)
        except HubRequestRejected as exc:
            if exc.status in (401, 403):
                raise UserError("The hub did not accept that key (unknown, expired or revoked). "
                                + self.how_to_get_a_key()) from None
            raise UserError(f"The hub refused to check that key (HTTP {exc.status}). Try again later.") from None
        except HubError as exc:
            raise UserError(f"I could not check the key with the hub right now: {exc.user_message}") from None
        if account.token_scope is not None and not account.token_scope & SOCIAL_WRITE:
            raise UserError(f"That key belongs to {_name(account.username)} on the hub but lacks the SocialWrite "
                            "scope, so it cannot post reviews. " + self.how_to_get_a_key())
        await self.links.put(user_id, hub_user_id=account.id, hub_username=account.username,
                             sealed_key=box.seal(key))
        link = await self.link_of(user_id)
        assert link is not None
        return link

    async def unlink(self, user_id: int) -> bool:
        """Delete the member's link at once (True when there was one)."""
        return await self.links.delete(user_id)

    async def link_of(self, user_id: int) -> HubLink | None:
        row = await self.links.get(user_id)
        if row is None:
            return None
        usable = self.box is not None and self.box.open(row.sealed_key) is not None
        return HubLink(row.hub_username, row.hub_user_id, row.linked_at, row.checked_at, usable)

    async def offer(self, guild_id: int, user_id: int) -> str | None:
        """The member's hub username when their review may go to the hub from here, else None."""
        if not await self.available(guild_id):
            return None
        link = await self.link_of(user_id)
        return link.hub_username if link is not None and link.usable else None

    # ------------------------------------------------------------------ posting

    async def post(self, guild_id: int, user_id: int, review_id: int) -> HubPostResult:
        """Post the member's own review (``review_id`` must be theirs) to the hub as them."""
        review = await self.reviews.get(guild_id, review_id)
        if review is None or review.user_id != user_id:
            raise UserError("That is not your review (or it was removed).")
        if not await self.available(guild_id):
            return HubPostResult(False, "Posting reviews on the hub is off in this server.")
        row = await self.links.get(user_id)
        if row is None:
            return HubPostResult(False, "Your hub account is not linked: `/hub link` first.")
        assert self.box is not None  # available() said so
        key = self.box.open(row.sealed_key)
        if key is None:
            return HubPostResult(False, "Your hub link no longer opens (the bot's secret changed): `/hub link` again.",
                                 relink=True)
        wait = self._posts.hit(user_id)
        if wait:
            return HubPostResult(False, f"That is a lot of hub posts at once: try again in {math.ceil(wait)} s.",
                                 retry=True)
        return await self._send(review, key)

    async def _send(self, review: ReviewRow, key: str) -> HubPostResult:
        try:
            hub_id = await self.hub.upsert_review(
                key, model_id=review.model_id, model_version_id=review.model_version_id,
                recommended=review.recommended, details_html=review_html(review.text))
        except HubRequestRejected as exc:
            return await self._refused(review, key, exc)
        except HubNotFound as exc:
            if "procedure" in str(exc).lower():  # tRPC's 'No "mutation"-procedure on path ...'
                log.warning("hub: the review procedure is gone (%s): posting reviews to the hub no longer works", exc)
                return HubPostResult(False, "The hub no longer takes reviews the way the bot sends them (its "
                                     "operator should update the bot). Your review is saved here.")
            return HubPostResult(False, "The hub has no such model version any more: nothing was posted there.")
        except HubError as exc:
            return HubPostResult(False, f"{exc.user_message} Your review is saved here.", retry=True)
        await self.reviews.mark_posted(review.id, hub_id, updated_at=review.updated_at)
        await self.links.touch(review.user_id)
        return HubPostResult(True, "Posted on the hub as your review.")

    async def _refused(self, review: ReviewRow, key: str, exc: HubRequestRejected) -> HubPostResult:
        if exc.status == 401:
            # the hub answers 401 both for a dead key and for a version the member may not see: ask
            try:
                await self.hub.me(key)
            except HubRequestRejected as again:
                if again.status in (401, 403):
                    return HubPostResult(False, "The hub no longer accepts your linked key (expired or revoked): "
                                         "`/hub link` a new one.", relink=True)
            except HubError:
                return HubPostResult(False, "The hub refused the review and could not say why right now.", retry=True)
            else:
                return HubPostResult(False, "The hub did not let you review this version (it may be early access "
                                     "or not public). Your review is saved here.")
        if exc.status == 403:
            # a key without the scope, or a restricted account: the key's own scope tells them apart
            try:
                scope = (await self.hub.me(key)).token_scope
            except HubError:
                scope = None
            if scope is not None and not scope & SOCIAL_WRITE:
                return HubPostResult(False, "Your linked key lacks the SocialWrite scope needed to post reviews: "
                                     "create a key with it and `/hub link` it.", relink=True)
            reason = f": {_name(exc.detail)}" if exc.detail else ""
            return HubPostResult(False, f"The hub refused the review{reason}.")
        reason = f" ({_name(exc.detail)})" if exc.detail else ""
        return HubPostResult(False, f"The hub refused the review: HTTP {exc.status}{reason}.")


def _name(text: str) -> str:
    """Hub-provided text shown inside a message: short, on one line."""
    return " ".join(text.split())[:120]
