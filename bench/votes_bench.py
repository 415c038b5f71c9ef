"""Votes benchmark: a burst of 👍/👎 reaction events on the bot's model posts, end to end.

    python bench/votes_bench.py [--events 2000] [--posts 50] [--members 200] [--posts-per-version 1]
                                [--seed 7] [--rate EVENTS_PER_S] [--warm]

The real bot runs as its own process (``python -m bot run``'s entry point) against the loopback Discord
(in this process). Before it starts, ``--posts`` messages of the bot's are put in #feeds and recorded
as model cards (``model_posts``), one model version each (``--posts-per-version 2``: two posts show
each version, as when a feed post and a /model card show the same one), and the default test guild
gets members up to ``--members`` (humans, all in GUILD_CREATE).

Then ``--events`` reaction events are sent as fast as the fake can send them: new 👍/👎 (popular posts
get more), switches (the member adds the other thumb: on Discord both are then shown), removals, and
duplicates (a gateway replay of an event just sent). Originals go through ``FakeDiscord.react`` (the
fake's reaction state stays true), duplicates through ``FakeDiscord.dispatch`` with the same payload.
The expected final ``votes`` table is computed here from the event list with the bot's documented
semantics (an add sets the member's vote on the post's version; a removal deletes it only if it is
still that value; so duplicates change nothing) and compared with the bot's database, row by row.

Timing: the bot process wraps ``VoteService.reaction`` to print when each call returned
(``time.monotonic()``, one clock for both processes on Linux); latency is from just before the fake
sends the event to that moment; the rate is events from the first dispatch to the last one settled.
The rate limits of the fake are off (a switch makes the bot remove the other thumb only with Manage
Messages, which the default guild's bot lacks, so it makes no REST call here anyway).

``--warm``: one thumb on a message that is no model post first, so the bot has the server's settings
cached when the burst starts; ``--rate 500``: send at that pace (handling latency without a backlog).
Exit status 1 when the votes table is not exactly what the events imply (the differing rows are printed
with their events).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SELF = Path(__file__).resolve()
REPO = SELF.parents[1]
sys.path.insert(0, str(REPO))

UP, DOWN = "👍", "👎"
VALUE = {UP: 1, DOWN: -1}
CODE = {UP: "u", DOWN: "d"}


def child(argv: list[str]) -> None:
    """The bot process: ``python -m bot run`` with ``VoteService.reaction`` timed on stdout."""
    from bot.__main__ import main as bot_main
    from bot.reviews.votes import VoteService

    original = VoteService.reaction
    out = sys.stdout

    async def timed(self: VoteService, **kw: Any) -> Any:
        status = "x"  # raised
        try:
            outcome = await original(self, **kw)
            status = "c" if outcome.counted else "n"
            return outcome
        finally:
            out.write(f"{kw['message_id']} {kw['user_id']} {CODE.get(kw['emoji'], '?')} {int(kw['added'])} "
                      f"{status} {time.monotonic():.6f}\n")
            out.flush()

    VoteService.reaction = timed  # type: ignore[method-assign]
    sys.exit(bot_main(argv))


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # add | switch | remove | duplicate
    post: int  # index into the posts
    user: int
    emoji: str
    add: bool


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def generate(n_events: int, n_posts: int, users: list[int], seed: int) -> list[Event]:
    """A realistic burst, consistent with what Discord shows (one can only remove a reaction one has)."""
    rng = random.Random(seed)
    post_weights = [1 / (rank + 1) ** 0.8 for rank in range(n_posts)]  # a few posts draw most votes
    shown: dict[tuple[int, int], set[str]] = defaultdict(set)  # (post, user) -> thumbs shown on Discord
    with_thumbs: dict[tuple[int, int], None] = {}  # pairs with at least one thumb (ordered set)
    last_of: dict[tuple[int, int], int] = {}  # pair -> index of its latest event
    events: list[Event] = []
    kinds, weights = ["add", "switch", "remove", "duplicate"], [0.55, 0.13, 0.22, 0.10]
    while len(events) < n_events:
        kind = rng.choices(kinds, weights)[0]
        if kind == "add":
            for _ in range(50):
                pair = (rng.choices(range(n_posts), post_weights)[0], rng.choice(users))
                if not shown[pair]:
                    break
            else:
                continue
            event = Event("add", *pair, UP if rng.random() < 0.7 else DOWN, True)
        elif kind == "switch":
            single = [p for p in with_thumbs if len(shown[p]) == 1]
            if not single:
                continue
            pair = rng.choice(single)
            (has,) = shown[pair]
            event = Event("switch", *pair, DOWN if has == UP else UP, True)
        elif kind == "remove":
            if not with_thumbs:
                continue
            pair = rng.choice(list(with_thumbs))
            event = Event("remove", *pair, rng.choice(sorted(shown[pair])), False)
        else:  # a replay of a recent event whose pair saw nothing since: harmless by construction
            recent = [i for i in range(max(0, len(events) - 30), len(events))
                      if events[i].kind != "duplicate" and last_of[(events[i].post, events[i].user)] == i]
            if not recent:
                continue
            e = events[rng.choice(recent)]
            events.append(Event("duplicate", e.post, e.user, e.emoji, e.add))
            continue
        pair = (event.post, event.user)
        if event.add:
            shown[pair].add(event.emoji)
            with_thumbs[pair] = None
        else:
            shown[pair].discard(event.emoji)
            if not shown[pair]:
                del with_thumbs[pair]
        last_of[pair] = len(events)
        events.append(event)
    return events


def expected_votes(events: list[Event], version_of: list[int]) -> dict[tuple[int, int], int]:
    """(version, user) -> value: an add sets the vote, a removal deletes it only if still that value."""
    votes: dict[tuple[int, int], int] = {}
    for e in events:
        key = (version_of[e.post], e.user)
        if e.add:
            votes[key] = VALUE[e.emoji]
        elif votes.get(key) == VALUE[e.emoji]:
            del votes[key]
    return votes


def read_votes(db: Path, guild_id: int) -> dict[tuple[int, int], int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT model_version_id, user_id, value FROM votes WHERE guild_id = ?",
                            (guild_id,)).fetchall()
    finally:
        conn.close()
    return {(v, u): value for v, u, value in rows}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(args: argparse.Namespace, tmp: Path) -> int:
    from bot.store import Store
    from tests.fakes.discord_server import FakeDiscord, FakeMember
    from tests.fakes.hub_server import FakeHub
    from tests.support import TOKEN

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}", flush=True)
    db = tmp / "bot.sqlite3"
    async with FakeHub(samples=False) as hub, FakeDiscord(token=TOKEN, rate_limits=False) as fake:
        guild = fake.add_default_guild()
        for i in range(args.members - sum(1 for m in guild.members.values() if not m.user.bot)):
            user = fake.add_user(f"voter{i}")
            guild.members[user.id] = FakeMember(user=user)
        users = [m.id for m in guild.members.values() if not m.user.bot]
        feeds = guild.channel("feeds").id
        posts, version_of = [], []
        store = await Store.open(db)
        try:
            for i in range(args.posts):
                model_id, version = 1000 + i // args.posts_per_version, 5000 + i // args.posts_per_version
                msg = fake.add_message(feeds, embeds=[{"title": f"Model {model_id}",
                                                       "url": f"{hub.base_url}/models/{model_id}"}])
                await store.votes.record_post(int(msg["id"]), guild_id=guild.id, channel_id=feeds,
                                              model_id=model_id, model_version_id=version)
                posts.append(int(msg["id"]))
                version_of.append(version)
        finally:
            await store.close()

        events = generate(args.events, args.posts, users, args.seed)
        expected = expected_votes(events, version_of)
        mix = {k: sum(e.kind == k for e in events) for k in ("add", "switch", "remove", "duplicate")}
        print(f"{len(events):,} events on {args.posts} posts ({len(set(version_of))} versions) by "
              f"{len(set(e.user for e in events))} of {len(users)} members: {mix}; "
              f"adds 👍 {sum(e.add and e.emoji == UP for e in events)}, "
              f"👎 {sum(e.add and e.emoji == DOWN for e in events)}; "
              f"expected {len(expected)} votes", flush=True)

        config = tmp / "config.toml"
        config.write_text(f"[discord]\ndev_guild_ids = [{guild.id}]\nsync_on_start = true\n"
                          '[logging]\nlevel = "WARNING"\n')
        env = dict(os.environ, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=fake.api_base,
                   DISCORD_GATEWAY_URL=fake.gateway_url, HUB_BASE_URL=hub.base_url, BOT_DATABASE=str(db))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(SELF), "--child", "run", "--config", str(config),
            cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE)
        done: list[tuple[str, float]] = []  # (key, monotonic) per handled event
        statuses: dict[str, int] = defaultdict(int)
        changed = asyncio.Event()

        async def read_done() -> None:
            assert proc.stdout is not None
            async for line in proc.stdout:
                message_id, user_id, code, added, status, at = line.decode().split()
                done.append((f"{message_id} {user_id} {code} {added}", float(at)))
                statuses[status] += 1
                changed.set()

        reader = asyncio.create_task(read_done())
        try:
            await fake.wait_for_ready(timeout=60)
            await fake.wait_until(lambda: fake.find_command("model", guild.id) is not None, timeout=30)
            await asyncio.sleep(3)  # guild_ready_timeout passes, on_ready fires, things settle
            if args.warm:  # a thumb on a message that is no model post: the bot loads the server's settings
                chatter = fake.add_message(feeds, "not a model post")
                await fake.react(feeds, int(chatter["id"]), users[0], UP)
                await fake.wait_until(lambda: len(done) == 1, timeout=10)
                done.clear()
                statuses.clear()
            cpu_before = cpu_seconds(proc.pid)

            sent_at: dict[str, deque[float]] = defaultdict(deque)
            member_payloads = {u: guild.members[u].to_payload() for u in users}
            t_first = time.monotonic()
            for i, e in enumerate(events):
                if args.rate and (ahead := t_first + i / args.rate - time.monotonic()) > 0:
                    await asyncio.sleep(ahead)
                message_id = posts[e.post]
                key = f"{message_id} {e.user} {CODE[e.emoji]} {int(e.add)}"
                sent_at[key].append(time.monotonic())
                if e.kind != "duplicate":
                    await fake.react(feeds, message_id, e.user, e.emoji, add=e.add)
                    continue
                data: dict[str, Any] = {"user_id": str(e.user), "channel_id": str(feeds),
                                        "message_id": str(message_id), "guild_id": str(guild.id),
                                        "emoji": {"id": None, "name": e.emoji}, "burst": False, "type": 0}
                if e.add:
                    data.update(message_author_id=str(fake.bot_user.id), burst_colors=[],
                                member=member_payloads[e.user])
                await fake.dispatch("MESSAGE_REACTION_ADD" if e.add else "MESSAGE_REACTION_REMOVE", data)
            t_sent = time.monotonic()

            try:
                async with asyncio.timeout(args.timeout):
                    while len(done) < len(events):
                        changed.clear()
                        await changed.wait()
            except TimeoutError:
                print(f"TIMEOUT: the bot handled {len(done)} of {len(events)} events within {args.timeout} s",
                      flush=True)
            cpu_used = cpu_seconds(proc.pid) - cpu_before
            got = read_votes(db, guild.id)
            await asyncio.sleep(0.5)  # and it stays so: nothing arrives late
            got_later = read_votes(db, guild.id)
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=20)
            reader.cancel()

    latencies = []
    for key, at in done:
        if sent_at[key]:
            latencies.append((at - sent_at[key].popleft()) * 1000)
    handled = len(done)
    t_last = max((at for _, at in done), default=t_sent)
    print(f"sent {len(events):,} events in {t_sent - t_first:.2f} s ({len(events) / (t_sent - t_first):,.0f}/s from "
          f"the fake); handled {handled:,} ({dict(statuses)}) by {t_last - t_first:.2f} s after the first: "
          f"**{handled / (t_last - t_first):,.0f} events/s** end to end; bot CPU {cpu_used:.2f} s "
          f"({cpu_used / handled * 1000 if handled else 0:.2f} ms/event)", flush=True)
    if latencies:
        print(f"handling latency (dispatch -> VoteService.reaction returned): p50 {percentile(latencies, 50):.1f} ms, "
              f"p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms, "
              f"mean {statistics.fmean(latencies):.1f} ms", flush=True)

    exact = got == expected and got_later == expected and handled == len(events)
    ups = sum(v == 1 for v in got.values())
    print(f"votes table: {len(got)} rows (👍 {ups}, 👎 {len(got) - ups}); expected {len(expected)}: "
          f"{'EXACT' if exact else 'MISMATCH'}", flush=True)
    if not exact:
        report_mismatch(expected, got_later, events, posts, version_of)
    return 0 if exact else 1


def report_mismatch(expected: dict[tuple[int, int], int], got: dict[tuple[int, int], int], events: list[Event],
                    posts: list[int], version_of: list[int]) -> None:
    wrong = sorted(k for k in set(expected) | set(got) if expected.get(k) != got.get(k))
    print(f"{len(wrong)} (version, member) pairs differ "
          f"({sum(k not in got for k in wrong)} missing, {sum(k not in expected for k in wrong)} extra, "
          f"{sum(k in got and k in expected for k in wrong)} wrong value); first ones with their events:")
    for key in wrong[:8]:
        history = [f"#{i} {e.kind} {e.emoji}{'+' if e.add else '-'} on post {posts[e.post]}"
                   for i, e in enumerate(events) if (version_of[e.post], e.user) == key]
        print(f"  version {key[0]} member {key[1]}: expected {expected.get(key)}, got {got.get(key)}; "
              + "; ".join(history))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--posts-per-version", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--rate", type=float, default=0,
                        help="send at most this many events/s (default: as fast as the fake can)")
    parser.add_argument("--warm", action="store_true",
                        help="before the burst, one thumb on a message that is no model post (the bot then "
                             "has the server's settings cached when the burst starts)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(asyncio.run(run(args, Path(tmp))))


if __name__ == "__main__":
    main()
