"""Article digests through the real bot, the loopback Discord and the loopback hub (issue 11).

The digests' calendar runs on a clock the tests hold (``HubBot(clock=...)``): a test sets the time,
then runs what the scheduler would run at that time (the start-up catch-up, a digest's job). The
hub's and Discord's own windows (rate limits, nonce expiry) run on their real or virtual clocks as
everywhere else.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.hub_server import FakeHub
from tests.support import TOKEN, BotWorld, bot_world, process_env

REPO = Path(__file__).resolve().parents[1]


class Clock:
    """The wall clock the bot's digests schedule by, held by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now.timestamp()

    def set(self, moment: datetime) -> None:
        self.now = moment


ENTRY = re.compile(r"^\*\*(\d+)\. \[(.+?)\]\((\S+)\)\*\*$", re.M)


def entries(description: str) -> list[tuple[str, str]]:
    """(title, url) of each article a digest lists, in order."""
    return [(m.group(2).replace("\\", ""), m.group(3)) for m in ENTRY.finditer(description)]


def stats(likes: int = 0, hearts: int = 0, comments: int = 0, views: int = 0) -> dict[str, int]:
    """List stats with only the keys the documented blend reads set (the rest zero)."""
    return {"likeCount": likes, "heartCount": hearts, "commentCount": comments, "viewCount": views,
            "laughCount": 0, "cryCount": 0, "collectedCount": 0, "dislikeCount": 0, "favoriteCount": 0,
            "tippedAmountCount": 0}


def cover_uuid(article: dict[str, Any]) -> str:
    return article["coverImage"]["url"]


def cdn_requests(world: BotWorld, uuid: str) -> list[Any]:
    return [r for r in world.hub.requests if uuid in r.path]


async def add_digest(world: BotWorld, channel: str = "feeds", **options: Any) -> dict:
    rec = await world.slash("digest add", user="manager", options={"channel": world.channel(channel), **options})
    return (await rec.wait_response())["data"]


async def reply_of(rec: Any) -> dict:
    """The message a command answered with (at once, or as a follow-up after deferring)."""
    await rec.wait_for(lambda r: r.response_type == 4 or bool(r.followups))
    return rec.original if rec.response_type == 4 else rec.followups[-1]


HTML = ("<h2>Comments Win</h2><script>alert('pwned')</script><style>p { color: red }</style>"
        "<p>Ten   readers &amp; twenty\n\n comments&nbsp;later &#8212; the <b>guide</b> that people "
        "<i>argue</i> about.</p><iframe src=\"https://evil.example/frame\">framed text</iframe>"
        "<p><img src=\"https://evil.example/x.png\" alt=\"image alt text\"></p>"
        + "<p>" + " ".join(f"word{i}" for i in range(80)) + "</p>")


