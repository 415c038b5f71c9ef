"""The bot as operators run it: ``python -m bot run`` in its own process against the loopback servers;
SIGTERM ends it cleanly; the token never reaches the logs."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.hub_server import FakeHub
from tests.support import TOKEN, bot_world, process_env

REPO = Path(__file__).resolve().parents[1]
HUB_KEY = "hub-key-secret-789"
MASK = "********"  # what bot/logs.py writes in place of a secret


def _env(fake: FakeDiscord, hub: FakeHub, db: Path) -> dict[str, str]:
    return process_env(fake, hub, db, CIVITAI_API_KEY=HUB_KEY)


def _config(tmp_path: Path, guild_id: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[discord]\ndev_guild_ids = [{guild_id}]\nsync_on_start = true\n'
                    '[logging]\nlevel = "DEBUG"\n')
    return path


async def test_run_as_a_process_answers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with FakeHub() as hub, FakeDiscord(token=TOKEN) as fake:
        guild = fake.add_default_guild()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(_config(tmp_path, guild.id)),
            cwd=REPO, env=_env(fake, hub, tmp_path / "bot.sqlite3"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            await fake.wait_for_ready(timeout=30)
            await fake.wait_until(lambda: fake.find_command("status", guild.id) is not None, timeout=10)
            rec = await fake.slash("status", guild_id=guild.id, channel_id=guild.channel("general").id,
                                   user_id=guild.member("member").id)
            embed = (await rec.wait_response())["data"]["embeds"][0]
            assert embed["title"] == "Bot status"

            # A hub error body that echoes the credentials the bot sent: the hub client logs the
            # hub's error detail when it retries, so the key really reaches a log call.
            echo = {"error": f"upstream refused Authorization: Bearer {HUB_KEY} (key {HUB_KEY})"}
            hub.fail(503, times=1, path="/api/v1/models", body=json.dumps(echo).encode())
            rec = await fake.slash("search", guild_id=guild.id, channel_id=guild.channel("general").id,
                                   user_id=guild.member("member").id, options={"query": "pony"})
            await rec.wait_response()
            await rec.wait_original(lambda m: bool(m.get("embeds")), timeout=15)
            assert any(r.headers.get("Authorization") == f"Bearer {HUB_KEY}" for r in hub.requests_to("/api/v1/"))

            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=10)
            elapsed = time.monotonic() - started
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    logs = stderr.decode() + stdout.decode()
    assert proc.returncode == 0, logs
    assert elapsed < 5
    assert "Traceback" not in logs
    assert TOKEN not in logs and HUB_KEY not in logs
    echoed = [line for line in logs.splitlines() if "upstream refused Authorization" in line]
    assert echoed, "the hub's error detail was not logged: nothing here tests the redaction"
    assert all(f"Bearer {MASK} (key {MASK})" in line for line in echoed), echoed
    assert "closed cleanly" in logs
    assert fake.unhandled == []


async def test_run_without_a_token_fails_at_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "BOT_CONFIG")}
    env["BOT_DATABASE"] = str(tmp_path / "bot.sqlite3")
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(REPO / "config.example.toml"), cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 2
    assert "no Discord token" in stderr.decode() and "DISCORD_TOKEN" in stderr.decode()
    assert time.monotonic() - started < 15
    assert not (tmp_path / "bot.sqlite3").exists()  # it stopped before touching anything


async def test_sync_command_pushes_commands_to_one_guild(tmp_path: Path) -> None:
    async with FakeHub() as hub, FakeDiscord(token=TOKEN) as fake:
        guild = fake.add_default_guild()
        config = tmp_path / "config.toml"
        config.write_text("")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "sync", "--config", str(config), "--guild", str(guild.id),
            cwd=REPO, env=_env(fake, hub, tmp_path / "bot.sqlite3"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, stderr.decode()
        assert f"to guild {guild.id}" in stdout.decode()
        names = {c["name"] for c in fake.commands[guild.id]}
        assert {"status", "settings"} <= names
        assert fake.identify_payloads == []  # REST only: no gateway connection for a sync
        assert TOKEN not in stdout.decode() + stderr.decode()


async def test_a_refused_sync_logs_discords_answer_with_the_token_masked(tmp_path: Path) -> None:
    async with FakeHub() as hub, FakeDiscord(token=TOKEN) as fake:
        guild = fake.add_default_guild()
        config = tmp_path / "config.toml"
        config.write_text("")
        # Discord's error text echoes the token: the bot logs Discord's answer when a sync is refused.
        fake.fail_next("PUT", rf"/guilds/{guild.id}/commands$", 400,
                       json={"code": 50035, "message": f"Invalid Form Body for Bot {TOKEN}"})
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "sync", "--config", str(config), "--guild", str(guild.id),
            cwd=REPO, env=_env(fake, hub, tmp_path / "bot.sqlite3"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    logs = stderr.decode() + stdout.decode()
    assert proc.returncode == 1, logs
    refused = [line for line in logs.splitlines() if "Invalid Form Body for Bot" in line]
    assert refused, f"Discord's answer was not logged: nothing here tests the redaction\n{logs}"
    assert all(f"for Bot {MASK}" in line for line in refused), refused
    assert TOKEN not in logs and HUB_KEY not in logs


async def test_a_hub_error_echoing_the_key_never_reaches_discord(tmp_path: Path) -> None:
    async with bot_world(tmp_path, start=False) as world, contextlib.AsyncExitStack() as stack:
        world.settings = dataclasses.replace(world.settings, hub=dataclasses.replace(world.settings.hub,
                                                                                  api_key=HUB_KEY))
        await stack.enter_async_context(world.running())
        echo = {"error": f"key {HUB_KEY} is not valid"}
        world.hub.fail(401, times=1, path="/api/v1/models", body=json.dumps(echo).encode())
        rec = await world.slash("search", options={"query": "pony"})
        await rec.wait_response()
        await rec.wait_original(lambda m: bool(m.get("content") or m.get("embeds")))
        rec = await world.slash("status")
        status = json.dumps((await rec.wait_response())["data"], ensure_ascii=False)
        assert "HTTP 401" in status  # the hub's error is shown, so the check below means something
    sent = json.dumps([r.json for r in world.fake.requests], ensure_ascii=False)
    assert HUB_KEY not in sent


async def _start(fake: FakeDiscord, hub: FakeHub, config: Path, db: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config), cwd=REPO, env=_env(fake, hub, db),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


async def test_kill_9_during_feed_delivery_neither_loses_nor_duplicates(tmp_path: Path) -> None:
    async with FakeHub() as hub, FakeDiscord(token=TOKEN) as fake:
        guild = fake.add_default_guild()
        feeds = guild.channel("feeds").id
        config = tmp_path / "config.toml"
        config.write_text(f"[discord]\ndev_guild_ids = [{guild.id}]\nsync_on_start = true\n"
                          "[feeds]\npoll_interval_seconds = 1\n")
        db = tmp_path / "bot.sqlite3"
        proc = await _start(fake, hub, config, db)
        try:
            await fake.wait_for_ready(timeout=30)
            await fake.wait_until(lambda: fake.find_command("feed", guild.id) is not None, timeout=10)
            rec = await fake.slash("feed add", guild_id=guild.id, channel_id=guild.channel("general").id,
                                   user_id=guild.member("manager").id, options={"channel": feeds, "types": "LORA"})
            assert "added" in (await rec.wait_response())["data"]["content"]
            await asyncio.sleep(0.05)
            # The first post reaches Discord, but its answer is held until the bot has been killed:
            # the bot dies between sending and recording.
            fake.delay_responses("POST", rf"^/channels/{feeds}/messages$", 60)
            published = []
            for i in range(4):
                published.append(hub.publish_model(type="LORA", name=f"Crash Test {i}", image_levels=[1]))
                await asyncio.sleep(0.005)
            await fake.wait_for_request("POST", rf"^/channels/{feeds}/messages$", timeout=30)
            await fake.wait_until(lambda: len(fake.messages.get(feeds, [])) == 1, timeout=5)
            proc.kill()  # SIGKILL: no clean-up of any kind
            await proc.wait()
            posts_before = len(fake.find_requests("POST", rf"^/channels/{feeds}/messages$"))
            for i in range(600):  # a busy channel: the lost post is far from the newest messages
                fake.add_message(feeds, f"chatter {i}", author_id=guild.member("member").id)
            fake.advance_clock(600)  # and Discord's nonce window has passed

            proc = await _start(fake, hub, config, db)
            await fake.wait_until(lambda: sum(1 for m in fake.messages.get(feeds, []) if m.get("embeds")) >= 4,
                                  timeout=30)
            await asyncio.sleep(2.5)  # a couple more polls: nothing else may arrive
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), timeout=10)
        messages = [m for m in fake.messages[feeds] if m.get("embeds")]
        versions = [int(m["embeds"][0]["url"].rsplit("modelVersionId=", 1)[1]) for m in messages]
        assert versions == [m["modelVersions"][0]["id"] for m in published]  # all four, once, oldest first
        sends_after_restart = len(fake.find_requests("POST", rf"^/channels/{feeds}/messages$")) - posts_before
        assert sends_after_restart == 3  # the first post was recognised in the channel, not sent again
    rows = sqlite3.connect(db).execute("SELECT state, message_id FROM deliveries ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["sent"] * 4
    assert [r[1] for r in rows] == [int(m["id"]) for m in messages]
