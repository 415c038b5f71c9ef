"""New-release feeds through the real bot, the loopback Discord and the loopback hub."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from pathlib import Path

from tests.support import BotWorld, bot_world


def _posts(world: BotWorld, channel: str) -> list[dict]:
    return [m for m in world.fake.messages.get(world.channel(channel), []) if not m.get("_deleted")]


def _version_of(message: dict) -> int:
    url = message["embeds"][0]["url"]
    return int(url.rsplit("modelVersionId=", 1)[1])


def _publish(world: BotWorld, **kw: object) -> dict:
    """A model published now, with safe-for-work images (rating filters are tested on their own)."""
    kw.setdefault("image_levels", [1, 2])
    return world.hub.publish_model(**kw)


async def _tick(world: BotWorld) -> None:
    assert world.bot is not None
    await world.bot.get_cog("Feeds").tick()  # the scheduler's job, run now


async def _add(world: BotWorld, channel: str = "feeds", user: str = "manager", **options: str) -> dict:
    rec = await world.slash("feed add", user=user, options={"channel": world.channel(channel), **options})
    data = (await rec.wait_response())["data"]
    await asyncio.sleep(0.01)  # what is published from now on is new
    return data


async def test_new_models_post_once_oldest_first_and_filters_hold(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        data = await _add(world, types="LORA")
        assert "Feed **#1** added" in data["content"]
        first = _publish(world, type="LORA", name="First Lora")
        _publish(world, type="Checkpoint", name="Some Checkpoint")
        await asyncio.sleep(0.01)
        second = _publish(world, type="LORA", name="Second Lora")

        await _tick(world)
        posts = _posts(world, "feeds")
        assert [p["embeds"][0]["title"] for p in posts] == ["First Lora", "Second Lora"]  # oldest first
        assert [_version_of(p) for p in posts] == [first["modelVersions"][0]["id"], second["modelVersions"][0]["id"]]
        assert all(p["embeds"][0]["footer"]["text"].startswith("Feed #1") for p in posts)
        assert all("New model" in p["embeds"][0]["description"] for p in posts)
        assert all({"👍", "👎"} <= set(world.fake.reactions(int(p["id"]))) for p in posts)

        await _tick(world)
        assert len(_posts(world, "feeds")) == 2  # nothing twice

        world.hub.publish_version(first["id"], name="v2", image_levels=[1])
        await _tick(world)
        posts = _posts(world, "feeds")
        assert len(posts) == 3 and "New version" in posts[-1]["embeds"][0]["description"]
        assert posts[-1]["embeds"][0]["title"] == "First Lora"

    rows = sqlite3.connect(world.db_path).execute(
        "SELECT model_version_id, message_id, state FROM deliveries ORDER BY id").fetchall()
    assert [r[2] for r in rows] == ["sent"] * 3
    assert [r[1] for r in rows] == [int(p["id"]) for p in posts]  # message id -> model version, recorded


async def test_members_without_permission_cannot_add_feeds(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        data = await _add(world, user="member", types="LORA")
        assert "Only server managers" in data["content"]
        data = await _add(world, channel="announcements", types="LORA")
        assert "missing Send Messages" in data["content"]
        data = await _add(world, types="LORA, Banana, Pizza")
        assert "Unknown model types: Banana, Pizza" in data["content"]
        data = await _add(world, base_models="SDXL 1.0, Potato XL")
        assert "Unknown base model: Potato XL" in data["content"]
        data = await _add(world, channel="general", max_rating="XXX")
        assert "not age-restricted" in data["content"]
    count = sqlite3.connect(world.db_path).execute("SELECT count(*) FROM subscriptions").fetchone()[0]
    assert count == 0


async def test_equal_filters_in_three_channels_cost_one_hub_request(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        for channel in ("feeds", "general", "nsfw"):
            await _add(world, channel=channel, types="LORA, Checkpoint")
        _publish(world, type="LORA", name="Shared News")
        before = len(world.hub.requests_to("/api/v1/models"))
        await _tick(world)
        requests = world.hub.requests_to("/api/v1/models")[before:]
        assert len(requests) == 1
        assert sorted(requests[0].params("types")) == ["Checkpoint", "LORA"] and requests[0].param("sort") == "Newest"
        for channel in ("feeds", "general", "nsfw"):
            assert [p["embeds"][0]["title"] for p in _posts(world, channel)] == ["Shared News"]


async def test_more_than_max_posts_are_summarised(tmp_path: Path) -> None:
    async with bot_world(tmp_path, feeds={"max_posts_per_poll": 2}) as world:
        await _add(world, types="LORA")
        names = [f"Lora {i}" for i in range(5)]
        for name in names:
            _publish(world, type="LORA", name=name)
            await asyncio.sleep(0.005)
        await _tick(world)
        posts = _posts(world, "feeds")
        assert [p["embeds"][0]["title"] for p in posts[:2]] == names[:2]
        summary = posts[2]["embeds"][0]
        assert summary["title"] == "3 more new releases"
        assert all(name in summary["description"] for name in names[2:])
        assert len(posts) == 3
        await _tick(world)
        assert len(_posts(world, "feeds")) == 3


async def test_hub_outage_delays_posts_but_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        await _add(world, types="LORA")
        world.hub.down = True
        world.hub.down_retry_after = "0"
        published = []
        for round_ in range(3):
            published.append(_publish(world, type="LORA", name=f"During outage {round_}"))
            before = len(world.hub.requests_to("/api/v1/models"))
            await _tick(world)
            assert _posts(world, "feeds") == []
            # the 503 closes the hub client's gate: a few retries with growing waits, then the poll
            # stops (the client makes at most 4 attempts), never a storm
            assert len(world.hub.requests_to("/api/v1/models")) - before <= 4
        world.hub.down = False
        assert world.bot is not None  # the next poll comes once the hub's pause has passed, as polls would
        await asyncio.sleep(world.bot.services.hub.paused_for("/models")[0])
        await _tick(world)
        titles = [p["embeds"][0]["title"] for p in _posts(world, "feeds")]
        assert titles == [m["name"] for m in published]
        await _tick(world)
        assert len(_posts(world, "feeds")) == 3


async def test_a_deleted_channel_fails_then_disables_and_tells_the_log_channel(tmp_path: Path) -> None:
    async with bot_world(tmp_path, feeds={"max_failures": 2, "poll_interval_seconds": 1}) as world:
        rec = await world.slash("settings set", user="manager", options={"key": "log_channel", "value": "log"})
        await rec.wait_response()
        await _add(world, types="LORA")
        await world.fake.delete_channel(world.channel("feeds"))
        _publish(world, type="LORA", name="Nobody Sees This")
        await _tick(world)
        row = sqlite3.connect(world.db_path).execute("SELECT state, failures, last_error FROM subscriptions").fetchone()
        assert row[0] == "failing" and row[1] == 1 and "no longer exists" in row[2]
        await asyncio.sleep(1.1)  # the back-off (one poll interval) passes
        await _tick(world)
        row = sqlite3.connect(world.db_path).execute("SELECT state, failures FROM subscriptions").fetchone()
        assert row == ("disabled", 2)
        notice = _posts(world, "log")[-1]["content"]
        assert "Feed #1" in notice and "disabled" in notice and "no longer exists" in notice
        assert "/feed resume 1" in notice

        rec = await world.slash("feed list", user="manager")
        description = (await rec.wait_response())["data"]["embeds"][0]["description"]
        assert "disabled" in description and "no longer exists" in description
    pending = sqlite3.connect(world.db_path).execute("SELECT state FROM deliveries").fetchall()
    assert pending == [("planned",)]  # kept: nothing is lost if the feed is fixed and resumed


async def test_missing_permission_is_reported_in_words(tmp_path: Path) -> None:
    async with bot_world(tmp_path, feeds={"max_failures": 1}) as world:
        await _add(world, types="LORA")
        from tests.fakes.discord_server import P, overwrite

        await world.fake.set_channel_overwrites(
            world.channel("feeds"), [overwrite(world.guild.bot_role_id, deny=P.SEND_MESSAGES)])
        _publish(world, type="LORA", name="Blocked Post")
        await _tick(world)
        row = sqlite3.connect(world.db_path).execute("SELECT state, last_error FROM subscriptions").fetchone()
        assert row[0] == "disabled" and "missing Send Messages" in row[1]
        # no log channel configured: the member who added the feed gets a direct message
        dm = world.fake.dm_channel(world.member("manager"))
        assert any("disabled" in m.get("content", "") for m in world.fake.messages.get(dm.id, []))


async def test_pause_resume_remove_and_preview(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        await _add(world, types="Checkpoint")
        rec = await world.slash("feed pause", user="manager", options={"id": 1})
        assert "paused" in (await rec.wait_response())["data"]["content"]
        _publish(world, type="Checkpoint", name="Paused Meanwhile")
        await _tick(world)
        assert _posts(world, "feeds") == []
        rec = await world.slash("feed resume", user="manager", options={"id": 1})
        await rec.wait_response()
        _publish(world, type="Checkpoint", name="After Resume")
        await _tick(world)
        assert [p["embeds"][0]["title"] for p in _posts(world, "feeds")] == ["Paused Meanwhile", "After Resume"]

        choices = await world.autocomplete("feed preview", focused="id", value="", user="manager")
        assert [c["value"] for c in choices] == [1]
        rec = await world.slash("feed preview", user="manager", options={"id": 1})
        await rec.wait_response()
        await rec.wait_for(lambda r: bool(r.followups) or r.response_type == 4)
        message = rec.followups[-1] if rec.followups else rec.data
        assert message["embeds"][0]["title"] == "After Resume" and "Preview of feed #1" in \
            message["embeds"][0]["footer"]["text"]

        rec = await world.slash("feed remove", user="manager", options={"id": 1})
        assert "removed" in (await rec.wait_response())["data"]["content"]
        rec = await world.slash("feed remove", user="manager", options={"id": 1})
        assert "no feed #1" in (await rec.wait_response())["data"]["content"]


async def test_list_autocomplete_and_status_show_feeds(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        choices = await world.autocomplete("feed add", focused="types", value="LORA, Lo", user="manager",
                                           options={"channel": world.channel("feeds")})
        assert [c["value"] for c in choices][:2] == ["LORA, LoCon", "LORA, Workflows"]  # prefixes first
        await _add(world, types="LORA", tags="anime, style")
        _publish(world, type="LORA", name="Tagged", tags=["style"])
        await _tick(world)
        rec = await world.slash("feed list", user="manager")
        description = (await rec.wait_response())["data"]["embeds"][0]["description"]
        assert "#1" in description and "active" in description and "tags anime, style" in description
        assert "last post" in description
        rec = await world.slash("status")
        fields = {f["name"]: f["value"] for f in (await rec.wait_response())["data"]["embeds"][0]["fields"]}
        assert "1 active" in fields["Feeds"] and "0 posts waiting" in fields["Feeds"]


async def test_a_republished_version_does_not_post_twice(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    async with bot_world(tmp_path) as world:
        await _add(world, types="LORA")
        model = _publish(world, type="LORA", name="Flip Flop", n_versions=1)
        await _tick(world)
        assert len(_posts(world, "feeds")) == 1
        version = model["modelVersions"][0]
        world.hub.unpublish_version(version["id"])
        await _tick(world)
        # republished later, with a new date: the same version id
        version["publishedAt"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        model["modelVersions"].insert(0, version)
        world.hub.add_model(model)
        await _tick(world)
        assert len(_posts(world, "feeds")) == 1


async def test_feed_posts_follow_the_channel_rating(tmp_path: Path) -> None:
    import re

    async with bot_world(tmp_path) as world:
        await _add(world, channel="general", types="LORA")
        await _add(world, channel="nsfw", types="LORA")
        mixed = _publish(world, type="LORA", name="Mixed Levels", image_levels=[1, 4])
        mature = _publish(world, type="LORA", name="Mature Only", image_levels=[8, 16])
        await _tick(world)

        assert [p["embeds"][0]["title"] for p in _posts(world, "general")] == ["Mixed Levels"]
        assert [p["embeds"][0]["title"] for p in _posts(world, "nsfw")] == ["Mixed Levels", "Mature Only"]

        def image_requests(model: dict, level: int) -> list:
            uuids = {re.search(r"/([0-9a-f-]{36})/", i["url"]).group(1)
                     for v in model["modelVersions"] for i in v["images"] if i["nsfwLevel"] == level}
            return [r for r in world.hub.requests if any(u in r.path for u in uuids)]

        general_post = _posts(world, "general")[0]
        assert "hidden by this channel's rating" in general_post["embeds"][0]["footer"]["text"]
        nsfw_post = _posts(world, "nsfw")[0]
        assert "hidden" not in nsfw_post["embeds"][0]["footer"]["text"]
        # Feed #1 (general) posts before feed #2 (nsfw): every R picture was fetched after the ordinary
        # channel's post was sent, i.e. for the age-restricted channel only.
        sent_general = world.fake.find_requests("POST", rf"^/channels/{world.channel('general')}/messages$")[0].time
        assert image_requests(mixed, 1)
        assert image_requests(mixed, 4) and all(r.time > sent_general for r in image_requests(mixed, 4))
        assert image_requests(mature, 16) and all(r.time > sent_general for r in image_requests(mature, 16))


def _delivered(world: BotWorld) -> list[tuple]:
    return sqlite3.connect(world.db_path).execute(
        "SELECT subscription_id, model_version_id, state, message_id, batch FROM deliveries ORDER BY id").fetchall()


async def test_a_backlog_longer_than_one_read_is_caught_up_over_polls(tmp_path: Path) -> None:
    from datetime import timedelta

    async with bot_world(tmp_path, feeds={"max_posts_per_poll": 5}) as world:
        assert world.bot is not None
        service = world.bot.services.feeds
        # a poll reads at most 8 models of a query; the overlap is shortened to match the test's pace
        service.page_size, service.max_pages, service.overlap = 4, 2, timedelta(seconds=0.2)
        await _add(world, types="LORA")
        await _tick(world)  # the query's first read: its position is recorded
        published = []
        for burst in range(5):  # 19 releases while the bot was not polling, in bursts
            count = 4 if burst < 4 else 3
            published += [_publish(world, type="LORA", name=f"Backlog {burst}.{i}") for i in range(count)]
            await asyncio.sleep(0.25)
        for _ in range(6):
            await _tick(world)
        rows = _delivered(world)
        versions = [r[1] for r in rows]
        assert sorted(versions) == sorted(m["modelVersions"][0]["id"] for m in published)  # all, once
        assert all(r[2] == "sent" for r in rows)
        posts = _posts(world, "feeds")
        singles = [p for p in posts if "more new release" not in p["embeds"][0]["title"]]
        summaries = [p for p in posts if "more new release" in p["embeds"][0]["title"]]
        shown = [_version_of(p) for p in singles]
        for p in summaries:
            shown += [int(v) for v in re.findall(r"modelVersionId=(\d+)\)", p["embeds"][0]["description"])]
        assert sorted(shown) == sorted(versions)  # every version in exactly one message
        state = sqlite3.connect(world.db_path).execute("SELECT resume_cursor FROM feed_queries").fetchone()
        assert state == (None,)  # caught up


async def test_a_paused_feed_sharing_a_query_gets_what_it_missed_on_resume(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        await _add(world, channel="feeds", types="LORA")
        await _add(world, channel="general", types="LORA")
        rec = await world.slash("feed pause", user="manager", options={"id": 1})
        await rec.wait_response()
        missed = _publish(world, type="LORA", name="While Paused")
        await _tick(world)
        assert [p["embeds"][0]["title"] for p in _posts(world, "general")] == ["While Paused"]
        assert _posts(world, "feeds") == []
        for _ in range(3):  # the shared query moves on meanwhile
            _publish(world, type="Checkpoint", name="Unrelated")
            await _tick(world)
        rec = await world.slash("feed resume", user="manager", options={"id": 1})
        await rec.wait_response()
        await _tick(world)
        assert [_version_of(p) for p in _posts(world, "feeds")] == [missed["modelVersions"][0]["id"]]


async def test_reactions_are_given_up_when_the_channel_forbids_them(tmp_path: Path) -> None:
    from tests.fakes.discord_server import P, overwrite

    async with bot_world(tmp_path) as world:
        await _add(world, types="LORA")
        await world.fake.set_channel_overwrites(
            world.channel("feeds"), [overwrite(world.guild.bot_role_id, deny=P.ADD_REACTIONS)])
        _publish(world, type="LORA", name="No Reactions Here")
        await _tick(world)
        assert len(_posts(world, "feeds")) == 1
        attempts = len(world.fake.find_requests("PUT", r"/reactions/"))
        for _ in range(3):
            await _tick(world)
        assert len(world.fake.find_requests("PUT", r"/reactions/")) == attempts  # no endless retries
        reacted = sqlite3.connect(world.db_path).execute("SELECT reacted FROM deliveries").fetchall()
        assert reacted == [(2,)]


async def test_recovery_after_failing_posts_at_most_the_cap_and_one_summary(tmp_path: Path) -> None:
    async with bot_world(tmp_path, feeds={"max_posts_per_poll": 2, "max_failures": 10}) as world:
        from tests.fakes.discord_server import P, overwrite

        await _add(world, types="LORA")
        feeds = world.channel("feeds")
        await world.fake.set_channel_overwrites(feeds, [overwrite(world.guild.bot_role_id, deny=P.SEND_MESSAGES)])
        names = []
        for round_ in range(4):
            for i in range(3):
                names.append(_publish(world, type="LORA", name=f"R{round_}-{i}")["name"])
                await asyncio.sleep(0.002)
            await _tick(world)
            conn = sqlite3.connect(world.db_path)
            conn.execute("UPDATE subscriptions SET retry_at = ?", (time.time() - 1,))  # back-off passes
            conn.commit()
            conn.close()
        assert _posts(world, "feeds") == []
        await world.fake.set_channel_overwrites(feeds, [])
        await _tick(world)
        posts = _posts(world, "feeds")
        assert [p["embeds"][0]["title"] for p in posts[:2]] == names[:2]  # the oldest, one by one
        assert len(posts) == 3 and posts[2]["embeds"][0]["title"] == f"{len(names) - 2} more new releases"
        assert all(n in posts[2]["embeds"][0]["description"] for n in names[2:])
        await _tick(world)
        assert len(_posts(world, "feeds")) == 3


async def test_pausing_mid_delivery_stops_the_queue(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        await _add(world, types="LORA")
        for i in range(4):
            _publish(world, type="LORA", name=f"Queue {i}")
            await asyncio.sleep(0.002)
        feeds = world.channel("feeds")
        world.fake.delay_responses("POST", rf"^/channels/{feeds}/messages$", 0.5)
        tick = asyncio.create_task(_tick(world))
        await world.fake.wait_for_request("POST", rf"^/channels/{feeds}/messages$")
        rec = await world.slash("feed pause", user="manager", options={"id": 1})
        await rec.wait_response()
        await tick
        assert len(_posts(world, "feeds")) == 1  # the one in flight; nothing after the pause
        rows = _delivered(world)
        assert [r[2] for r in rows] == ["sent", "planned", "planned", "planned"]
        state = sqlite3.connect(world.db_path).execute("SELECT state FROM subscriptions").fetchone()
        assert state == ("paused",)


async def test_removing_a_feed_does_not_make_another_repost(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        await _add(world, types="LORA")
        await _add(world, types="LORA, Checkpoint")
        _publish(world, type="LORA", name="Shared Once")
        await _tick(world)
        assert [p["embeds"][0]["title"] for p in _posts(world, "feeds")] == ["Shared Once"]
        poster = _delivered(world)[0][0]  # whichever of the two feeds posted it
        rec = await world.slash("feed remove", user="manager", options={"id": poster})
        await rec.wait_response()
        await _tick(world)
        assert len(_posts(world, "feeds")) == 1
        rows = _delivered(world)
        assert rows[0][0] is None and rows[0][2] == "sent"  # the post stays recorded, its feed gone