async def test_preview_lists_the_days_top_articles_by_engagement_within_the_channels_rating(
        tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        hub, now = world.hub, datetime.now(UTC)
        # The documented blend (README, "Article digests"): likes + hearts + 2 × comments + views / 100
        first = hub.publish_article(title="Comments Win", nsfw_level=1, published_at=now - timedelta(hours=5),
                                    stats=stats(likes=10, comments=20), tags=[5132, 112], username="quill",
                                    content=HTML)  # 50
        second = hub.publish_article(title="Views Count", nsfw_level=1, published_at=now - timedelta(hours=4),
                                     stats=stats(views=4500))  # 45
        third = hub.publish_article(title="Hearts", nsfw_level=3, published_at=now - timedelta(hours=3),
                                    stats=stats(likes=5, hearts=30))  # 35, PG13: fine in an ordinary channel
        # the hub rates this article PG but its cover R (its signals disagree): listed, cover never shown
        r_cover = hub.publish_article(title="Cover Rated R", nsfw_level=1, cover_level=4,
                                      published_at=now - timedelta(hours=2), stats=stats(likes=20, views=100))  # 21
        hub.publish_article(title="Rated X", nsfw_level=8, published_at=now - timedelta(hours=1),
                            stats=stats(likes=1000))  # above the channel's limit: not listed at all
        hub.publish_article(title="Last Week", nsfw_level=1, published_at=now - timedelta(days=3),
                            stats=stats(likes=500))  # outside the period

        assert "Digest **#1** added" in (await add_digest(world, size=5))["content"]
        rec = await world.slash("digest preview", user="manager", options={"id": 1})
        message = await reply_of(rec)

        embed = message["embeds"][0]
        listed = entries(embed["description"])
        assert [t for t, _ in listed] == ["Comments Win", "Views Count", "Hearts", "Cover Rated R"]
        assert [u for _, u in listed] == [f"{hub.base_url}/articles/{a['id']}"
                                          for a in (first, second, third, r_cover)]
        assert "Rated X" not in embed["description"] and "Last Week" not in embed["description"]

        block = embed["description"].split("\n\n")[0].split("\n")
        assert block[1].startswith("by **quill**") and "guide" in block[1] and "lora" in block[1]
        text = block[2].replace("\\", "")  # markdown escapes aside
        assert text.startswith("Ten readers & twenty comments later — the guide that people argue about.")
        for leftover in ("<", ">", "&amp;", "&#", "alert", "color: red", "framed text", "image alt text", "  "):
            assert leftover not in text, leftover
        assert text.endswith("…") and len(text) <= 200 and re.search(r"word\d+…$", text)  # cut after a word
        assert int(re.search(r"word(\d+)…$", text).group(1)) < 79

        # one cover collage, without the R cover (never even fetched)
        assert [a["filename"] for a in message["attachments"]] in (["digest.jpg"], ["digest.webp"])
        assert embed["image"]["url"].endswith("/" + message["attachments"][0]["filename"])
        assert cdn_requests(world, cover_uuid(first)) and cdn_requests(world, cover_uuid(third))
        assert cdn_requests(world, cover_uuid(r_cover)) == []
        files = rec.callback_files or [f for r in rec.requests for f in r.files]
        assert [f.filename.split(".")[0] for f in files] == ["digest"]
        assert len(embed["description"]) <= 4096 and embed["footer"]["text"].startswith("Digest #1")


def posts(world: BotWorld, channel: str = "feeds") -> list[dict]:
    return [m for m in world.fake.messages.get(world.channel(channel), []) if not m.get("_deleted")]


def runs(world: BotWorld) -> list[tuple]:
    return sqlite3.connect(world.db_path).execute(
        "SELECT period_end, state, message_id, attempts, deferrals FROM digest_runs ORDER BY id").fetchall()


async def caught_up(world: BotWorld) -> Any:
    """The running bot's digests cog, once its start-up catch-up has run."""
    assert world.bot is not None
    cog = world.bot.get_cog("Digests")
    await asyncio.wait_for(cog.caught_up.wait(), timeout=10)
    return cog


async def run_job(world: BotWorld, digest_id: int = 1) -> Any:
    """What the scheduler runs at the digest's time (or for a retry), run now."""
    assert world.bot is not None
    cog = world.bot.get_cog("Digests")
    return await world.bot.services.digests.run_due(digest_id, cog.poster)


async def set_log_channel(world: BotWorld) -> None:
    rec = await world.slash("settings set", user="manager",
                            options={"key": "log_channel", "value": f"<#{world.channel('log')}>"})
    assert "log_channel" in (await rec.wait_response())["data"]["content"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def test_a_digest_due_while_the_bot_was_stopped_is_sent_once_after_restart(tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 14, 12, 0))  # a Wednesday in winter: 09:00 in Berlin is 08:00 UTC
    async with bot_world(tmp_path, start=False) as world:
        async with world.running(clock=clock):
            data = await add_digest(world, hour=9, timezone="Europe/Berlin")
            assert "daily at 09:00 Europe/Berlin" in data["content"]
            await caught_up(world)
            assert await run_job(world) is not None and posts(world) == []  # its first period is not over

        # The bot is stopped. Articles appear, and the digest's time (15 Jan, 09:00 in Berlin) passes.
        hub = world.hub
        for title, when, likes in (("Inside 0", utc(2026, 1, 14, 9, 30), 3),
                                   ("Inside 1", utc(2026, 1, 15, 7, 59), 7),
                                   ("Too Early", utc(2026, 1, 14, 7, 59), 90),  # the period is [08:00, 08:00)
                                   ("Too Late", utc(2026, 1, 15, 8, 1), 90)):
            hub.publish_article(title=title, nsfw_level=1, published_at=when, stats=stats(likes=likes))
        clock.set(utc(2026, 1, 15, 10, 30))

        async with world.running(clock=clock) as bot:
            await caught_up(world)
            sent = posts(world)
            assert len(sent) == 1
            embed = sent[0]["embeds"][0]
            assert [t for t, _ in entries(embed["description"])] == ["Inside 1", "Inside 0"]
            assert datetime.fromisoformat(embed["timestamp"]) == utc(2026, 1, 15, 8, 0)  # the period it closes
            assert "14 Jan 09:00 – 15 Jan 2026 09:00 (Europe/Berlin)" in embed["footer"]["text"]
            assert sent[0]["mention_everyone"] is False and sent[0]["mentions"] == []
            # the schedule was rebuilt from SQLite: the next time is tomorrow, 09:00 in Berlin
            job = bot.services.scheduler.get_job("digest-1")
            assert job.trigger.get_next_fire_time(None, clock.now) == utc(2026, 1, 16, 8, 0)
            await run_job(world)  # the job at its time, or any retry: nothing more
            assert len(posts(world)) == 1

        # A moderator deletes the digest; once more, the record (not the channel) says it went out.
        world.fake.delete_message(int(sent[0]["id"]))
        clock.set(utc(2026, 1, 15, 11, 0))
        async with world.running(clock=clock):
            await caught_up(world)
            await run_job(world)
            assert posts(world) == []
    assert runs(world) == [("2026-01-15T08:00:00.000000Z", "sent", int(sent[0]["id"]), 1, 0)]


def _forget_that_it_was_sent(world: BotWorld) -> None:
    """What a kill -9 between Discord's answer and the commit of 'sent' leaves: an attempted period."""
    conn = sqlite3.connect(world.db_path)
    conn.execute("UPDATE digest_runs SET state = 'planned', message_id = NULL, settled_at = NULL")
    conn.commit()
    conn.close()


async def test_a_crash_between_send_and_record_does_not_send_the_digest_again(tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 14, 12, 0))
    async with bot_world(tmp_path, start=False) as world:
        async with world.running(clock=clock):
            await add_digest(world, hour=8, timezone="UTC")
            world.hub.publish_article(title="Only One", nsfw_level=1, published_at=utc(2026, 1, 15, 1, 0))
            clock.set(utc(2026, 1, 15, 8, 0, 5))
            await run_job(world)
            assert len(posts(world)) == 1
        _forget_that_it_was_sent(world)
        feeds = world.channel("feeds")
        for i in range(300):  # a busy channel: the digest is far from the newest messages
            world.fake.add_message(feeds, f"chatter {i}", author_id=world.member("member"))
        world.fake.advance_clock(600)  # and Discord's nonce window has passed
        before = len(world.fake.find_requests("POST", rf"^/channels/{feeds}/messages$"))
        clock.set(utc(2026, 1, 15, 9, 0))
        async with world.running(clock=clock):
            await caught_up(world)
            assert len(world.fake.find_requests("POST", rf"^/channels/{feeds}/messages$")) == before  # found, not sent
        digests = [m for m in posts(world) if m.get("embeds")]
        assert len(digests) == 1
    assert runs(world) == [("2026-01-15T08:00:00.000000Z", "sent", int(digests[0]["id"]), 1, 0)]


