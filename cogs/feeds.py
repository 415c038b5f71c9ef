"""/feed add|list|remove|pause|resume|preview, and the polling job."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HubBot
from bot.catalog.cards import ModelRef
from bot.core.errors import UserError
from bot.core.rating import MAX_RATING_CHOICES
from bot.feeds import (
    FeedFilter,
    SubscriptionRow,
    filter_of,
    version_kind,
)
from bot.render.cards import model_card_embed, preview_file
from bot.render.embeds import content
from bot.render.feeds import feed_line, feed_list_embeds, post_heading
from bot.render.text import escape, truncate
from bot.ui.cards import build_card
from bot.ui.checks import manager_only
from bot.ui.choices import complete_list
from bot.ui.context import is_age_restricted
from bot.ui.feed_poster import DiscordPoster, missing_permissions
from bot.ui.respond import deferred, send
from bot.ui.transformers import FeedArg
from bot.ui.views import send_pages

log = logging.getLogger(__name__)
Interaction = discord.Interaction[HubBot]
JOB_ID = "feeds-poll"


class Feeds(commands.Cog):
    def __init__(self, bot: HubBot) -> None:
        self.bot = bot
        self.poster = DiscordPoster(bot, bot.services.feeds)

    async def cog_load(self) -> None:
        interval = self.bot.settings.feeds.poll_interval_seconds
        self.bot.services.scheduler.add_job(
            self.tick, "interval", seconds=interval, id=JOB_ID, name="feed polling", replace_existing=True,
            next_run_time=datetime.now(UTC) + timedelta(seconds=min(30, interval)))

    async def cog_unload(self) -> None:
        scheduler = self.bot.services.scheduler
        if scheduler.get_job(JOB_ID):
            scheduler.remove_job(JOB_ID)

    async def tick(self) -> None:
        """One poll of every distinct hub query, then delivery of everything planned. At shutdown the
        bot waits for a running tick, which stops after the post in flight."""
        with self.bot.background_job() as go:
            if not go or not self.bot.is_ready():  # not connected (yet, or any more): the next tick
                return
            try:
                await self.bot.services.feeds.tick(self.poster,
                                                   stagger=self.bot.settings.feeds.poll_interval_seconds * 0.5)
            except asyncio.CancelledError:
                if not self.bot.is_stopping:
                    raise
                log.warning("feeds: interrupted by the shutdown; what was in flight is recovered at the next start")

    feed = app_commands.Group(name="feed", description="New-release feeds for this server's channels",
                              guild_only=True)

    # ------------------------------------------------------------------ add

    @feed.command(name="add", description="Post the hub's new releases in a channel")
    @app_commands.describe(
        channel="Where to post", types="Model types, comma-separated (e.g. LORA, Checkpoint)",
        base_models="Base models, comma-separated (e.g. SDXL 1.0, Pony)",
        tags="Hub tags, comma-separated (any of them)",
        creators="Hub creators, comma-separated (any of them)", query="Words the models must match",
        max_rating="Highest content rating to post (the server's policy caps ordinary channels)")
    @app_commands.choices(max_rating=[app_commands.Choice(name=r, value=r) for r in MAX_RATING_CHOICES])
    @manager_only()
    async def add(self, interaction: Interaction, channel: discord.TextChannel, types: str | None = None,
                  base_models: str | None = None, tags: str | None = None, creators: str | None = None,
                  query: str | None = None, max_rating: str | None = None) -> None:
        assert interaction.guild is not None
        services = self.bot.services
        policy = await services.guild_settings.get(interaction.guild.id)
        me = interaction.guild.me
        if me is not None:
            missing = missing_permissions(channel, me, votes=policy.reaction_votes)
            if missing:
                raise UserError(f"I cannot post there yet: I am missing {', '.join(missing)} in {channel.mention}.")

        async def work() -> tuple[SubscriptionRow, FeedFilter]:
            feed_filter = FeedFilter.from_options(
                types=types, base_models=base_models, tags=tags, creators=creators, query=query,
                max_rating=max_rating, known_base_models=await services.search.known_base_models())
            sub = await services.feeds.add(guild_id=interaction.guild_id or 0, channel_id=channel.id,
                                           created_by=interaction.user.id, feed_filter=feed_filter,
                                           age_restricted=is_age_restricted(channel))
            return sub, feed_filter

        sub, feed_filter = await deferred(interaction, work(), ephemeral=True)
        every = self.bot.settings.feeds.poll_interval_seconds
        text = (f"Feed **#{sub.id}** added: {escape(truncate(feed_filter.describe(), 1500))} → {channel.mention}. "
                f"It posts what is published from now on (checked every {every} s).")
        await send(interaction, content(text), ephemeral=True)

    @add.autocomplete("types")
    async def types_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return complete_list(current, list(self.bot.services.search.type_choices("")))

    @add.autocomplete("base_models")
    async def base_models_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return complete_list(current, self.bot.services.search.base_model_choices(""))

    @add.autocomplete("tags")
    async def tags_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        last = current.rpartition(",")[2].strip()
        return complete_list(current, await self.bot.services.search.tag_choices(last))

    @add.autocomplete("creators")
    async def creators_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        last = current.rpartition(",")[2].strip()
        return complete_list(current, await self.bot.services.search.creator_choices(last))

    # ------------------------------------------------------------------ list / remove / pause / resume

    @feed.command(name="list", description="This server's feeds, their state and last post")
    @manager_only()
    async def list_feeds(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None
        listing = await self.bot.services.feeds.listing(interaction.guild_id)
        lines = [feed_line(s, filter_of(s).describe(),
                           f"https://discord.com/channels/{s.guild_id}/{s.channel_id}/{last}" if last else None)
                 for s, last in listing]
        await send_pages(interaction, feed_list_embeds(lines), ephemeral=True)

    @feed.command(name="remove", description="Delete a feed")
    @manager_only()
    async def remove(self, interaction: Interaction, id: FeedArg) -> None:
        await self.bot.services.feeds.remove(id)
        await send(interaction, f"Feed #{id.id} removed.", ephemeral=True)

    @feed.command(name="pause", description="Stop a feed posting for now")
    @manager_only()
    async def pause(self, interaction: Interaction, id: FeedArg) -> None:
        await self.bot.services.feeds.pause(id)
        await send(interaction, f"Feed #{id.id} paused. `/feed resume {id.id}` turns it back on.", ephemeral=True)

    @feed.command(name="resume", description="Turn a paused or disabled feed back on")
    @manager_only()
    async def resume(self, interaction: Interaction, id: FeedArg) -> None:
        await self.bot.services.feeds.resume(id)
        await send(interaction, f"Feed #{id.id} is active again. What it missed meanwhile (up to 30 days) comes "
                                f"at the next poll, summarised beyond {self.bot.settings.feeds.max_posts_per_poll} "
                                "posts.", ephemeral=True)

    @feed.command(name="preview", description="Show what a feed would post now")
    @manager_only()
    async def preview(self, interaction: Interaction, id: FeedArg) -> None:
        services = self.bot.services
        sub = id

        async def work() -> tuple[discord.Embed, discord.File | None, int]:
            found = await services.feeds.preview(sub)
            if not found:
                raise UserError(f"Feed #{sub.id} matches nothing among the hub's newest models right now.")
            model, version = found[0]
            # the picture follows the rules of the channel the preview is shown in
            card = await build_card(interaction, ModelRef(model.id, version.id))
            embed = model_card_embed(card, compact=True, heading=post_heading(version_kind(model, version), model,
                                                                               version),
                                     footer_prefix=f"Preview of feed #{sub.id}")
            return embed, preview_file(card), len(found)

        embed, file, count = await deferred(interaction, work(), ephemeral=True)
        note = f"The newest of {count} matching release{'s' if count != 1 else ''} on the hub right now:"
        if file is not None:
            await send(interaction, note, embed=embed, file=file, ephemeral=True)
        else:
            await send(interaction, note, embed=embed, ephemeral=True)



async def setup(bot: HubBot) -> None:
    await bot.add_cog(Feeds(bot))
