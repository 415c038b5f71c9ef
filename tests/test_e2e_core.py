"""The real bot on the loopback Discord: connect, sync, /status, /settings, errors, permissions,
restart on the same database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import discord

from tests.support import assert_nothing_can_ping, bot_world

PRIVILEGED = (1 << 1) | (1 << 8) | (1 << 15)  # members, presences, message content
GUILDS, GUILD_REACTIONS = 1 << 0, 1 << 10


async def test_connects_with_minimal_intents_and_syncs_commands(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        identify = world.fake.identify_payloads[-1]
        assert identify["intents"] & PRIVILEGED == 0
        assert identify["intents"] == GUILDS | GUILD_REACTIONS
        names = {c["name"] for c in world.fake.commands[world.guild.id]}
        assert {"status", "settings"} <= names
        bot = world.bot
        assert bot is not None and bot.allowed_mentions is not None
        assert bot.allowed_mentions.to_dict() == {"parse": []}
        nsfw = bot.get_channel(world.channel("nsfw"))
        assert isinstance(nsfw, discord.TextChannel) and nsfw.is_nsfw()


async def test_status_reports_version_cache_hub_and_jobs(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        rec = await world.slash("status")
        callback = await rec.wait_response()
        assert callback["type"] == 4
        data = callback["data"]
        assert data["allowed_mentions"] == {"parse": []}
        embed = data["embeds"][0]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert embed["title"] == "Bot status"
        assert fields["Version"] == "0.1.0" and fields["Servers"] == "1"
        assert "0 models" in fields["Cache"]
        assert "answering" in fields["Hub"]
        assert "cache pruning" in fields["Scheduled jobs"]
        assert not rec.ephemeral
        assert assert_nothing_can_ping(world.fake) == 1


async def test_settings_show_and_set_persist(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        rec = await world.slash("settings show", user="manager")
        data = (await rec.wait_response())["data"]
        assert rec.ephemeral
        fields = {f["name"]: f["value"] for f in data["embeds"][0]["fields"]}
        assert fields["max_rating"].startswith("**PG13**") and fields["reaction_votes"].startswith("**on**")

        rec = await world.slash("settings set", user="manager", options={"key": "max_rating", "value": "R"})
        assert "`max_rating` is now **R**" in (await rec.wait_response())["data"]["content"]
        rec = await world.slash("settings set", user="manager", options={"key": "log_channel", "value": "#log"})
        assert f"<#{world.channel('log')}>" in (await rec.wait_response())["data"]["content"]
        rec = await world.slash("settings set", user="owner",
                                options={"key": "moderator_role", "value": "Moderators"})
        await rec.wait_response()
        rec = await world.slash("settings set", user="manager", options={"key": "reaction_votes", "value": "off"})
        await rec.wait_response()

    row = sqlite3.connect(world.db_path).execute(
        "SELECT max_rating, log_channel_id, moderator_role_id, reaction_votes FROM guild_settings "
        "WHERE guild_id = ?", (world.guild.id,)).fetchone()
    assert row == ("R", world.channel("log"), world.guild.role("Moderators").id, 0)


async def test_settings_are_for_managers_only(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        for user in ("member", "moderator"):
            rec = await world.slash("settings set", user=user, options={"key": "max_rating", "value": "XXX"})
            data = (await rec.wait_response())["data"]
            assert rec.ephemeral and "Only server managers" in data["content"]
        rec = await world.slash("settings show", user="member")
        assert "Only server managers" in (await rec.wait_response())["data"]["content"]
        # a configured manager role counts as manager
        rec = await world.slash("settings set", user="owner", options={"key": "manager_role", "value": "Moderators"})
        await rec.wait_response()
        rec = await world.slash("settings show", user="moderator")
        assert (await rec.wait_response())["data"]["embeds"]
    row = sqlite3.connect(world.db_path).execute("SELECT max_rating FROM guild_settings").fetchone()
    assert row == ("PG13",)  # the refused change left nothing behind


async def test_bad_setting_values_get_a_short_error(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        cases = [("max_rating", "NC17", "PG, PG13, R, X, XXX"), ("log_channel", "no-such-channel", "No text channel"),
                 ("manager_role", "@nobody", "No role"), ("reaction_votes", "maybe", "on or off"),
                 ("log_channel", "announcements", "missing Send Messages")]
        for key, value, expected in cases:
            rec = await world.slash("settings set", user="manager", options={"key": key, "value": value})
            content = (await rec.wait_response())["data"]["content"]
            assert rec.ephemeral and expected in content, (key, content)
            assert "error `" not in content


async def test_settings_value_autocomplete_depends_on_the_key(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        ratings = await world.autocomplete("settings set", focused="value", value="",
                                           options={"key": "max_rating"}, user="manager")
        assert [c["value"] for c in ratings] == ["PG", "PG13", "R", "X", "XXX"]
        roles = await world.autocomplete("settings set", focused="value", value="mod",
                                         options={"key": "moderator_role"}, user="manager")
        assert [c["value"] for c in roles] == ["Moderators"]
        channels = await world.autocomplete("settings set", focused="value", value="",
                                            options={"key": "log_channel"}, user="manager")
        assert "log" in [c["value"] for c in channels] and len(channels) <= 25


async def test_unexpected_errors_get_an_error_id_and_a_logged_traceback(tmp_path: Path, caplog) -> None:
    async with bot_world(tmp_path) as world:
        # break the database under the running bot (as a disk fault would)
        conn = sqlite3.connect(world.db_path)
        conn.execute("DROP TABLE models_fts")
        conn.execute("DROP TABLE models")
        conn.commit()
        conn.close()
        rec = await world.slash("status")
        content = (await rec.wait_response())["data"]["content"]
        assert rec.ephemeral and "Something went wrong" in content
        error_id = content.split("`")[1]
        logged = [r for r in caplog.records if r.name == "bot.core.errors"]
        assert logged and error_id in logged[0].getMessage() and logged[0].exc_info is not None


async def test_a_failing_cog_is_logged_not_fatal(tmp_path: Path, caplog) -> None:
    async with bot_world(tmp_path, extensions=["cogs.admin", "cogs.no_such_feature"]) as world:
        bot = world.bot
        assert bot is not None and "cogs.no_such_feature" in bot.failed_extensions
        rec = await world.slash("status")
        fields = {f["name"]: f["value"] for f in (await rec.wait_response())["data"]["embeds"][0]["fields"]}
        assert "cogs.no_such_feature" in fields["Features not loaded"]
    assert any("cogs.no_such_feature" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


async def test_restart_on_the_same_database_keeps_settings(tmp_path: Path) -> None:
    async with bot_world(tmp_path, start=False) as world:
        async with world.running():
            rec = await world.slash("settings set", user="manager", options={"key": "max_rating", "value": "X"})
            await rec.wait_response()
        async with world.running():
            rec = await world.slash("settings show", user="manager")
            fields = {f["name"]: f["value"] for f in (await rec.wait_response())["data"]["embeds"][0]["fields"]}
            assert fields["max_rating"].startswith("**X**")
        assert world.fake.ready_count == 2