async def test_a_429_on_articles_defers_the_digest_and_it_arrives_once_the_window_passes(tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 14, 12, 0))
    window = 5.0  # seconds: longer than the hub client waits inline (3 s), so the digest itself must wait
    async with bot_world(tmp_path, start=False,
                         hub_kwargs={"articles_rate_limit": 5, "articles_rate_window": window}) as world:
        async with world.running(clock=clock) as bot:
            await caught_up(world)
            await add_digest(world, hour=8, timezone="UTC")
            world.hub.publish_article(title="Patience", nsfw_level=1, published_at=utc(2026, 1, 15, 1, 0))
            clock.set(utc(2026, 1, 15, 8, 0, 1))  # its time
            async with httpx.AsyncClient() as client:  # someone else on this IP spends the articles budget
                for _ in range(5):
                    await client.get(f"{world.hub.base_url}/api/v1/articles", params={"limit": 1})
            started = asyncio.get_running_loop().time()
            outcome = await run_job(world)
            assert outcome.state == "deferred" and 1 <= outcome.retry_in <= window + 2
            limited = [r for r in world.hub.requests_to("/api/v1/articles") if r.status == 429]
            assert len(limited) == 1  # asked once, told to wait: no hammering
            assert posts(world) == [] and runs(world)[0][1:] == ("planned", None, 0, 1)
            assert bot.services.scheduler.get_job("digest-1-retry") is not None

            # the window passes; the retry the digest scheduled sends it (the real scheduler, no help)
            await world.fake.wait_until(lambda: len(posts(world)) == 1, timeout=15)
            assert asyncio.get_running_loop().time() - started >= 1.0
            assert [t for t, _ in entries(posts(world)[0]["embeds"][0]["description"])] == ["Patience"]
            await run_job(world)
            assert len(posts(world)) == 1
    assert runs(world)[0][1] == "sent"


