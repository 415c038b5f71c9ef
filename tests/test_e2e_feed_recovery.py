"""Crash recovery of feed posts never posts twice and never takes another post for its own (issue 8,
defect 3).

After a crash between "attempted" and "sent", the bot looks for its post in the channel before it
sends again. "Could not look" used to count as "not there": an HTTP error while reading the history,
or a channel without Read Message History (for which Discord answers an empty list), led to a second
post once the nonce window had passed. And matching was by substring: ``modelVersionId=12`` matched
``...=123`` and ``Feed #1`` matched ``Feed #12``, so another post could be taken for this one and the
real post was never sent.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.fakes.discord_server import P, overwrite
from tests.support import BotWorld, bot_world


def _posts(world: BotWorld, channel: str = "feeds") -> list[dict]:
    return [m for m in world.fake.messages.get(world.channel(channel), []) if not m.get("_deleted")]


def _rows(world: BotWorld) -> list[tuple]:
    return sqlite3.connect(world.db_path).execute(
        "SELECT model_version_id, state, message_id, attempts FROM deliveries ORDER BY id").fetchall()


def _forget_that_it_was_sent(world: BotWorld) -> None:
    """What a kill -9 between Discord's answer and the commit of 'sent' leaves: an attempted post."""
    conn = sqlite3.connect(world.db_path)
    conn.execute("UPDATE deliveries SET state = 'planned', message_id = NULL, sent_at = NULL")
    conn.commit()
    conn.close()


async def _tick(world: BotWorld) -> None:
    assert world.bot is not None
    await world.bot.get_cog("Feeds").tick()


async def _feed_with_one_post(world: BotWorld) -> dict:
    rec = await world.slash("feed add", user="manager", options={"channel": world.channel("feeds"), "types": "LORA"})
    await rec.wait_response()
    await asyncio.sleep(0.01)
    model = world.hub.publish_model(type="LORA", name="Recovered Once", image_levels=[1])
    await _tick(world)
    assert len(_posts(world)) == 1
    return model


async def test_a_failed_history_read_defers_the_post_instead_of_sending_it_again(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        await _feed_with_one_post(world)
        _forget_that_it_was_sent(world)
        world.fake.advance_clock(3600)  # the next poll comes long after Discord's nonce window
        feeds = world.channel("feeds")
        # 503 is not retried by discord.py: the read fails at once
        world.fake.fail_next("GET", rf"^/channels/{feeds}/messages$", 503)
        await _tick(world)
        assert len(_posts(world)) == 1  # could not look: not sent again
        assert _rows(world)[0][1] == "planned"
        state = sqlite3.connect(world.db_path).execute("SELECT state, failures FROM subscriptions").fetchone()
        assert state == ("active", 0)  # Discord's hiccup is not the feed's fault

        await _tick(world)  # the read works now: the post is found, recorded, not sent again
        posts = _posts(world)
        assert len(posts) == 1
        assert _rows(world)[0][1:3] == ("sent", int(posts[0]["id"]))


async def test_no_read_message_history_marks_the_feed_failing_instead_of_posting_twice(tmp_path: Path) -> None:
    async with bot_world(tmp_path, feeds={"max_failures": 3}) as world:
        await _feed_with_one_post(world)
        _forget_that_it_was_sent(world)
        world.fake.advance_clock(3600)
        feeds = world.channel("feeds")
        await world.fake.set_channel_overwrites(
            feeds, [overwrite(world.guild.bot_role_id, deny=P.READ_MESSAGE_HISTORY)])
        await _tick(world)
        assert len(_posts(world)) == 1  # Discord would have answered an empty history: never trusted
        state, error = sqlite3.connect(world.db_path).execute(
            "SELECT state, last_error FROM subscriptions").fetchone()
        assert state == "failing" and "Read Message History" in error

        await world.fake.set_channel_overwrites(feeds, [])
        conn = sqlite3.connect(world.db_path)
        conn.execute("UPDATE subscriptions SET retry_at = 0")  # the back-off has passed
        conn.commit()
        conn.close()
        await _tick(world)
        assert len(_posts(world)) == 1 and _rows(world)[0][1] == "sent"


async def test_another_feeds_post_of_a_longer_version_id_is_not_taken_for_this_one(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        rec = await world.slash("feed add", user="manager",
                                options={"channel": world.channel("feeds"), "types": "LORA"})
        await rec.wait_response()
        await asyncio.sleep(0.01)
        model = world.hub.publish_model(type="LORA", name="Really Posted", image_levels=[1])
        version = model["modelVersions"][0]["id"]
        feeds = world.channel("feeds")
        world.fake.fail_next("POST", rf"^/channels/{feeds}/messages$", 503)  # attempted, not created
        await _tick(world)
        assert _posts(world) == [] and _rows(world)[0][1] == "planned" and _rows(world)[0][3] == 1
        # a post of the bot's that merely *contains* this one's markers: feed #12, version <id>3
        world.fake.add_message(feeds, embeds=[{
            "title": "Some other model", "url": f"https://civitai.com/models/1?modelVersionId={version}3",
            "footer": {"text": "Feed #12 · Model 1 · version 3"}}])
        await _tick(world)
        posts = _posts(world)
        assert len(posts) == 2 and posts[-1]["embeds"][0]["title"] == "Really Posted"
        assert _rows(world)[0][1:3] == ("sent", int(posts[-1]["id"]))
