"""Reaction votes (issue 10, part 1; score on cards, part 5): 👍 / 👎 on the bot's model posts are that
member's vote for the post's model version in this server, from raw gateway events."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.fakes.discord_server import FakeMember
from tests.support import BotWorld, bot_world


def _votes(world: BotWorld) -> list[tuple[int, int, int]]:
    """(model version, member, value) of every vote in the default server."""
    conn = sqlite3.connect(world.db_path)
    try:
        return conn.execute("SELECT model_version_id, user_id, value FROM votes WHERE guild_id = ? "
                            "ORDER BY user_id", (world.guild.id,)).fetchall()
    finally:
        conn.close()


async def _settled(world: BotWorld, expected: list[tuple[int, int, int]]) -> None:
    """Wait until the votes are ``expected`` (events are handled after the fake dispatches them)."""
    await world.fake.wait_until(lambda: _votes(world) == expected, timeout=5)
    await asyncio.sleep(0.1)  # and stay so: nothing else arrives late
    assert _votes(world) == expected


async def _feed_post(world: BotWorld, name: str) -> tuple[dict, int]:
    """A feed post of a new model in #feeds: (the message, its model version id)."""
    assert world.bot is not None
    rec = await world.slash("feed add", user="manager", options={"channel": world.channel("feeds"), "types": "LORA"})
    await rec.wait_response()
    await asyncio.sleep(0.01)
    model = world.hub.publish_model(type="LORA", name=name, image_levels=[1])
    await world.bot.get_cog("Feeds").tick()
    posts = [m for m in world.fake.messages.get(world.channel("feeds"), []) if m.get("embeds")]
    assert len(posts) == 1
    return posts[0], model["modelVersions"][0]["id"]


async def _card_score(world: BotWorld, model_id: int) -> str:
    """What the next /model card says of this server's votes."""
    rec = await world.slash("model", options={"model": str(model_id)})
    await rec.wait_response()
    card = await rec.wait_original(lambda m: bool(m.get("embeds")))
    return next(f["value"] for f in card["embeds"][0]["fields"] if f["name"] == "This server")


async def test_thumbs_on_a_feed_post_are_votes_added_withdrawn_and_switched(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        post, version = await _feed_post(world, "Votable Lora")
        model_id = int(post["embeds"][0]["url"].split("/models/")[1].split("?")[0])
        feeds, member = world.channel("feeds"), world.member("member")
        message_id = int(post["id"])

        await world.fake.react(feeds, message_id, member, "👍")
        await _settled(world, [(version, member, 1)])
        assert await _card_score(world, model_id) == "👍 1 · 👎 0 · 100% recommend"

        await world.fake.react(feeds, message_id, member, "👍", add=False)
        await _settled(world, [])
        assert await _card_score(world, model_id) == "no votes here yet"

        await world.fake.react(feeds, message_id, member, "👍")
        await world.fake.react(feeds, message_id, member, "👎")
        await _settled(world, [(version, member, -1)])  # switching replaces: one 👎
        # the member's 👍 goes where the bot may remove it (Manage Messages); otherwise the latest counts
        assert await _card_score(world, model_id) == "👍 0 · 👎 1 · 0% recommend"
        # the 👍's removal (by the bot, or late) does not undo the 👎
        await world.fake.react(feeds, message_id, member, "👍", add=False)
        await _settled(world, [(version, member, -1)])


async def test_bots_other_messages_and_repeated_events_change_nothing(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        post, version = await _feed_post(world, "Guarded Lora")
        feeds, member = world.channel("feeds"), world.member("member")
        message_id = int(post["id"])

        other_bot = world.fake.add_user("another-bot", bot=True)
        world.guild.members[other_bot.id] = FakeMember(user=other_bot)
        await world.fake.react(feeds, message_id, other_bot.id, "👍")
        chatter = await world.fake.user_message(feeds, member, "not a model post")
        await world.fake.react(feeds, int(chatter["id"]), world.member("moderator"), "👍")
        await world.fake.react(feeds, message_id, member, "🎉")  # not a thumb
        await _settled(world, [])

        # the same gateway event twice (a resumed session replays it): counted once
        event = {"user_id": str(member), "channel_id": str(feeds), "message_id": str(message_id),
                 "guild_id": str(world.guild.id), "emoji": {"id": None, "name": "👍"}, "burst": False, "type": 0,
                 "message_author_id": str(world.fake.bot_user.id), "burst_colors": [],
                 "member": world.guild.member("member").to_payload()}
        await world.fake.dispatch("MESSAGE_REACTION_ADD", event)
        await world.fake.dispatch("MESSAGE_REACTION_ADD", event)
        await _settled(world, [(version, member, 1)])


async def test_a_thumb_on_a_model_card_counts_and_votes_survive_a_restart(tmp_path: Path) -> None:
    async with bot_world(tmp_path, start=False) as world:
        model = world.hub.publish_model(type="Checkpoint", name="Card Counted", image_levels=[1])
        general, member = world.channel("general"), world.member("member")
        async with world.running():
            rec = await world.slash("model", options={"model": str(model["id"])})
            await rec.wait_response()
            card = await rec.wait_original(lambda m: bool(m.get("embeds")))
            version = int(card["embeds"][0]["url"].rsplit("modelVersionId=", 1)[1])  # the version it shows
            # the bot records the card, then adds 👍/👎 under it as a prompt
            await world.fake.wait_until(lambda: len(world.fake.reactions(int(card["id"]))) == 2)
            await world.fake.react(general, int(card["id"]), member, "👍")
            await _settled(world, [(version, member, 1)])
        async with world.running():  # a restart: the card is still a model post, the vote still counts
            await world.fake.react(general, int(card["id"]), world.member("moderator"), "👎")
            await _settled(world, [(version, member, 1), (version, world.member("moderator"), -1)])
            assert await _card_score(world, model["id"]) == "👍 1 · 👎 1 · 50% recommend"


async def test_with_reaction_votes_off_thumbs_are_neither_added_nor_counted(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        rec = await world.slash("settings set", user="manager", options={"key": "reaction_votes", "value": "off"})
        await rec.wait_response()
        post, _ = await _feed_post(world, "Quiet Lora")
        assert world.fake.reactions(int(post["id"])) == {}  # no prompts under the post
        await world.fake.react(world.channel("feeds"), int(post["id"]), world.member("member"), "👍")
        await _settled(world, [])


async def test_switching_thumbs_removes_the_other_where_the_bot_may_manage_messages(tmp_path: Path) -> None:
    from tests.fakes.discord_server import P

    async with bot_world(tmp_path) as world:
        post, version = await _feed_post(world, "Switched Lora")
        feeds, member, message_id = world.channel("feeds"), world.member("member"), int(post["id"])
        assert world.guild.bot_role_id is not None
        role = world.guild.roles[world.guild.bot_role_id]
        await world.fake.set_role_permissions(world.guild.id, role.id, int(role.permissions) | P.MANAGE_MESSAGES)
        await world.fake.react(feeds, message_id, member, "👍")
        await _settled(world, [(version, member, 1)])
        await world.fake.react(feeds, message_id, member, "👎")
        await world.fake.wait_until(lambda: member not in world.fake.reactions(message_id).get("👍", []))
        await _settled(world, [(version, member, -1)])  # the bot's removal of the 👍 did not undo the 👎