async def test_an_outage_longer_than_the_period_is_reported_and_never_sends_the_old_digest(tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 14, 12, 0))
    async with bot_world(tmp_path, start=False) as world:
        async with world.running(clock=clock):
            await caught_up(world)
            await set_log_channel(world)
            await add_digest(world, hour=8, timezone="UTC")
            world.hub.publish_article(title="Day One", nsfw_level=1, published_at=utc(2026, 1, 15, 1, 0))
            world.hub.fail(503, times=1000, retry_after="3600", path="/api/v1/articles")  # down for an hour+
            clock.set(utc(2026, 1, 15, 8, 0, 1))
            assert (await run_job(world)).state == "deferred"
            clock.set(utc(2026, 1, 16, 8, 0, 1))  # the next time comes, the hub still down
            assert (await run_job(world)).state == "deferred"
            assert posts(world) == []
            report = posts(world, "log")[-1]["content"]
            assert "Digest #1" in report and "not sent before its period ended" in report and "503" in report
            listing = await world.slash("digest list", user="manager")
            text = (await listing.wait_response())["data"]["embeds"][0]["description"]
            assert "waiting to be sent (GET /articles: not sent, the hub asked to wait" in text

        world.hub.clear_faults()
        world.hub.publish_article(title="Day Two", nsfw_level=1, published_at=utc(2026, 1, 15, 20, 0))
        clock.set(utc(2026, 1, 16, 9, 0))
        async with world.running(clock=clock):
            await caught_up(world)
            sent = posts(world)
            assert len(sent) == 1  # the day that could still go; the missed one never
            assert [t for t, _ in entries(sent[0]["embeds"][0]["description"])] == ["Day Two"]
    assert [r[:2] for r in runs(world)] == [("2026-01-15T08:00:00.000000Z", "missed"),
                                            ("2026-01-16T08:00:00.000000Z", "sent")]


async def test_a_period_without_articles_sends_nothing_and_the_list_says_so(tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 14, 12, 0))
    async with bot_world(tmp_path, start=False) as world, world.running(clock=clock):
        await caught_up(world)
        await add_digest(world, schedule="weekly", day=3, hour=18, timezone="UTC", tags="guide")
        # one article in the week, but without the digest's tag; one with it, but after the week
        world.hub.publish_article(title="Untagged", nsfw_level=1, tags=[5133], published_at=utc(2026, 1, 14, 20, 0))
        world.hub.publish_article(title="Next Week", nsfw_level=1, tags=[5132], published_at=utc(2026, 1, 15, 19, 0))
        clock.set(utc(2026, 1, 15, 18, 0, 1))  # Thursday 18:00
        assert (await run_job(world)).state == "empty"
        assert posts(world) == []
        rec = await world.slash("digest list", user="manager")
        text = (await rec.wait_response())["data"]["embeds"][0]["description"]
        assert "weekly on Thursday at 18:00 UTC" in text and "tagged guide" in text
        assert "no articles in that period: nothing was sent" in text
    assert [r[1] for r in runs(world)] == ["empty"]


