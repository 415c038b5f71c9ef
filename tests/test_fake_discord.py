"""End-to-end tests of the loopback Discord fake with the real, unmodified discord.py.

A minimal ``commands.Bot`` is defined here (the product bot is tested elsewhere); every test asserts on
what discord.py actually sent over the wire (``fake.requests``) or on what the bot received.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord_harness import (
    TEST_CLIENT_KWARGS,
    DiscordLogCollector,
    collect_discord_errors,
    patch_discord,
    running_bot,
    start_bot,
    stop_bot,
)
from tests.fakes.discord_server import FakeDiscord, FakeGuild, Intent, InteractionRejected, P, overwrite

MODELS = ["Flux Dev", "Flux Schnell", "Pony Diffusion", "SDXL Base", "Illustrious XL"]


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


# ------------------------------------------------------------------------------------------ test bot


class PickView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.button(label="Like", style=discord.ButtonStyle.primary, custom_id="pick:like")
    async def like(self, interaction: discord.Interaction, button: discord.ui.Button[PickView]) -> None:
        button.disabled = True
        await interaction.response.edit_message(content=f"liked by {interaction.user.id}", view=self)

    @discord.ui.select(
        custom_id="pick:model",
        placeholder="Pick a model",
        options=[discord.SelectOption(label=m, value=str(i)) for i, m in enumerate(MODELS)],
    )
    async def choose(self, interaction: discord.Interaction, select: discord.ui.Select[PickView]) -> None:
        await interaction.response.send_message(f"picked {MODELS[int(select.values[0])]}", ephemeral=True)


class ApproveView(discord.ui.View):
    """Persistent: registered in setup_hook, survives restarts, works on messages the bot never saw."""

    def __init__(self, bot: HubTestBot) -> None:
        super().__init__(timeout=None)
        self.bot = bot

    @discord.ui.button(label="Approve", style=discord.ButtonStyle.success, custom_id="intake:approve")
    async def approve(self, interaction: discord.Interaction, button: discord.ui.Button[ApproveView]) -> None:
        self.bot.seen.append(("approve", interaction.message.id if interaction.message else None))
        await interaction.response.defer()
        await interaction.edit_original_response(content=f"approved by <@{interaction.user.id}>", view=None)


class ReviewModal(discord.ui.Modal, title="Review"):
    text: discord.ui.TextInput[ReviewModal] = discord.ui.TextInput(
        label="Your review", custom_id="review:text", style=discord.TextStyle.paragraph, max_length=500
    )
    score: discord.ui.TextInput[ReviewModal] = discord.ui.TextInput(
        label="Score (1-5)", custom_id="review:score", max_length=1, required=False
    )

    def __init__(self) -> None:
        super().__init__(custom_id="review:modal")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        text = f"thanks: {self.text.value} ({self.score.value or '-'})"
        await interaction.response.send_message(text, ephemeral=True)


class HubTestBot(commands.Bot):
    def __init__(self, **kwargs: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_reactions = True
        kwargs.setdefault("intents", intents)
        super().__init__(
            command_prefix=commands.when_mentioned,
            allowed_mentions=discord.AllowedMentions.none(),
            **{**TEST_CLIENT_KWARGS, **kwargs},
        )
        self.seen: list[tuple[Any, ...]] = []
        self.raw_reactions: asyncio.Queue[tuple[str, discord.RawReactionActionEvent]] = asyncio.Queue()
        self.channel_events: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self.resumed = asyncio.Event()
        self.release_later = asyncio.Event()  # the "later" command waits for it before following up
        self._add_commands()

    async def setup_hook(self) -> None:
        self.add_view(ApproveView(self))
        await self.tree.sync()

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.raw_reactions.put(("add", payload))

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.raw_reactions.put(("remove", payload))

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        await self.channel_events.put(("delete", channel.id))

    async def on_resumed(self) -> None:
        self.resumed.set()

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(("message", message.author.id, message.content))

    def _add_commands(self) -> None:
        bot = self
        feed = app_commands.Group(
            name="feed", description="Subscribe channels to new releases",
            default_permissions=discord.Permissions(manage_guild=True), guild_only=True,
        )

        @feed.command(name="add", description="Subscribe a channel")
        @app_commands.describe(channel="Where to post", query="Search text", limit="Posts per poll")
        async def feed_add(
            interaction: discord.Interaction,
            channel: discord.TextChannel,
            query: str | None = None,
            limit: app_commands.Range[int, 1, 10] = 5,
            nsfw_ok: bool = False,
            weight: float = 1.0,
            notify: discord.Role | None = None,
        ) -> None:
            bot.seen.append(("feed add", channel, query, limit, nsfw_ok, weight, notify, interaction))
            await interaction.response.send_message(f"subscribed {channel.mention}", ephemeral=True)

        @feed.command(name="list", description="List subscriptions")
        async def feed_list(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("no feeds", ephemeral=True)

        self.tree.add_command(feed)

        @self.tree.command(name="model", description="Show a model card")
        async def model(interaction: discord.Interaction, name: str) -> None:
            embed = discord.Embed(title=name, description="A model", url="https://civitai.com/models/1")
            embed.add_field(name="Type", value="Checkpoint").set_footer(text="hub")
            await interaction.response.send_message(embed=embed)

        @model.autocomplete("name")
        async def model_name(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            bot.seen.append(("autocomplete", current, interaction.namespace.name))
            return [app_commands.Choice(name=m, value=m) for m in MODELS if current.lower() in m.lower()]

        @self.tree.command(name="greedy", description="Autocomplete with too many choices")
        async def greedy(interaction: discord.Interaction, tag: str) -> None:
            await interaction.response.send_message(tag)

        @greedy.autocomplete("tag")
        async def greedy_tag(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=f"tag {i}", value=f"t{i}") for i in range(30)]

        @self.tree.command(name="slow", description="Defers, follows up, edits")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            followup = await interaction.followup.send("working…", wait=True)
            bot.seen.append(("followup", followup.id))
            await interaction.edit_original_response(content="done", embed=discord.Embed(title="result"))

        @self.tree.command(name="later", description="Defers, then follows up when the test says so (twice)")
        async def later(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            first_followup: int | None = None
            for _ in range(2):
                await bot.release_later.wait()
                bot.release_later.clear()
                outcome: list[Any] = []
                try:
                    sent = await interaction.followup.send("late news", wait=True)
                    first_followup = first_followup or sent.id
                    outcome.append(sent)
                except discord.HTTPException as e:
                    outcome.append(e)
                try:
                    outcome.append(await interaction.edit_original_response(content="edited late"))
                except discord.HTTPException as e:
                    outcome.append(e)
                try:
                    outcome.append(await interaction.followup.fetch_message(first_followup or 0))
                except discord.HTTPException as e:
                    outcome.append(e)
                bot.seen.append(("later", outcome))

        @self.tree.command(name="multi", description="Response, ephemeral follow-up, fetch, delete")
        async def multi(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("first")
            await interaction.followup.send("only you", ephemeral=True)
            original = await interaction.original_response()
            bot.seen.append(("multi", original.id, original.content))
            await interaction.delete_original_response()

        @self.tree.command(name="pick", description="Buttons and selects")
        async def pick(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("choose", view=PickView())

        @self.tree.command(name="review", description="Write a review")
        async def review(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(ReviewModal())

        @self.tree.command(name="boom", description="Raises")
        async def boom(interaction: discord.Interaction) -> None:
            raise RuntimeError("kaboom")

        @self.tree.command(name="spicy", description="Age-restricted", nsfw=True)
        async def spicy(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("ok")


# ------------------------------------------------------------------------------------------ fixtures


@dataclass
class Env:
    fake: FakeDiscord
    guild: FakeGuild
    bot: HubTestBot
    errors: DiscordLogCollector
    ids: dict[str, int] = field(default_factory=dict)

    def ch(self, name: str) -> int:
        return self.guild.channel(name).id

    def user(self, name: str) -> int:
        return self.guild.member(name).id

    def text_channel(self, name: str) -> discord.TextChannel:
        channel = self.bot.get_channel(self.ch(name))
        assert isinstance(channel, discord.TextChannel)
        return channel


@pytest.fixture
async def env(request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    """The fake with the default guild and a running HubTestBot.  FakeDiscord options can be passed with
    ``@pytest.mark.parametrize("env", [{...}], indirect=True)``."""
    with collect_discord_errors() as errors:
        async with FakeDiscord(**getattr(request, "param", {})) as fake:
            guild = fake.add_default_guild()
            bot = HubTestBot()
            async with running_bot(fake, bot):
                yield Env(fake, guild, bot, errors)
            errors.assert_clean()
            assert fake.unhandled == []
            assert fake.internal_errors == []


async def next_reaction(bot: HubTestBot) -> tuple[str, discord.RawReactionActionEvent]:
    return await asyncio.wait_for(bot.raw_reactions.get(), 3)


# ------------------------------------------------------------------------------------ connect/login


async def test_connects_and_sees_world(env: Env) -> None:
    fake, bot = env.fake, env.bot
    assert bot.user is not None and bot.user.id == fake.bot_user.id and bot.user.bot
    assert bot.application_id == fake.application_id
    g = bot.get_guild(env.guild.id)
    assert g is not None and g.name == env.guild.name and g.owner_id == env.user("owner")
    names = {c.name for c in g.text_channels}
    assert {"general", "feeds", "log", "nsfw", "announcements"} <= names
    nsfw = g.get_channel(env.ch("nsfw"))
    general = g.get_channel(env.ch("general"))
    assert isinstance(nsfw, discord.TextChannel) and nsfw.is_nsfw()
    assert isinstance(general, discord.TextChannel) and not general.is_nsfw()
    assert general.category is not None and general.category.name == "Community"
    assert {r.name for r in g.roles} >= {"@everyone", "Managers", "Moderators", "hubbot"}
    assert g.get_role(env.guild.role("Managers").id).permissions.manage_guild  # type: ignore[union-attr]
    assert g.member_count == len(env.guild.members)
    # permissions: the bot may not send in #announcements, may see #log (overwrite)
    me = g.me
    assert not env.text_channel("announcements").permissions_for(me).send_messages
    assert env.text_channel("log").permissions_for(me).send_messages
    # the wire: login with the bot token; IDENTIFY without privileged intents
    me_req = fake.find_requests("GET", r"^/users/@me$")[0]
    assert me_req.headers["Authorization"] == "Bot test-token"
    assert fake.find_requests("GET", r"^/oauth2/applications/@me$")
    ident = fake.identify_payloads[0]
    expected = discord.Intents.none()
    expected.guilds = expected.guild_reactions = True
    assert ident["intents"] == expected.value
    assert ident["intents"] & Intent.PRIVILEGED == 0
    assert ident["token"] == "test-token"
    assert fake.unhandled == [] and fake.validation_errors == []  # every route discord.py used is known


async def test_identify_rejects_privileged_intents() -> None:
    async with FakeDiscord(reject_privileged=True) as fake:
        fake.add_default_guild()
        intents = discord.Intents.none()
        intents.guilds = intents.message_content = True
        bot = HubTestBot(intents=intents)
        with pytest.raises(discord.PrivilegedIntentsRequired), patch_discord(fake):
            await start_bot(fake, bot, timeout=5)
        assert fake.identify_payloads[0]["intents"] & Intent.MESSAGE_CONTENT
        assert 4014 in fake.gateway_closes


# ---------------------------------------------------------------------------------- command sync


async def test_command_sync_payload_and_response(env: Env) -> None:
    fake, bot = env.fake, env.bot
    put = fake.find_requests("PUT", rf"^/applications/{fake.application_id}/commands$")[0]
    assert put.status == 200
    sent = {c["name"]: c for c in put.json}
    feed = sent["feed"]
    assert int(feed["default_member_permissions"]) == P.MANAGE_GUILD  # discord.py sends an int
    add = next(o for o in feed["options"] if o["name"] == "add")
    assert add["type"] == 1
    opts = {o["name"]: o for o in add["options"]}
    assert opts["channel"]["type"] == 7 and opts["channel"]["required"] is True
    assert opts["channel"]["channel_types"] == [0, 5]  # TextChannel: text + announcement
    assert opts["limit"]["type"] == 4 and (opts["limit"]["min_value"], opts["limit"]["max_value"]) == (1, 10)
    assert (opts["query"]["type"], opts["nsfw_ok"]["type"], opts["weight"]["type"]) == (3, 5, 10)
    assert opts["notify"]["type"] == 8
    assert sent["model"]["options"][0]["autocomplete"] is True
    assert sent["spicy"]["nsfw"] is True
    # the fake answered with real command objects: ids + application_id, options echoed
    assert all(c["id"] and c["application_id"] == str(fake.application_id) for c in put.response)
    fetched = await bot.tree.fetch_commands()
    assert {c.name: c.id for c in fetched} == {c["name"]: int(c["id"]) for c in fake.commands[None]}
    assert next(c for c in fetched if c.name == "feed").options[0].name == "add"
    # guild sync is separate and re-syncing keeps ids stable
    bot.tree.copy_global_to(guild=discord.Object(env.guild.id))
    synced = await bot.tree.sync(guild=discord.Object(env.guild.id))
    assert {c.guild_id for c in synced} == {env.guild.id}
    assert fake.find_requests("PUT", rf"/guilds/{env.guild.id}/commands$")
    again = await bot.tree.sync()
    assert {c.name: c.id for c in again} == {c.name: c.id for c in fetched}
    # a guild command wins over the global one and its interaction carries data.guild_id
    rec = await fake.slash("model", channel_id=env.ch("general"), user_id=env.user("member"), options={"name": "x"})
    assert rec.payload["data"]["guild_id"] == str(env.guild.id)
    await rec.wait_response()


async def test_invalid_command_definition_is_rejected(env: Env) -> None:
    route = discord.http.Route("PUT", "/applications/{app}/commands", app=env.fake.application_id)
    with pytest.raises(discord.HTTPException) as ei:
        await env.bot.http.request(route, json=[{"name": "Bad Name", "description": "x" * 101, "type": 1}])
    assert ei.value.status == 400 and ei.value.code == 50035
    assert "0.name" in str(ei.value) and "0.description" in str(ei.value)


# ------------------------------------------------------------------------------- slash commands


async def test_slash_subcommand_with_typed_options(env: Env) -> None:
    fake = env.fake
    notify_role = env.guild.role("Moderators").id
    rec = await fake.slash(
        "feed add",
        channel_id=env.ch("general"),
        user_id=env.user("manager"),
        options={"channel": env.ch("feeds"), "query": "lora", "limit": 3, "nsfw_ok": True, "weight": 0.5,
                 "notify": notify_role},
    )
    # what the fake sent: the registered command's id and the nested subcommand with resolved data
    data = rec.payload["data"]
    assert data["id"] == next(c["id"] for c in fake.commands[None] if c["name"] == "feed")
    assert data["options"][0]["type"] == 1 and data["options"][0]["name"] == "add"
    assert data["resolved"]["channels"][str(env.ch("feeds"))]["name"] == "feeds"
    assert int(rec.payload["member"]["permissions"]) & P.MANAGE_GUILD

    callback = await rec.wait_response()
    assert callback["type"] == 4
    assert callback["data"]["content"] == f"subscribed <#{env.ch('feeds')}>"
    assert callback["data"]["flags"] & 64  # ephemeral
    assert callback["data"]["allowed_mentions"] == {"parse": []}
    assert rec.requests[0].headers.get("Authorization") is None  # callbacks are unauthenticated
    _, channel, query, limit, nsfw_ok, weight, notify, interaction = env.bot.seen[-1]
    assert isinstance(channel, discord.TextChannel) and channel.id == env.ch("feeds")  # resolved from cache
    assert (query, limit, nsfw_ok, weight) == ("lora", 3, True, 0.5)
    assert isinstance(notify, discord.Role) and notify.id == notify_role
    assert interaction.permissions.manage_guild and interaction.app_permissions.send_messages
    assert interaction.locale == discord.Locale.american_english
    # ephemeral: not in the channel
    assert rec.original is not None and rec.original["flags"] & 64
    assert fake.messages.get(env.ch("general"), []) == []


async def test_slash_respects_discord_visibility_rules(env: Env) -> None:
    fake = env.fake
    with pytest.raises(PermissionError):  # default_member_permissions = Manage Server
        await fake.slash("feed list", channel_id=env.ch("general"), user_id=env.user("member"))
    with pytest.raises(PermissionError):  # nsfw command outside an age-restricted channel
        await fake.slash("spicy", channel_id=env.ch("general"), user_id=env.user("member"))
    rec = await fake.slash("spicy", channel_id=env.ch("nsfw"), user_id=env.user("member"))
    assert (await rec.wait_response())["data"]["content"] == "ok"
    with pytest.raises(ValueError):
        await fake.slash("feed add", channel_id=env.ch("general"), user_id=env.user("manager"), options={})
    with pytest.raises(ValueError):  # Range[int, 1, 10]
        await fake.slash("feed add", channel_id=env.ch("general"), user_id=env.user("manager"),
                         options={"channel": env.ch("feeds"), "limit": 11})


async def test_slash_sends_embed(env: Env) -> None:
    rec = await env.fake.slash("model", channel_id=env.ch("general"), user_id=env.user("member"),
                               options={"name": "Flux Dev"})
    callback = await rec.wait_response()
    embed = callback["data"]["embeds"][0]
    assert embed["title"] == "Flux Dev" and embed["fields"] == [{"name": "Type", "value": "Checkpoint", "inline": True}]
    stored = env.fake.messages[env.ch("general")][-1]
    assert stored is rec.original
    assert stored["type"] == 20 and stored["interaction_metadata"]["user"]["id"] == str(env.user("member"))
    assert stored["embeds"][0]["type"] == "rich" and stored["author"]["id"] == str(env.fake.bot_user.id)
    assert stored["mention_everyone"] is False and stored["mentions"] == []


async def test_defer_followup_and_edit_original(env: Env) -> None:
    rec = await env.fake.slash("slow", channel_id=env.ch("general"), user_id=env.user("member"))
    await rec.wait_for(lambda r: r.original is not None and r.original["content"] == "done")
    assert rec.response_type == 5
    assert rec.followups[0]["content"] == "working…"
    # like Discord, the first follow-up after a thinking defer replaced the loading message
    assert rec.followups[0]["id"] == rec.original["id"] == str(env.bot.seen[-1][1])
    assert rec.original["embeds"][0]["title"] == "result" and not rec.original["flags"] & 128
    methods = [(r.method, r.path.rsplit("/", 2)[-1]) for r in rec.requests]
    assert methods == [("POST", "callback"), ("POST", rec.token), ("PATCH", "@original")]
    assert rec.requests[1].query["wait"] == "1"


async def test_command_error_is_logged_and_collected(env: Env) -> None:
    rec = await env.fake.slash("boom", channel_id=env.ch("general"), user_id=env.user("member"))
    record = await env.errors.wait_for_error()
    assert record.exc_info is not None and "kaboom" in str(record.exc_info[1])
    assert rec.callback is None  # on Discord the user sees "The application did not respond"
    env.errors.clear()


# -------------------------------------------------------------------------------- autocomplete


async def test_autocomplete_returns_choices(env: Env) -> None:
    choices = await env.fake.autocomplete("model", focused="name", value="flux", channel_id=env.ch("general"),
                                          user_id=env.user("member"))
    assert choices == [{"name": "Flux Dev", "value": "Flux Dev"}, {"name": "Flux Schnell", "value": "Flux Schnell"}]
    rec = env.fake.interactions[-1]
    assert rec.type == 4 and rec.payload["data"]["options"] == [
        {"type": 3, "name": "name", "value": "flux", "focused": True}
    ]
    assert rec.response_type == 8
    assert env.bot.seen[-1] == ("autocomplete", "flux", "flux")


async def test_autocomplete_over_25_choices_is_rejected(env: Env) -> None:
    with pytest.raises(InteractionRejected) as ei:
        await env.fake.autocomplete("greedy", focused="tag", value="", channel_id=env.ch("general"),
                                    user_id=env.user("member"))
    assert ei.value.request.status == 400 and ei.value.request.errors[0][0] == "data.choices"
    assert env.fake.validation_errors[-1] is ei.value.request
    # discord.py logs the failed autocomplete response
    record = await env.errors.wait_for_error()
    assert "autocomplete" in record.getMessage()
    env.errors.clear()


# -------------------------------------------------------------------------- components and modals


async def test_button_and_select(env: Env) -> None:
    fake = env.fake
    rec = await fake.slash("pick", channel_id=env.ch("general"), user_id=env.user("member"))
    await rec.wait_response()
    message = rec.original
    assert message is not None
    rows = message["components"]
    assert [c["type"] for c in rows[0]["components"]] == [2] and rows[1]["components"][0]["type"] == 3

    click = await fake.click(message, "pick:like", user_id=env.user("moderator"))
    assert click.payload["data"] == {"custom_id": "pick:like", "component_type": 2}
    assert click.payload["message"]["id"] == message["id"]
    update = await click.wait_response()
    assert update["type"] == 7
    assert message["content"] == f"liked by {env.user('moderator')}"  # the stored message was edited
    assert message["components"][0]["components"][0]["disabled"] is True
    with pytest.raises(ValueError):  # the client does not let anyone click a disabled button
        await fake.click(message, "pick:like", user_id=env.user("member"))

    choose = await fake.click(message, "pick:model", user_id=env.user("member"), values=["2"])
    answer = await choose.wait_response()
    assert answer["type"] == 4 and answer["data"]["content"] == "picked Pony Diffusion"
    assert answer["data"]["flags"] & 64
    with pytest.raises(ValueError):
        await fake.click(message, "pick:model", user_id=env.user("member"), values=["nope"])


async def test_persistent_view_on_message_the_bot_never_saw(env: Env) -> None:
    fake = env.fake
    components = [{"type": 1, "components": [
        {"type": 2, "style": 3, "label": "Approve", "custom_id": "intake:approve"}]}]
    msg = fake.add_message(env.ch("log"), "Submission #7", components=components)
    rec = await fake.click(msg, "intake:approve", user_id=env.user("moderator"))
    await rec.wait_for(lambda r: r.original is not None and r.original["content"].startswith("approved"))
    assert rec.response_type == 6
    assert env.bot.seen[-1] == ("approve", int(msg["id"]))
    assert msg["content"] == f"approved by <@{env.user('moderator')}>" and msg["components"] == []
    patch = rec.requests[-1]
    assert patch.method == "PATCH" and patch.path.endswith("/messages/@original")
    assert patch.allowed_mentions == {"parse": []}
    assert msg["mentions"] == []  # nothing pinged


async def test_modal_sent_and_submitted(env: Env) -> None:
    fake = env.fake
    rec = await fake.slash("review", channel_id=env.ch("general"), user_id=env.user("member"))
    await rec.wait_response()
    assert rec.response_type == 9 and rec.modal is not None
    assert rec.modal["custom_id"] == "review:modal" and rec.modal["title"] == "Review"
    with pytest.raises(ValueError):  # required input left empty
        await fake.submit_modal("review:modal", {"review:score": "4"}, channel_id=env.ch("general"),
                                user_id=env.user("member"))
    sub = await fake.submit_modal("review:modal", {"review:text": "Great model"}, channel_id=env.ch("general"),
                                  user_id=env.user("member"))
    comps = sub.payload["data"]["components"]
    assert comps[0]["type"] == 1 and comps[0]["components"][0] == {
        "type": 4, "id": comps[0]["components"][0]["id"], "custom_id": "review:text", "value": "Great model"}
    answer = await sub.wait_response()
    assert answer["data"]["content"] == "thanks: Great model (-)"


# ------------------------------------------------------------------------------ channel messages


async def test_channel_message_with_embed_and_file(env: Env) -> None:
    fake = env.fake
    png = tiny_png()
    embed = discord.Embed(title="New model", description="desc").set_image(url="attachment://preview.png")
    sent = await env.text_channel("feeds").send("new!", embed=embed, file=discord.File(io.BytesIO(png), "preview.png"))
    req = fake.find_requests("POST", rf"^/channels/{env.ch('feeds')}/messages$")[-1]
    assert req.status == 200 and req.headers["Content-Type"].startswith("multipart/form-data")
    assert req.json["content"] == "new!" and req.json["attachments"] == [{"id": 0, "filename": "preview.png"}]
    assert [(f.field, f.filename, f.size, f.data) for f in req.files] == [("files[0]", "preview.png", len(png), png)]
    assert req.allowed_mentions == {"parse": []}
    att = sent.attachments[0]
    assert (att.filename, att.size, att.width, att.height) == ("preview.png", len(png), 3, 2)
    assert sent.embeds[0].image.url == att.url  # attachment:// resolved like Discord does
    assert await att.read() == png  # served by the fake's CDN route
    assert sent.guild is not None and sent.author.id == fake.bot_user.id and sent.id == int(req.response["id"])
    stored = fake.messages[env.ch("feeds")][-1]
    assert stored["id"] == str(sent.id) and stored["attachments"][0]["size"] == len(png)
    # edit, fetch, history, delete round trip
    edited = await sent.edit(content="edited")
    assert edited.edited_at is not None and stored["content"] == "edited"
    fetched = await env.text_channel("feeds").fetch_message(sent.id)
    assert fetched.content == "edited"
    await sent.delete()
    assert fake.messages[env.ch("feeds")] == []


#: Discord's request counts with per-route windows 10x shorter: for tests that post five or more messages
#: into one channel but are not about rate limits (discord.py would wait out a 5 s window)
FAST_WINDOWS = pytest.mark.parametrize("env", [{"route_rate_limit_scale": 0.1}], indirect=True,
                                       ids=["fast-windows"])


@FAST_WINDOWS
async def test_history_paging_order(env: Env) -> None:
    ch = env.text_channel("general")
    sent = [await ch.send(f"m{i}") for i in range(5)]
    newest = [m.content async for m in ch.history(limit=3)]
    assert newest == ["m4", "m3", "m2"]
    after = [m.content async for m in ch.history(limit=10, after=sent[1], oldest_first=True)]
    assert after == ["m2", "m3", "m4"]
    before = [m.content async for m in ch.history(limit=10, before=sent[2])]
    assert before == ["m1", "m0"]


@FAST_WINDOWS
async def test_limits_answer_400(env: Env) -> None:
    fake, ch = env.fake, env.text_channel("feeds")
    with pytest.raises(discord.HTTPException) as ei:
        await ch.send(embed=discord.Embed(description="x" * 4097))
    assert ei.value.status == 400 and ei.value.code == 50035
    assert "embeds.0.description" in str(ei.value)
    with pytest.raises(discord.HTTPException) as ei:
        await ch.send(embeds=[discord.Embed(description="x" * 3500), discord.Embed(description="y" * 3000)])
    assert "MAX_EMBED_SIZE_EXCEEDED" in str(ei.value) or "6000" in str(ei.value)
    with pytest.raises(discord.HTTPException):
        await ch.send("x" * 2001)
    fields = discord.Embed(title="t" * 257)
    for i in range(26):
        fields.add_field(name=f"f{i}", value="v")
    with pytest.raises(discord.HTTPException) as ei:
        await ch.send(embed=fields)
    assert {"embeds.0.title", "embeds.0.fields"} <= {e[0] for e in fake.validation_errors[-1].errors}

    async def raw(components: list[dict[str, Any]]) -> set[str]:
        route = discord.http.Route("POST", "/channels/{c}/messages", c=ch.id)
        with pytest.raises(discord.HTTPException) as e:
            await env.bot.http.request(route, json={"content": "x", "components": components})
        assert e.value.status == 400
        return {p for p, _, _ in fake.validation_errors[-1].errors}

    def button(i: int, cid: str | None = None) -> dict[str, Any]:
        return {"type": 2, "style": 1, "label": str(i), "custom_id": cid or f"b{i}"}

    assert "components" in await raw([{"type": 1, "components": [button(i)]} for i in range(6)])
    assert "components.0.components" in await raw([{"type": 1, "components": [button(i) for i in range(6)]}])
    assert "components.0.components.0.custom_id" in await raw([{"type": 1, "components": [button(0, "c" * 101)]}])
    select = {"type": 3, "custom_id": "s", "options": [{"label": str(i), "value": str(i)} for i in range(26)]}
    assert "components.0.components.0.options" in await raw([{"type": 1, "components": [select]}])
    assert len(fake.validation_errors) == 8
    assert fake.messages.get(ch.id, []) == []


async def test_allowed_mentions_decide_who_is_pinged(env: Env) -> None:
    ch = env.text_channel("general")
    member = env.user("member")
    quiet = await ch.send(f"@everyone <@{member}>")  # bot default: AllowedMentions.none()
    stored = env.fake.get_message(quiet.id)
    assert stored is not None and stored["mention_everyone"] is False and stored["mentions"] == []
    assert env.fake.requests[-1].allowed_mentions == {"parse": []}
    loud = await ch.send(f"@everyone <@{member}>", allowed_mentions=discord.AllowedMentions.all())
    stored = env.fake.get_message(loud.id)
    assert stored is not None and stored["mention_everyone"] is True
    assert [u["id"] for u in stored["mentions"]] == [str(member)]


async def test_forbidden_and_unknown_channel(env: Env) -> None:
    fake, bot = env.fake, env.bot
    with pytest.raises(discord.Forbidden) as ei:  # @everyone may not send in #announcements
        await env.text_channel("announcements").send("hi")
    assert ei.value.code == 50013 and ei.value.status == 403
    with pytest.raises(discord.Forbidden) as ei:  # no EMBED_LINKS
        no_embeds = overwrite(env.guild.bot_role_id or 0, deny=P.EMBED_LINKS)
        await fake.set_channel_overwrites(env.ch("general"), [no_embeds])
        await env.text_channel("general").send(embed=discord.Embed(title="x"))
    assert ei.value.code == 50013
    await fake.set_channel_overwrites(env.ch("general"), [overwrite(env.guild.id, deny=P.VIEW_CHANNEL)])
    with pytest.raises(discord.Forbidden) as ei:  # cannot even see it
        await env.text_channel("general").send("x")
    assert ei.value.code == 50001

    feeds = env.ch("feeds")
    await fake.delete_channel(feeds)
    assert await asyncio.wait_for(bot.channel_events.get(), 3) == ("delete", feeds)
    assert bot.get_channel(feeds) is None
    with pytest.raises(discord.NotFound) as nf:
        await bot.get_partial_messageable(feeds).send("x")
    assert nf.value.code == 10003 and nf.value.status == 404


async def test_nonce_dedupes_message_create(env: Env) -> None:
    fake, ch = env.fake, env.text_channel("feeds")
    first = await ch.send("release 1", nonce="f1v2")
    again = await ch.send("release 1", nonce="f1v2")
    other = await ch.send("release 2", nonce="f1v3")
    body = fake.find_requests("POST", r"/messages$")[-3].json
    assert body["nonce"] == "f1v2" and body["enforce_nonce"] is True
    assert again.id == first.id and other.id != first.id
    assert [m["content"] for m in fake.messages[ch.id]] == ["release 1", "release 2"]
    fake.advance_clock(fake.nonce_window + 1)  # the window is a few minutes
    later = await ch.send("release 1", nonce="f1v2")
    assert later.id != first.id
    with pytest.raises(discord.HTTPException) as ei:
        await ch.send("x", nonce="n" * 26)
    assert "nonce" in str(ei.value)


async def test_rate_limit_is_retried(env: Env) -> None:
    fake = env.fake
    fake.rate_limit_next("POST", r"/channels/\d+/messages$", retry_after=0.1)
    start = len(fake.requests)
    msg = await env.text_channel("general").send("after a 429")
    posts = [r for r in fake.requests[start:] if r.method == "POST"]
    assert [r.status for r in posts] == [429, 200]
    assert posts[0].injected and posts[1].time - posts[0].time >= 0.09
    assert msg.content == "after a 429"


async def test_fail_next_injects_errors(env: Env) -> None:
    fake = env.fake
    fake.fail_next("GET", r"^/channels/\d+$", 403)
    with pytest.raises(discord.Forbidden):
        await env.bot.fetch_channel(env.ch("general"))
    channel = await env.bot.fetch_channel(env.ch("general"))
    assert channel.id == env.ch("general")


async def test_a_message_deleted_by_a_moderator_leaves_its_channel(env: Env) -> None:
    fake = env.fake
    sent = await env.text_channel("feeds").send("soon gone")
    fake.delete_message(sent.id)
    assert fake.messages[env.ch("feeds")] == [] and fake.deleted_messages[-1]["id"] == str(sent.id)
    with pytest.raises(discord.NotFound):  # Discord: 10008 Unknown Message
        await env.text_channel("feeds").fetch_message(sent.id)
    history = [m async for m in env.text_channel("feeds").history(limit=10)]
    assert history == []
    with pytest.raises(LookupError):
        fake.delete_message(sent.id)


# ---------------------------------------------------------------------------------------- reactions


async def test_raw_reaction_events(env: Env) -> None:
    fake = env.fake
    post = fake.add_message(env.ch("feeds"), "Model post")  # not in discord.py's cache
    member = env.user("member")
    await fake.react(env.ch("feeds"), int(post["id"]), member, "👍")
    kind, payload = await next_reaction(env.bot)
    assert kind == "add" and payload.user_id == member and payload.message_id == int(post["id"])
    assert str(payload.emoji) == "👍" and payload.guild_id == env.guild.id
    assert payload.member is not None and payload.member.id == member
    assert payload.message_author_id == fake.bot_user.id
    assert payload.type == discord.ReactionType.normal and payload.burst is False
    await fake.react(env.ch("feeds"), int(post["id"]), member, "👍", add=False)
    kind, payload = await next_reaction(env.bot)
    assert kind == "remove" and payload.member is None and payload.user_id == member
    assert fake.reactions(int(post["id"])) == {}


async def test_bot_adds_own_reaction(env: Env) -> None:
    fake = env.fake
    post = await env.text_channel("feeds").send("vote!")
    await post.add_reaction("👍")
    await post.add_reaction("👎")
    put = fake.find_requests("PUT", r"/reactions/.+/@me$")
    assert [r.path.split("/")[-2] for r in put] == ["👍", "👎"] and all(r.status == 204 for r in put)
    assert fake.reactions(post.id) == {"👍": [fake.bot_user.id], "👎": [fake.bot_user.id]}
    # Discord echoes the bot's own reactions over the gateway: bots must ignore them
    kind, payload = await next_reaction(env.bot)
    assert kind == "add" and payload.user_id == fake.bot_user.id
    await post.remove_reaction("👍", env.bot.user)  # type: ignore[arg-type]
    assert fake.find_requests("DELETE", r"/reactions/👍/@me$")[0].status == 204
    fetched = await env.text_channel("feeds").fetch_message(post.id)
    assert [(str(r.emoji), r.count, r.me) for r in fetched.reactions] == [("👎", 1, True)]


# ------------------------------------------------------------------------- DMs, restart, sharding


async def test_direct_message(env: Env) -> None:
    user = await env.bot.fetch_user(env.user("member"))
    msg = await user.send("hello in private")
    assert isinstance(msg.channel, discord.DMChannel)
    assert env.fake.find_requests("POST", r"^/users/@me/channels$")[0].json == {"recipient_id": user.id}
    assert env.fake.messages[msg.channel.id][0]["content"] == "hello in private"


async def test_resume_and_restart_on_same_fake(env: Env) -> None:
    fake, bot = env.fake, env.bot
    await fake.request_reconnect()  # op 7: discord.py reconnects and RESUMEs
    await asyncio.wait_for(bot.resumed.wait(), 5)
    assert len(fake.identify_payloads) == 1
    rec = await fake.slash("model", channel_id=env.ch("general"), user_id=env.user("member"), options={"name": "a"})
    await rec.wait_response()
    # a second bot process against the same fake (restart): new IDENTIFY, persistent view still works
    await bot.close()
    msg = fake.add_message(env.ch("log"), "queued", components=[{"type": 1, "components": [
        {"type": 2, "style": 3, "label": "Approve", "custom_id": "intake:approve"}]}])
    async with running_bot(fake, HubTestBot()) as bot2:
        assert len(fake.identify_payloads) == 2 and bot2.get_guild(env.guild.id) is not None
        assert fake.live_sessions() == 1
        click = await fake.click(msg, "intake:approve", user_id=env.user("moderator"))
        await click.wait_for(lambda r: r.original is not None and r.original["content"].startswith("approved"))


async def test_autosharded_bot_uses_gateway_bot() -> None:
    class Sharded(commands.AutoShardedBot):
        async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
            return None  # the default sleeps 5 s between shards

    with collect_discord_errors() as errors:
        async with FakeDiscord(recommended_shards=2) as fake:
            guilds = fake.add_guilds(40)
            bot = Sharded(command_prefix="!", intents=discord.Intents.default(), **TEST_CLIENT_KWARGS)
            async with running_bot(fake, bot):
                assert len(bot.guilds) == 40 and bot.shard_count == 2
                assert {tuple(p["shard"]) for p in fake.identify_payloads} == {(0, 2), (1, 2)}
                assert bot.get_guild(guilds[7].id).shard_id == (guilds[7].id >> 22) % 2  # type: ignore[union-attr]
            assert fake.find_requests("GET", r"^/gateway/bot$")
            assert fake.unhandled == []
        errors.assert_clean()


async def test_zlib_stream_compression() -> None:
    async with FakeDiscord(compress=True) as fake:
        guild = fake.add_default_guild()
        async with running_bot(fake, HubTestBot()) as bot:
            assert bot.get_guild(guild.id) is not None
            assert fake.compressed_connections == 1  # discord.py asked for zlib-stream and got binary frames
            rec = await fake.slash("model", channel_id=guild.channel("general").id,
                                   user_id=guild.member("member").id, options={"name": "z"})
            await rec.wait_response()


async def test_error_collector_level() -> None:
    with collect_discord_errors() as errors:
        logging.getLogger("discord.test").warning("just a warning")
        logging.getLogger("discord.test").error("an error")
    assert [r.getMessage() for r in errors.errors] == ["an error"]
    with pytest.raises(AssertionError):
        errors.assert_clean()


async def test_stop_bot_is_idempotent() -> None:
    async with FakeDiscord() as fake:
        fake.add_default_guild()
        bot = HubTestBot()
        with patch_discord(fake):
            task = await start_bot(fake, bot)
            await stop_bot(bot, task)
            await stop_bot(bot, task)
        assert task.done() and bot.is_closed()
        assert discord.http.Route.BASE == "https://discord.com/api/v10"


async def test_response_followup_fetch_delete(env: Env) -> None:
    fake = env.fake
    rec = await fake.slash("multi", channel_id=env.ch("general"), user_id=env.user("member"))
    await rec.wait_for(lambda r: r.original_deleted)
    assert rec.response_type == 4 and rec.followups[0]["flags"] & 64
    _, original_id, content = env.bot.seen[-1]
    assert content == "first" and original_id == rec.original_id
    assert [(r.method, r.status) for r in rec.requests] == [("POST", 200), ("POST", 200), ("GET", 200), ("DELETE", 204)]
    assert rec.original is None and fake.messages[env.ch("general")] == []  # the ephemeral one was never there
    assert fake.deleted_messages[-1]["content"] == "first"


async def test_rate_limited_interaction_callback_is_retried(env: Env) -> None:
    env.fake.rate_limit_next("POST", r"/callback$", retry_after=0.05)
    rec = await env.fake.slash("model", channel_id=env.ch("general"), user_id=env.user("member"),
                               options={"name": "rl"})
    assert (await rec.wait_response())["data"]["embeds"][0]["title"] == "rl"
    assert [r.status for r in env.fake.find_requests("POST", r"/callback$")] == [429, 200]


async def test_resume_replays_events_missed_while_disconnected(env: Env) -> None:
    fake = env.fake
    post = fake.add_message(env.ch("feeds"), "post")
    await fake.disconnect(4000)  # discord.py reconnects at once and RESUMEs
    await fake.react(env.ch("feeds"), int(post["id"]), env.user("member"), "🔥")  # maybe before the RESUME
    kind, payload = await next_reaction(env.bot)
    assert kind == "add" and str(payload.emoji) == "🔥"
    await asyncio.wait_for(env.bot.resumed.wait(), 5)
    assert 4000 in fake.gateway_closes and len(fake.identify_payloads) == 1
    assert env.bot.raw_reactions.empty()  # delivered exactly once


async def test_dm_interaction_and_closed_dms(env: Env) -> None:
    fake = env.fake
    member = env.user("member")
    rec = await fake.slash("model", user_id=member, options={"name": "dm"})  # no channel: the user's DM
    assert "guild_id" not in rec.payload and rec.payload["user"]["id"] == str(member)
    assert rec.payload["context"] == 1 and rec.payload["channel"]["type"] == 1
    await rec.wait_response()
    assert rec.original is not None and "guild_id" not in rec.original
    fake.users[member].accepts_dms = False
    user = await env.bot.fetch_user(member)
    with pytest.raises(discord.Forbidden) as ei:
        await user.send("hello?")
    assert ei.value.code == 50007


async def test_message_content_intent_is_enforced() -> None:
    async with FakeDiscord() as fake:
        guild = fake.add_default_guild()
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = True
        async with running_bot(fake, HubTestBot(intents=intents)) as bot:
            general, member = guild.channel("general").id, guild.member("member").id
            await fake.user_message(general, member, "hello bot")
            await fake.user_message(general, member, f"<@{bot.user.id}> hi")  # type: ignore[union-attr]
            await bot.get_channel(general).send("from the bot")  # type: ignore[union-attr]
            await fake.wait_until(lambda: len([e for e in bot.seen if e[0] == "message"]) == 3)
            seen = [e for e in bot.seen if e[0] == "message"]
            assert seen == [("message", member, ""), ("message", member, f"<@{bot.user.id}> hi"),  # type: ignore[union-attr]
                            ("message", fake.bot_user.id, "from the bot")]


# ------------------------------------------------- Discord's strictness: token lifetime, rate limits


async def test_interaction_token_expires_after_15_minutes(env: Env) -> None:
    fake = env.fake
    rec = await fake.slash("later", channel_id=env.ch("general"), user_id=env.user("member"))
    assert (await rec.wait_response())["type"] == 5
    # Discord (interactions/receiving-and-responding): the token stays valid for 15 minutes
    fake.advance_clock(14 * 60)
    env.bot.release_later.set()
    await fake.wait_until(lambda: len([e for e in env.bot.seen if e[0] == "later"]) == 1)
    followup, edited, fetched = env.bot.seen[-1][1]
    assert isinstance(followup, discord.WebhookMessage) and edited.content == "edited late"
    assert fetched.id == followup.id
    start = len(rec.requests)

    fake.advance_clock(60 + 1)  # 15 min + 1 s after the interaction was created
    env.bot.release_later.set()
    await fake.wait_until(lambda: len([e for e in env.bot.seen if e[0] == "later"]) == 2)
    refused = env.bot.seen[-1][1]
    assert all(isinstance(e, discord.HTTPException) for e in refused), refused
    # Discord: 401 {"message": "Invalid Webhook Token", "code": 50027}
    assert [(e.status, e.code, e.text) for e in refused] == [(401, 50027, "Invalid Webhook Token")] * 3
    late = rec.requests[start:]
    assert [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in late] == [
        ("POST", rec.token, 401), ("PATCH", "@original", 401), ("GET", str(followup.id), 401)]
    assert len(rec.followups) == 1 and rec.original is not None and rec.original["content"] == "edited late"
    env.errors.assert_clean()


async def test_expired_token_check_can_be_switched_off() -> None:
    async with FakeDiscord(interaction_token_ttl=None) as fake:
        guild = fake.add_default_guild()
        async with running_bot(fake, HubTestBot()) as bot:
            rec = await fake.slash("later", channel_id=guild.channel("general").id,
                                   user_id=guild.member("member").id)
            await rec.wait_response()
            fake.advance_clock(24 * 3600)
            bot.release_later.set()
            await fake.wait_until(lambda: any(e[0] == "later" for e in bot.seen))
            assert not any(isinstance(o, Exception) for o in bot.seen[-1][1])


def _posts(fake: FakeDiscord, channel_id: int, after: int = 0) -> list[Any]:
    return [r for r in fake.requests[after:] if r.method == "POST" and r.path == f"/channels/{channel_id}/messages"]


async def test_a_burst_into_one_channel_is_paced_by_discord_py(env: Env) -> None:
    fake, general, feeds = env.fake, env.text_channel("general"), env.text_channel("feeds")
    start = len(fake.requests)

    async def burst() -> list[discord.Message]:
        return [await general.send(f"release {i}") for i in range(7)]

    task = asyncio.create_task(burst())
    await fake.wait_until(lambda: len(_posts(fake, general.id, start)) == 5)
    other = await feeds.send("another channel is another bucket")  # not held up by #general's bucket
    sent = await task
    posts = _posts(fake, general.id, start)
    assert [p.status for p in posts] == [200] * 7 and fake.rate_limited == []  # paced: no 429 at all
    assert [m["content"] for m in fake.messages[general.id]] == [f"release {i}" for i in range(7)]
    assert [m.id for m in sent] == [int(m["id"]) for m in fake.messages[general.id]]
    # Discord's observed bucket for creating messages: 5 per 5 s per channel
    headers = [p.response_headers for p in posts]
    assert [h["X-RateLimit-Limit"] for h in headers[:5]] == ["5"] * 5
    assert [h["X-RateLimit-Remaining"] for h in headers[:5]] == ["4", "3", "2", "1", "0"]
    assert 4.0 < float(headers[0]["X-RateLimit-Reset-After"]) <= 5.0
    assert len({h["X-RateLimit-Bucket"] for h in headers}) == 1
    assert headers[5]["X-RateLimit-Remaining"] == "4"  # a new window
    assert posts[5].time - posts[0].time >= 5.0 - 0.01  # discord.py waited for the window to end
    feeds_post = _posts(fake, feeds.id, start)[0]
    assert feeds_post.time < posts[5].time and other.content.startswith("another")
    assert feeds_post.response_headers["X-RateLimit-Remaining"] == "4"
    assert feeds_post.response_headers["X-RateLimit-Bucket"] == headers[0]["X-RateLimit-Bucket"]


async def test_reactions_are_limited_per_channel(env: Env) -> None:
    fake = env.fake
    post = fake.add_message(env.ch("feeds"), "vote")
    message = env.text_channel("feeds").get_partial_message(int(post["id"]))
    start = len(fake.requests)
    for emoji in ("👍", "👎", "🔥"):
        await message.add_reaction(emoji)
    puts = [r for r in fake.requests[start:] if r.method == "PUT"]
    assert [r.status for r in puts] == [204] * 3 and fake.rate_limited == []
    # Discord's observed reaction bucket: 1 per 0.25 s per channel
    assert all(r.response_headers["X-RateLimit-Limit"] == "1" for r in puts)
    assert all(r.response_headers["X-RateLimit-Remaining"] == "0" for r in puts)
    assert all(0.0 < float(r.response_headers["X-RateLimit-Reset-After"]) <= 0.25 for r in puts)
    assert all(b.time - a.time >= 0.25 - 0.01 for a, b in itertools.pairwise(puts))


@pytest.mark.parametrize(
    "env", [{"rate_limit_headers": False, "rate_limit_buckets": {"message_create": (5, 0.5)}}], indirect=True,
    ids=["no-headers"])
async def test_without_headers_discord_py_bursts_into_real_429s_and_retries(env: Env) -> None:
    fake, general = env.fake, env.text_channel("general")
    start = len(fake.requests)
    sent = [await general.send(f"post {i}") for i in range(8)]
    posts = _posts(fake, general.id, start)
    # 5 requests per window (Discord's count; the window is shortened to 0.5 s here): the 6th is refused
    assert [p.status for p in posts[:6]] == [200] * 5 + [429]
    assert all(p.status in (200, 429) for p in posts) and len([p for p in posts if p.status == 200]) == 8
    assert fake.rate_limited and all(r.status == 429 for r in fake.rate_limited)
    assert not any(k.startswith("X-RateLimit") for p in posts if p.status == 200 for k in p.response_headers)
    refused = posts[5]
    retry_after = refused.response["retry_after"]
    assert refused.response == {"message": "You are being rate limited.", "retry_after": retry_after,
                                "global": False, "code": 0}
    assert 0 < refused.response["retry_after"] <= 0.5
    h = refused.response_headers
    assert h["Via"] == "1.1 google" and h["X-RateLimit-Scope"] == "user" and h["X-RateLimit-Remaining"] == "0"
    assert h["X-RateLimit-Limit"] == "5" and "X-RateLimit-Global" not in h and int(h["Retry-After"]) >= 1
    assert {"X-RateLimit-Reset", "X-RateLimit-Reset-After", "X-RateLimit-Bucket"} <= set(h)
    assert posts[6].time - refused.time >= refused.response["retry_after"] - 0.01  # discord.py slept first
    # every message arrived exactly once, in order
    assert [m["content"] for m in fake.messages[general.id]] == [f"post {i}" for i in range(8)]
    assert [m.id for m in sent] == [int(m["id"]) for m in fake.messages[general.id]]

    # channel.send() adds a nonce (enforce_nonce), which would hide a 429 that created the message anyway;
    # raw requests without one show that a refused request created nothing
    fake.advance_clock(0.5)
    start, route = len(fake.requests), discord.http.Route("POST", "/channels/{channel_id}/messages",
                                                          channel_id=general.id)
    for i in range(6):
        await env.bot.http.request(route, json={"content": f"raw {i}"})
    assert 429 in [p.status for p in _posts(fake, general.id, start)]
    assert [m["content"] for m in fake.messages[general.id]][8:] == [f"raw {i}" for i in range(6)]


@pytest.mark.parametrize(
    "env", [{"rate_limit_headers": False, "rate_limit_via": False,
             "rate_limit_buckets": {"message_create": (5, 60.0)}}], indirect=True, ids=["edge-429"])
async def test_a_429_without_via_raises_and_creates_nothing(env: Env) -> None:
    fake, general = env.fake, env.text_channel("general")
    for i in range(5):
        await general.send(f"post {i}")
    with pytest.raises(discord.HTTPException) as ei:
        await general.send("one too many", nonce="n6")
    assert ei.value.status == 429 and not isinstance(ei.value, discord.RateLimited)
    refused = fake.requests[-1]
    assert refused.status == 429 and refused in fake.rate_limited and "Via" not in refused.response_headers
    assert [m["content"] for m in fake.messages[general.id]] == [f"post {i}" for i in range(5)]  # not created
    fake.advance_clock(60)  # the window is over; the nonce was not used up by the refused request
    again = await general.send("one too many", nonce="n6")
    assert [m["content"] for m in fake.messages[general.id]][-1] == "one too many"
    assert again.id == int(fake.messages[general.id][-1]["id"]) and len(fake.messages[general.id]) == 6


async def test_the_global_limit_is_50_requests_per_second(env: Env) -> None:
    fake, bot = env.fake, env.bot
    fake.advance_clock(1.0)  # a fresh global window, whatever the start-up used
    start = len(fake.requests)
    channels = await asyncio.gather(*(bot.fetch_channel(env.ch("general")) for _ in range(60)))
    assert all(c.id == env.ch("general") for c in channels)
    gets = [r for r in fake.requests[start:] if r.method == "GET"]
    # Discord (topics/rate-limits): 50 requests per second per bot token, then a global 429
    assert [r.status for r in gets[:51]] == [200] * 50 + [429]
    assert len([r for r in gets if r.status == 200]) == 60  # discord.py waited and retried the rest
    refused = gets[50]
    assert refused.response["global"] is True and "code" not in refused.response
    assert 0 < refused.response["retry_after"] <= 1.0
    h = refused.response_headers
    assert h["X-RateLimit-Global"] == "true" and h["X-RateLimit-Scope"] == "global" and h["Via"] == "1.1 google"
    assert "X-RateLimit-Bucket" not in h  # GET /channels/{id} has no route bucket here


@pytest.mark.parametrize("env", [{"rate_limit_buckets": {"global": (50, 60.0)}}], indirect=True,
                         ids=["slow-global-window"])
async def test_interaction_callbacks_are_exempt_from_the_global_limit(env: Env) -> None:
    fake, bot = env.fake, env.bot
    fake.advance_clock(60.0)  # a fresh global window (50 requests; one minute so the test is not timed)
    for _ in range(50):  # Discord's 50 per bot token, all used up
        await bot.fetch_channel(env.ch("general"))
    rec = await fake.slash("model", channel_id=env.ch("general"), user_id=env.user("member"),
                           options={"name": "exempt"})
    assert (await rec.wait_response())["data"]["embeds"][0]["title"] == "exempt"
    callbacks = fake.find_requests("POST", r"/callback$")
    assert callbacks[-1].status == 200 and "X-RateLimit-Global" not in callbacks[-1].response_headers
    assert fake.rate_limited == []
    # ...while any request with the bot token is refused
    route = discord.http.Route("GET", "/channels/{channel_id}", channel_id=env.ch("general"))
    fake_via_off = fake.rate_limit_via
    fake.rate_limit_via = False  # so discord.py raises instead of waiting out the minute
    with pytest.raises(discord.HTTPException) as ei:
        await bot.http.request(route)
    fake.rate_limit_via = fake_via_off
    # GET /channels/{id} has no route bucket here: only the global limit can have refused it
    assert ei.value.status == 429 and fake.rate_limited[-1].path == f"/channels/{env.ch('general')}"


async def test_rate_limits_can_be_switched_off() -> None:
    async with FakeDiscord(rate_limits=False) as fake:
        guild = fake.add_default_guild()
        async with running_bot(fake, HubTestBot()) as bot:
            channel = bot.get_channel(guild.channel("general").id)
            assert isinstance(channel, discord.TextChannel)
            started = asyncio.get_running_loop().time()
            for i in range(8):
                await channel.send(f"m{i}")
            assert asyncio.get_running_loop().time() - started < 2.0
            posts = fake.find_requests("POST", r"/messages$")
            assert all(not any(k.startswith("X-RateLimit") for k in p.response_headers) for p in posts)
            assert fake.rate_limited == [] and len(fake.messages[channel.id]) == 8


async def test_unknown_rate_limit_bucket_is_an_error() -> None:
    with pytest.raises(ValueError, match="message_create"):
        FakeDiscord(rate_limit_buckets={"messages": (5, 5.0)})


# ------------------------------------------------------------------------------- link button URLs


async def test_link_button_url_is_at_most_512_characters(env: Env) -> None:
    fake, ch = env.fake, env.text_channel("general")

    def view_with_link(length: int) -> discord.ui.View:
        url = "https://civitai.com/models/1?q="
        view = discord.ui.View()
        view.add_item(discord.ui.Button(label="Open", url=url + "x" * (length - len(url))))
        return view

    # Discord (components/reference): a button's url is at most 512 characters
    ok = await ch.send("fits", view=view_with_link(512))
    assert len(fake.get_message(ok.id)["components"][0]["components"][0]["url"]) == 512  # type: ignore[index]
    with pytest.raises(discord.HTTPException) as ei:
        await ch.send("too long", view=view_with_link(513))
    assert ei.value.status == 400 and ei.value.code == 50035
    assert fake.validation_errors[-1].errors == [
        ("components.0.components.0.url", "BASE_TYPE_MAX_LENGTH", "Must be 512 or fewer in length.")]
    body = fake.validation_errors[-1].response
    assert body["errors"]["components"]["0"]["components"]["0"]["url"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert [m["content"] for m in fake.messages[ch.id]] == ["fits"]
    fake.validation_errors.clear()
