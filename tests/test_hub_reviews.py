"""Linking hub keys and posting reviews to the hub, below Discord: the sealing, the hub client's
member calls against the fake hub, and every answer the hub can give to a post (issue 10, part 6)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.core.crypto import SecretBox
from bot.core.errors import UserError
from bot.hub.client import HubClient
from bot.hub.errors import HubError, HubRateLimited, HubRequestRejected
from bot.policy.settings import GuildSettingsService, SettingError
from bot.reviews.hub import HubReviewService, review_html
from bot.store import Store
from tests.fakes.hub_server import FakeHub

SECRET = "operator-secret-for-tests-0123456789"
BOT_KEY = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
GUILD, MEMBER, OTHER = 1, 100, 200
SOCIAL_WRITE = 524288  # hub-api.md §1


def test_sealed_keys_open_only_under_the_same_secret() -> None:
    box = SecretBox(SECRET)
    sealed = box.seal("0123456789abcdef0123456789abcdef")
    assert b"0123456789abcdef" not in sealed
    assert box.open(sealed) == "0123456789abcdef0123456789abcdef"
    assert SecretBox(SECRET).open(sealed) == "0123456789abcdef0123456789abcdef"  # a restart opens it
    assert SecretBox(SECRET + "!").open(sealed) is None  # another secret: the member links again
    assert box.open(sealed[:-2] + b"AA") is None  # tampered
    assert SECRET not in repr(box)
    with pytest.raises(ValueError, match="at least 16"):
        SecretBox("short")


def test_review_text_goes_to_the_hub_as_escaped_html() -> None:
    assert review_html("") is None and review_html("  \n ") is None
    assert review_html("<script>x</script> & co") == "<p>&lt;script&gt;x&lt;/script&gt; &amp; co</p>"
    assert review_html("one\ntwo\n\nthree") == "<p>one<br>two</p><p>three</p>"


@dataclass
class World:
    hub: FakeHub
    client: HubClient
    store: Store
    service: HubReviewService
    model_id: int
    version_id: int
    clock: list[float]

    def advance(self, seconds: float) -> None:
        self.clock[0] += seconds


@pytest.fixture
async def world(store: Store) -> AsyncIterator[World]:
    async with FakeHub() as hub:
        model = hub.publish_model(type="LORA", name="Service Lora", image_levels=[1])
        # the bot has a key of its own: a member's request must carry theirs instead, never both
        clock = [1000.0]

        async def sleep(seconds: float) -> None:  # the client's clock and sleep, faked together
            clock[0] += seconds

        client = HubClient(hub.base_url, api_key=BOT_KEY, timeout=5, max_attempts=2, backoff_base=0.01,
                           clock=lambda: clock[0], sleep=sleep)
        settings = GuildSettingsService(store.settings)
        await settings.set(GUILD, "hub_reviews", True)
        service = HubReviewService(client, store.hub_links, store.reviews, settings, SecretBox(SECRET),
                                   hub_base_url=hub.base_url)
        try:
            yield World(hub, client, store, service, model["id"], model["modelVersions"][0]["id"], clock)
        finally:
            await client.aclose()


async def _review(world: World, user_id: int = MEMBER, text: str = "Good") -> int:
    row = await world.store.reviews.upsert(guild_id=GUILD, model_id=world.model_id,
                                           model_version_id=world.version_id, user_id=user_id, recommended=True,
                                           text=text)
    return row.id


async def test_me_and_upsert_speak_as_the_member_and_keep_their_key_out_of_errors(world: World) -> None:
    user = world.hub.add_user("speaker", scopes={"SocialWrite"})
    account = await world.client.me(user["key"])
    assert (account.username, account.id, account.token_scope) == ("speaker", user["id"], SOCIAL_WRITE)
    hub_id = await world.client.upsert_review(user["key"], model_id=world.model_id,
                                              model_version_id=world.version_id, recommended=False,
                                              details_html=None)
    (post,) = world.hub.review_posts
    assert hub_id == post["id"] and post["rating"] == 1 and post["recommended"] is False and not post["details"]
    sent = world.hub.requests_to("/api/trpc")[0].headers
    assert sent.getall("Authorization") == [f"Bearer {user['key']}"]  # hers alone, not the bot's as well
    with pytest.raises(ValueError):  # an empty key must not fall back to the bot's own
        await world.client.me("")

    # a hub that echoes the key, even where its message would be cut, never gets a piece of it through
    for padding in (0, 100, 110, 119):
        echo = json.dumps({"error": {"json": {"message": "x" * padding + f"bad key {user['key']}", "code": -32001,
                                              "data": {"code": "UNAUTHORIZED", "httpStatus": 401}}}})
        world.hub.fail(401, path="/api/trpc", body=echo.encode())
        with pytest.raises(HubRequestRejected) as refused:
            await world.client.upsert_review(user["key"], model_id=world.model_id,
                                             model_version_id=world.version_id, recommended=True, details_html=None)
        assert refused.value.status == 401 and refused.value.code == "UNAUTHORIZED"
        assert user["key"][:8] not in str(refused.value) and user["key"][:8] not in refused.value.detail


async def test_a_members_refusals_pause_only_that_member_and_stay_out_of_the_bots_health(world: World) -> None:
    user = world.hub.add_user("limited", scopes={"SocialWrite"})
    with pytest.raises(HubRequestRejected):
        await world.client.me("f" * 32)  # a wrong key pasted by someone: not the hub failing
    assert world.client.health.consecutive_failures == 0 and world.client.health.last_error is None
    world.hub.fail(429, times=5, retry_after="60", path="/api/trpc")
    with pytest.raises(HubError):
        await world.client.upsert_review(user["key"], model_id=world.model_id, model_version_id=world.version_id,
                                         recommended=True, details_html=None)
    assert world.client.paused_for("/models")[0] == 0  # the bot's own calls go on
    assert (await world.client.get_model(world.model_id)).id == world.model_id
    with pytest.raises(HubRateLimited):  # while the member waits, without a request
        await world.client.upsert_review(user["key"], model_id=world.model_id, model_version_id=world.version_id,
                                         recommended=True, details_html=None)
    assert len(world.hub.requests_to("/api/trpc")) == 1 and world.client.health.last_error is None


async def test_link_checks_the_key_and_refuses_what_cannot_post(world: World) -> None:
    good = world.hub.add_user("linker", scopes={"SocialWrite"})
    readonly = world.hub.add_user("reader", scopes={"UserRead"})
    with pytest.raises(UserError, match="does not look like"):
        await world.service.link(MEMBER, "not a key")
    with pytest.raises(UserError, match="did not accept"):
        await world.service.link(MEMBER, "f" * 32)
    with pytest.raises(UserError, match="lacks the SocialWrite scope"):
        await world.service.link(MEMBER, readonly["key"])
    assert await world.service.link_of(MEMBER) is None
    link = await world.service.link(MEMBER, f"  Bearer {good['key']} ")  # pasted with the header's word
    assert link.hub_username == "linker" and link.usable
    assert await world.service.offer(GUILD, MEMBER) == "linker" and await world.service.offer(GUILD, OTHER) is None
    for _ in range(5):
        with pytest.raises(UserError, match="did not accept"):
            await world.service.link(OTHER, "e" * 32)
    asked = len(world.hub.requests_to("/api/v1/me"))
    with pytest.raises(UserError, match="Too many keys tried"):  # the bot is no oracle for guessing keys
        await world.service.link(OTHER, good["key"])
    assert len(world.hub.requests_to("/api/v1/me")) == asked
    assert await world.service.unlink(MEMBER) and not await world.service.unlink(MEMBER)


async def test_every_answer_to_a_post_is_told_and_the_review_stays(world: World) -> None:
    user = world.hub.add_user("poster", scopes={"SocialWrite", "UserRead"})
    await world.service.link(MEMBER, user["key"])
    review_id = await _review(world)

    with pytest.raises(UserError, match="not your review"):  # another member cannot post it, nor use the key
        await world.service.post(GUILD, OTHER, review_id)

    world.hub.review_access_error = "UNAUTHORIZED"  # what the real hub answers for a version it hides
    world.hub.delete_model(world.model_id)
    result = await world.service.post(GUILD, MEMBER, review_id)
    assert not result.posted and "did not let you review this version" in result.message and not result.relink
    world.hub.review_access_error = "NOT_FOUND"
    result = await world.service.post(GUILD, MEMBER, review_id)
    assert not result.posted and "no such model version" in result.message

    world.hub.fail(429, times=5, retry_after="60", path="/api/trpc")
    result = await world.service.post(GUILD, MEMBER, review_id)
    assert not result.posted and result.retry and "saved here" in result.message

    world.hub.api_keys[user["key"]]["scope"] = 1
    world.hub.clear_faults()
    # the 429 closed this member's gate for a minute: nothing is sent meanwhile, they are told to retry
    sent = len(world.hub.requests_to("/api/trpc"))
    assert (await world.service.post(GUILD, MEMBER, review_id)).retry
    assert len(world.hub.requests_to("/api/trpc")) == sent
    world.advance(61)
    result = await world.service.post(GUILD, MEMBER, review_id)
    assert not result.posted and "lacks the SocialWrite scope" in result.message
    result = await world.service.post(GUILD, MEMBER, review_id)  # five posts a minute per member, retries too
    assert not result.posted and "a lot of hub posts" in result.message
    assert world.hub.review_posts == []
    assert (await world.store.reviews.get(GUILD, review_id)) is not None  # the review here is untouched


async def test_a_server_that_did_not_opt_in_sends_nothing(world: World) -> None:
    user = world.hub.add_user("optout", scopes={"SocialWrite"})
    await world.service.link(MEMBER, user["key"])
    review_id = await _review(world)
    await world.service.guild_settings.set(GUILD, "hub_reviews", False)
    assert await world.service.offer(GUILD, MEMBER) is None  # the form does not offer it
    result = await world.service.post(GUILD, MEMBER, review_id)
    assert not result.posted and "off in this server" in result.message
    assert world.hub.requests_to("/api/trpc") == []


async def test_a_vanished_review_procedure_is_told_apart_from_a_vanished_version(world: World) -> None:
    user = world.hub.add_user("procedural", scopes={"SocialWrite"})
    await world.service.link(MEMBER, user["key"])
    review_id = await _review(world)
    gone = {"error": {"json": {"message": 'No "mutation"-procedure on path "resourceReview.upsert"', "code": -32004,
                               "data": {"code": "NOT_FOUND", "httpStatus": 404}}}}
    world.hub.fail(404, path="/api/trpc", body=json.dumps(gone).encode())
    result = await world.service.post(GUILD, MEMBER, review_id)
    assert not result.posted and "operator should update" in result.message


async def test_a_post_is_marked_only_for_the_text_the_hub_got(world: World) -> None:
    user = world.hub.add_user("marker", scopes={"SocialWrite"})
    await world.service.link(MEMBER, user["key"])
    review_id = await _review(world, text="first")
    assert (await world.service.post(GUILD, MEMBER, review_id)).posted
    row = await world.store.reviews.get(GUILD, review_id)
    assert row is not None and row.hub_review_id == world.hub.review_posts[0]["id"] and row.hub_posted_at
    await _review(world, text="edited here only")
    row = await world.store.reviews.get(GUILD, review_id)
    assert row is not None and row.hub_posted_at is None and row.hub_review_id is not None


async def test_hub_reviews_cannot_be_turned_on_without_the_operator_secret(store: Store) -> None:
    settings = GuildSettingsService(store.settings, unavailable={"hub_reviews": "no secret"})
    with pytest.raises(SettingError, match="no secret"):
        await settings.set(GUILD, "hub_reviews", True)
    assert (await settings.set(GUILD, "hub_reviews", False)).hub_reviews is False