async def test_a_channel_that_refuses_makes_the_digest_fail_then_disables_it_and_tells_the_log(
        tmp_path: Path) -> None:
    clock = Clock(utc(2026, 1, 14, 12, 0))
    async with bot_world(tmp_path, start=False, feeds={"max_failures": 2}) as world, world.running(clock=clock):
        await caught_up(world)
        await set_log_channel(world)
        await add_digest(world, hour=8, timezone="UTC")
        world.hub.publish_article(title="Nobody Reads", nsfw_level=1, published_at=utc(2026, 1, 15, 1, 0))
        await world.fake.delete_channel(world.channel("feeds"))
        clock.set(utc(2026, 1, 15, 8, 0, 1))
        outcome = await run_job(world)
        assert outcome.state == "failing" and outcome.retry_in == 300  # backoff, as feeds
        state = sqlite3.connect(world.db_path).execute("SELECT state, failures, last_error FROM digests").fetchone()
        assert state[:2] == ("failing", 1) and "no longer exists" in state[2]
        assert (await run_job(world)).state == "failing"  # within its backoff: not tried again
        clock.set(utc(2026, 1, 15, 8, 6))
        assert (await run_job(world)).state == "disabled"
        report = posts(world, "log")[-1]["content"]
        assert "Digest #1" in report and "**disabled**" in report and "no longer exists" in report
        clock.set(utc(2026, 1, 16, 8, 0, 1))
        assert (await run_job(world)).state == "disabled"  # stays so; its old period is settled quietly
        assert len(posts(world, "log")) == 1
    assert [r[1] for r in runs(world)] == ["missed"]


