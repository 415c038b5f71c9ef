"""End-to-end world: the real bot against the loopback Discord and hub servers.

``BotWorld`` starts a FakeHub and a FakeDiscord (with the default guild), builds the bot's settings
the way an operator would (TOML mapping + env overrides), and runs the real ``HubBot``. On exit it
checks what every end-to-end test must hold: discord.py logged no error, the bot called no route the
fake Discord does not know, the fake answered no request with an internal error, and every message
the bot sent passed Discord's validation (embed limits, components, autocomplete).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import HubBot
from bot.config import Settings, settings_from_mapping
from tests.fakes.discord_harness import TEST_CLIENT_KWARGS, collect_discord_errors, running_bot
from tests.fakes.discord_server import FakeDiscord, FakeGuild
from tests.fakes.hub_server import FakeHub

TOKEN = "MTE4MDAwMDAwMDAwMDAwMDAwMQ.fake.token-for-tests"


def make_settings(fake: FakeDiscord, hub: FakeHub, db_path: Path, guild_ids: list[int],
                  **sections: dict[str, Any]) -> Settings:
    data: dict[str, dict[str, Any]] = {
        "discord": {"dev_guild_ids": guild_ids, "sync_on_start": True},
        "hub": {"image_hosts": [hub.image_host], "image_base_url": hub.base_url, "timeout_seconds": 5},
        "database": {"path": str(db_path)},
        "feeds": {"poll_interval_seconds": 3600},
        "intake": {"work_dir": str(db_path.parent / "intake")},  # never the repository's data/
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    env = {"DISCORD_TOKEN": TOKEN, "DISCORD_API_BASE": fake.api_base, "DISCORD_GATEWAY_URL": fake.gateway_url,
           "HUB_BASE_URL": hub.base_url}
    return settings_from_mapping(data, env=env)


@dataclass
class BotWorld:
    fake: FakeDiscord
    hub: FakeHub
    guild: FakeGuild
    db_path: Path
    settings: Settings
    bot: HubBot | None = None
    extensions: list[str] | None = None
    sent: list[Any] = field(default_factory=list)

    def channel(self, name: str) -> int:
        return self.guild.channel(name).id

    def member(self, name: str) -> int:
        return self.guild.member(name).id

    async def slash(self, name: str, *, user: str = "member", channel: str = "general", **kw: Any) -> Any:
        return await self.fake.slash(name, guild_id=self.guild.id, channel_id=self.channel(channel),
                                     user_id=self.member(user), **kw)

    async def autocomplete(self, name: str, *, user: str = "member", channel: str = "general", **kw: Any) -> Any:
        return await self.fake.autocomplete(name, guild_id=self.guild.id, channel_id=self.channel(channel),
                                            user_id=self.member(user), **kw)

    @contextlib.asynccontextmanager
    async def running(self, **client_kwargs: Any) -> AsyncIterator[HubBot]:
        """Run one bot process-lifetime (start -> ready -> yield -> close). Can be used repeatedly
        on the same database to test restarts."""
        bot = HubBot(self.settings, extensions=self.extensions, **{**TEST_CLIENT_KWARGS, **client_kwargs})
        self.bot = bot
        async with running_bot(self.fake, bot, token=TOKEN):
            yield bot
        self.bot = None


@contextlib.asynccontextmanager
async def bot_world(tmp_path: Path, *, start: bool = True, hub_kwargs: dict[str, Any] | None = None,
                    discord_kwargs: dict[str, Any] | None = None, extensions: list[str] | None = None,
                    **sections: dict[str, Any]) -> AsyncIterator[BotWorld]:
    fake_options = {"route_rate_limit_scale": 0.1, **(discord_kwargs or {})}
    with collect_discord_errors() as errors:
        async with FakeHub(**(hub_kwargs or {})) as hub, FakeDiscord(token=TOKEN, **fake_options) as fake:
            guild = fake.add_default_guild()
            db_path = tmp_path / "bot.sqlite3"
            settings = make_settings(fake, hub, db_path, [guild.id], **sections)
            world = BotWorld(fake=fake, hub=hub, guild=guild, db_path=db_path, settings=settings,
                             extensions=extensions)
            if start:
                async with world.running():
                    yield world
            else:
                yield world
            assert fake.unhandled == [], f"the bot called routes the fake does not know: {fake.unhandled}"
            assert fake.internal_errors == [], fake.internal_errors
            assert fake.validation_errors == [], f"Discord would have rejected: {fake.validation_errors}"
            assert_nothing_can_ping(fake)
    errors.assert_clean()


_MESSAGE_ROUTES = re.compile(r"^/(channels/\d+/messages(/\d+)?|interactions/\d+/[^/]+/callback|"
                             r"webhooks/\d+/[^/]+(/messages/(@original|\d+))?)$")


def assert_nothing_can_ping(fake: FakeDiscord) -> int:
    """Every message the bot created or edited carried ``allowed_mentions`` that pings nobody.
    Returns how many messages were checked."""
    checked = 0
    for request in fake.requests:
        if request.method not in ("POST", "PATCH") or not _MESSAGE_ROUTES.match(request.path):
            continue
        body = request.json if isinstance(request.json, dict) else {}
        if request.path.endswith("/callback"):
            if body.get("type") not in (4, 7):  # only message responses carry content
                continue
            body = body.get("data") or {}
        if not any(key in body for key in ("content", "embeds")):
            continue
        mentions = request.allowed_mentions
        assert mentions is not None, f"{request!r} sent a message without allowed_mentions"
        assert not mentions.get("parse") and not mentions.get("users") and not mentions.get("roles"), \
            f"{request!r} could ping: {mentions}"
        checked += 1
    return checked


def process_env(fake: FakeDiscord, hub: FakeHub, db: Path, **extra: str) -> dict[str, str]:
    """The environment of ``python -m bot run`` as its own process against the loopback servers: this
    process's, less the operator's secrets and config, plus the fakes' addresses (and ``extra``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "CIVITAI_API_KEY", "BOT_CONFIG")}
    env.update({"DISCORD_TOKEN": TOKEN, "DISCORD_API_BASE": fake.api_base, "DISCORD_GATEWAY_URL": fake.gateway_url,
                "HUB_BASE_URL": hub.base_url, "BOT_DATABASE": str(db), **extra})
    return env