async def test_managers_add_digests_with_a_validated_time_zone_and_the_job_follows_it(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        rec = await world.slash("digest add", user="member", options={"channel": world.channel("feeds")})
        assert "Only server managers" in (await rec.wait_response())["data"]["content"]
        for options, answer in (({"timezone": "Mars/Olympus"}, "is not a time zone"),
                                ({"schedule": "daily", "day": 2}, "A daily digest has no day"),
                                ({"tags": "a, b, c, d, e, f"}, "At most 5 tags")):
            assert answer in (await add_digest(world, **options))["content"]
        rec = await world.slash("digest add", user="manager",
                                options={"channel": world.channel("announcements")})  # the bot may not post there
        assert "missing Send Messages" in (await rec.wait_response())["data"]["content"]
        for size in (2, 11):  # 3-10: Discord itself refuses other numbers
            try:
                await world.slash("digest add", user="manager", options={"channel": world.channel("feeds"),
                                                                         "size": size})
            except ValueError:
                pass
            else:
                raise AssertionError(f"size {size} was offered")

        choices = await world.autocomplete("digest add", user="manager", focused="timezone", value="berl",
                                           options={"channel": world.channel("feeds")})
        assert [c["value"] for c in choices] == ["Europe/Berlin"]

        data = await add_digest(world, day=4, hour=18, timezone="america/new_york", size=3)  # a day: weekly
        assert "Digest **#1** added: weekly on Friday at 18:00 America/New_York, top 3" in \
            data["content"].replace("\\", "")  # (markdown escapes aside)
        assert world.bot is not None
        job = world.bot.services.scheduler.get_job("digest-1")
        # Fridays at 18:00 in New York: 23:00 UTC in winter, 22:00 UTC in summer
        assert job.trigger.get_next_fire_time(None, utc(2026, 1, 1)) == utc(2026, 1, 2, 23, 0)
        assert job.trigger.get_next_fire_time(None, utc(2026, 7, 1)) == utc(2026, 7, 3, 22, 0)
        data = await add_digest(world, hour=9, timezone="Europe/Berlin")
        job = world.bot.services.scheduler.get_job("digest-2")
        assert job.trigger.get_next_fire_time(None, utc(2025, 3, 29, 9)) == utc(2025, 3, 30, 7, 0)

        listing = await world.slash("digest list", user="manager")
        text = (await listing.wait_response())["data"]["embeds"][0]["description"]
        assert "**#1**" in text and "**#2**" in text and "daily at 09:00 Europe/Berlin" in text.replace("\\", "")
        rec = await world.slash("digest remove", user="manager", options={"id": 1})
        assert "Digest #1 removed" in (await rec.wait_response())["data"]["content"]
        assert world.bot.services.scheduler.get_job("digest-1") is None
        rec = await world.slash("digest preview", user="manager", options={"id": 1})
        assert "no digest #1" in (await rec.wait_response())["data"]["content"]
    rows = sqlite3.connect(world.db_path).execute("SELECT id, timezone, schedule, day, size FROM digests").fetchall()
    assert rows == [(2, "Europe/Berlin", "daily", None, 5)]


async def test_tags_autocomplete_from_the_hubs_article_tags_and_filter_the_digest(tmp_path: Path) -> None:
    async with bot_world(tmp_path, hub_kwargs={"articles": 30}) as world:
        # nothing known yet: the first keystroke starts a read of the hub's newest articles
        first = await world.autocomplete("digest add", user="manager", focused="tags", value="gu",
                                         options={"channel": world.channel("feeds")})
        await world.fake.wait_until(lambda: bool(world.hub.requests_to("/api/v1/articles")), timeout=5)
        assert first == [] or [c["value"] for c in first] == ["guide"]  # it never waits for the hub
        for _ in range(200):  # the next keystrokes find the tags of what was read
            choices = await world.autocomplete("digest add", user="manager", focused="tags", value="lora, gu",
                                               options={"channel": world.channel("feeds")})
            if choices:
                break
            await asyncio.sleep(0.02)
        assert [c["value"] for c in choices] == ["lora, guide"]
        assert len(world.hub.requests_to("/api/v1/articles")) == 1  # one read, however many keystrokes

        now = datetime.now(UTC)
        world.hub.publish_article(title="A Guide", nsfw_level=1, tags=[5132], published_at=now - timedelta(hours=1),
                                  stats=stats(likes=1))
        world.hub.publish_article(title="Some News", nsfw_level=1, tags=[5133], published_at=now - timedelta(hours=1),
                                  stats=stats(likes=99))
        await add_digest(world, tags="Guide")
        rec = await world.slash("digest preview", user="manager", options={"id": 1})
        embed = (await reply_of(rec))["embeds"][0]
        assert "A Guide" in [t for t, _ in entries(embed["description"])]
        assert "Some News" not in embed["description"]


async def test_articles_pages_through_the_newest_and_opens_a_short_card(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        now, hub = datetime.now(UTC), world.hub
        made = [hub.publish_article(title=f"Article {i:02d}", nsfw_level=1, tags=[5132 if i % 2 else 5134],
                                    published_at=now - timedelta(minutes=30 - i)) for i in range(14)]
        hub.publish_article(title="Newest But X", nsfw_level=8, published_at=now)

        rec = await world.slash("articles")
        message = await rec.wait_original(lambda m: bool(m.get("embeds")))
        page1 = message["embeds"][0]
        titles = re.findall(r"\*\*\d+\.\*\* \[(.+?)\]", page1["description"])
        assert titles == [f"Article {i:02d}" for i in range(13, 3, -1)]  # newest first, ten a page, no X
        assert f"({hub.base_url}/articles/{made[13]['id']})" in page1["description"]
        components = [c for row in message["components"] for c in row["components"]]
        following = next(c for c in components if c.get("emoji", {}).get("name") == "▶")
        click = await world.fake.click(message, following["custom_id"], user_id=world.member("member"))
        page2 = (await click.wait_response())["data"]["embeds"][0]
        assert re.findall(r"\*\*\d+\.\*\* \[(.+?)\]", page2["description"]) == [
            f"Article {i:02d}" for i in range(3, -1, -1)]

        current = world.fake.get_message(int(message["id"]))
        select = next(c for row in current["components"] for c in row["components"] if c["type"] == 3)
        pick = await world.fake.click(current, select["custom_id"], user_id=world.member("member"),
                                      values=[str(made[3]["id"])])
        card = (await reply_of(pick))["embeds"][0]
        assert card["title"] == "Article 03" and card["url"] == f"{hub.base_url}/articles/{made[3]['id']}"
        assert card["footer"]["text"] == f"Article {made[3]['id']}" and "<" not in card["description"]

        rec = await world.slash("articles", options={"tag": "tutorial"})  # known from the pages read above
        embed = (await rec.wait_original(lambda m: bool(m.get("embeds"))))["embeds"][0]
        assert re.findall(r"\*\*\d+\.\*\* \[(.+?)\]", embed["description"]) == [
            f"Article {i:02d}" for i in range(12, -1, -2)]
        assert world.hub.requests_to("/api/v1/articles")[-1].param("tags") == "5134"  # the hub filters by id

        rec = await world.slash("articles", options={"query": "article 1"})
        embed = (await rec.wait_original(lambda m: bool(m.get("embeds"))))["embeds"][0]
        assert re.findall(r"\*\*\d+\.\*\* \[(.+?)\]", embed["description"]) == [
            f"Article {i:02d}" for i in range(13, 9, -1)]

        world.hub.down, world.hub.down_retry_after = True, "600"  # the hub is down: the cache answers
        rec = await world.slash("articles", options={"query": "article 0"})
        embed = (await rec.wait_original(lambda m: bool(m.get("embeds"))))["embeds"][0]
        assert "The hub is not answering right now" in embed["description"]
        assert re.findall(r"\*\*\d+\.\*\* \[(.+?)\]", embed["description"])[:2] == ["Article 09", "Article 08"]


# ---------------------------------------------------------------------------------- as its own process


async def test_kill_9_between_sending_a_digest_and_recording_it_does_not_send_it_again(tmp_path: Path) -> None:
    async with FakeHub(samples=False) as hub, FakeDiscord(token=TOKEN) as fake:
        guild = fake.add_default_guild()
        feeds = guild.channel("feeds").id
        config = tmp_path / "config.toml"
        config.write_text(f"[discord]\ndev_guild_ids = [{guild.id}]\nsync_on_start = true\n"
                          f'[hub]\nimage_hosts = ["{hub.image_host}"]\nimage_base_url = "{hub.base_url}"\n')
        db = tmp_path / "bot.sqlite3"

        async def start() -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", "--config", str(config), cwd=REPO,
                env=process_env(fake, hub, db), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)

        def run_rows() -> list[tuple]:
            return sqlite3.connect(db).execute("SELECT state, attempts, message_id FROM digest_runs").fetchall()

        # a daily digest whose time (in UTC, on the real clock) was one to two hours ago
        slot = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        proc = await start()
        try:
            await fake.wait_for_ready(timeout=30)
            await fake.wait_until(lambda: fake.find_command("digest", guild.id) is not None, timeout=10)
            rec = await fake.slash("digest add", guild_id=guild.id, channel_id=guild.channel("general").id,
                                   user_id=guild.member("manager").id,
                                   options={"channel": feeds, "hour": slot.hour, "timezone": "UTC"})
            assert "added" in (await rec.wait_response())["data"]["content"]
            hub.publish_article(title="Crash Course", nsfw_level=1, published_at=slot - timedelta(hours=1))
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
            # as if it had been added days ago: its last time came while the bot was stopped
            conn = sqlite3.connect(db)
            conn.execute("UPDATE digests SET started_at = ?", ((slot - timedelta(days=2)).isoformat(),))
            conn.commit()
            conn.close()

            # the digest reaches Discord, but the answer is held until the bot has been killed
            fake.delay_responses("POST", rf"^/channels/{feeds}/messages$", 60)
            proc = await start()
            await fake.wait_for_request("POST", rf"^/channels/{feeds}/messages$", timeout=30)
            await fake.wait_until(lambda: len(fake.messages.get(feeds, [])) == 1, timeout=5)
            proc.kill()  # SIGKILL: no clean-up of any kind
            await proc.wait()
            assert run_rows() == [("planned", 1, None)]  # attempted, not recorded as sent
            sends = len(fake.find_requests("POST", rf"^/channels/{feeds}/messages$"))
            for i in range(300):  # a busy channel: the digest is far from the newest messages
                fake.add_message(feeds, f"chatter {i}", author_id=guild.member("member").id)
            fake.advance_clock(600)  # and Discord's nonce window has passed

            proc = await start()
            await fake.wait_until(lambda: run_rows()[0][0] == "sent", timeout=30)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), timeout=15)
        assert len(fake.find_requests("POST", rf"^/channels/{feeds}/messages$")) == sends  # found, not sent again
        digests = [m for m in fake.messages[feeds] if m.get("embeds")]
        assert len(digests) == 1 and "Crash Course" in digests[0]["embeds"][0]["description"]
    assert run_rows() == [("sent", 1, int(digests[0]["id"]))]


async def test_status_counts_the_digests_jobs_without_listing_any_servers_digest(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        for hour in (6, 7, 8):
            await add_digest(world, hour=hour, timezone="UTC")
        rec = await world.slash("status")
        fields = {f["name"]: f["value"] for f in (await rec.wait_response())["data"]["embeds"][0]["fields"]}
        assert "article digests (3)" in fields["Scheduled jobs"] and "digest #" not in fields["Scheduled jobs"]
