"""/digest add|list|remove|preview, /articles, and the digests' scheduled jobs."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HubBot
from bot.core.errors import UserError
from bot.digests import DAYS, DEFAULT_HOUR, DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, parse_tags, stricter, timezone_choices
from bot.render.digests import digest_embed, digest_line, digest_list_embeds, picture_file
from bot.render.embeds import content
from bot.render.text import escape, truncate
from bot.ui.articles import ArticlePages, ArticlesView
from bot.ui.channel_poster import missing_permissions
from bot.ui.checks import manager_only
from bot.ui.choices import complete_list
from bot.ui.context import channel_policy, is_age_restricted
from bot.ui.digest_poster import DigestPoster
from bot.ui.respond import deferred, send
from bot.ui.transformers import DigestArg
from bot.ui.views import send_pages

log = logging.getLogger(__name__)
Interaction = discord.Interaction[HubBot]
CATCH_UP_JOB = "digests-catch-up"
NOT_READY_RETRY = 60.0  # a digest due while the gateway is down is tried again this much later


class Digests(commands.Cog):
    def __init__(self, bot: HubBot) -> None:
        self.bot = bot
        self.poster = DigestPoster(bot)
        #: set once the start-up catch-up (digests due while the bot was down) has run
        self.caught_up = asyncio.Event()

    async def cog_load(self) -> None:
        count = await self.bot.services.digests.start(self.run_job)
        log.info("digests: %d scheduled", count)

    async def cog_unload(self) -> None:
        self.bot.services.digests.stop()
        scheduler = self.bot.services.scheduler
        if scheduler.get_job(CATCH_UP_JOB):
            scheduler.remove_job(CATCH_UP_JOB)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Connected: send what came due while the bot was down (once: the record says what was sent)."""
        self.bot.services.scheduler.add_job(self.catch_up, "date", run_date=datetime.now(UTC), id=CATCH_UP_JOB,
                                            name="digests due while the bot was down", replace_existing=True)

    async def catch_up(self) -> None:
        with self.bot.background_job() as go:
            if go and self.bot.is_ready():
                outcomes = await self.bot.services.digests.run_all_due(self.poster)
                sent = sum(1 for o in outcomes if o.state in ("sent", "recovered"))
                if sent:
                    log.info("digests: %d digest(s) due while the bot was down were sent", sent)
        self.caught_up.set()

    async def run_job(self, digest_id: int) -> None:
        """A digest's scheduled time (or a retry): send its due period."""
        with self.bot.background_job() as go:
            if not go:
                return
            if not self.bot.is_ready():
                self.bot.services.digests.retry_later(digest_id, NOT_READY_RETRY)
                return
            await self.bot.services.digests.run_due(digest_id, self.poster)

    digest = app_commands.Group(name="digest", description="Article digests for this server's channels",
                                guild_only=True)

    # ------------------------------------------------------------------ add

    @digest.command(name="add", description="Post the hub's top articles in a channel every day or week")
    @app_commands.describe(
        channel="Where to post", schedule="Every day or every week (default: weekly if a day is given, else daily)",
        day="Weekly digests: the day (default Monday)", hour="The hour, 0-23, in the time zone (default 9)",
        timezone="An IANA time zone such as Europe/Berlin (default: the bot's)",
        tags="Only articles with any of these tags, comma-separated", size="How many articles (3-10, default 5)")
    @app_commands.choices(schedule=[app_commands.Choice(name=s, value=s) for s in ("daily", "weekly")],
                          day=[app_commands.Choice(name=d, value=i) for i, d in enumerate(DAYS)])
    @manager_only()
    async def add(self, interaction: Interaction, channel: discord.TextChannel, schedule: str | None = None,
                  day: int | None = None, hour: app_commands.Range[int, 0, 23] = DEFAULT_HOUR,
                  timezone: str | None = None, tags: str | None = None,
                  size: app_commands.Range[int, MIN_SIZE, MAX_SIZE] = DEFAULT_SIZE) -> None:
        assert interaction.guild is not None
        me = interaction.guild.me
        if me is not None:
            missing = missing_permissions(channel, me)
            if missing:
                raise UserError(f"I cannot post there yet: I am missing {', '.join(missing)} in {channel.mention}.")
        digests = self.bot.services.digests
        schedule = schedule or ("weekly" if day is not None else "daily")
        digest = await digests.add(guild_id=interaction.guild.id, channel_id=channel.id,
                                   created_by=interaction.user.id, schedule=schedule, day=day, hour=hour,
                                   timezone=timezone, tags=parse_tags(tags), size=size)
        first = int(digests.next_time(digest).timestamp())
        text = (f"Digest **#{digest.id}** added: {escape(truncate(digests.describe(digest), 1500))} → "
                f"{channel.mention}. The first one comes <t:{first}:F> (<t:{first}:R>), with the top articles of "
                f"the {'week' if schedule == 'weekly' else 'day'} before.")
        await send(interaction, content(text), ephemeral=True)

    @add.autocomplete("timezone")
    async def timezone_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        names = timezone_choices(current, self.bot.settings.digests.default_timezone)
        return [app_commands.Choice(name=n, value=n) for n in names]

    @add.autocomplete("tags")
    async def tags_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        last = current.rpartition(",")[2].strip()
        return complete_list(current, await self.bot.services.articles.tag_choices(last))

    # ------------------------------------------------------------------ list / remove / preview

    @digest.command(name="list", description="This server's digests, when they come and what they last sent")
    @manager_only()
    async def list_digests(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None
        digests = self.bot.services.digests
        lines = [digest_line(d, digests.describe(d), last, sent, next_time)
                 for d, last, sent, next_time in await digests.listing(interaction.guild_id)]
        await send_pages(interaction, digest_list_embeds(lines), ephemeral=True)

    @digest.command(name="remove", description="Delete a digest")
    @manager_only()
    async def remove(self, interaction: Interaction, id: DigestArg) -> None:
        await self.bot.services.digests.remove(id)
        await send(interaction, f"Digest #{id.id} removed.", ephemeral=True)

    @digest.command(name="preview", description="Show a digest as it would look now (only to you)")
    @manager_only()
    async def preview(self, interaction: Interaction, id: DigestArg) -> None:
        services = self.bot.services
        digest = id
        here = await channel_policy(interaction)
        target = self.bot.get_channel(digest.channel_id)
        # what the digest's channel may show, and no more than this channel may
        policy = stricter(await services.digests.channel_policy(digest, age_restricted=is_age_restricted(target)),
                          here)
        result = await deferred(interaction, services.digests.preview(
            digest, policy, with_preview=interaction.app_permissions.attach_files), ephemeral=True)
        if not result.entries:
            period = "week" if digest.schedule == "weekly" else "day"
            await send(interaction, f"Digest #{digest.id} has no articles for the last {period}: it would send "
                                    "nothing now.", ephemeral=True)
            return
        note = f"Digest #{digest.id} as it would look now (to <#{digest.channel_id}>):"
        file = picture_file(result.preview)
        if file is not None:
            await send(interaction, note, embed=digest_embed(result), file=file, ephemeral=True)
        else:
            await send(interaction, note, embed=digest_embed(result), ephemeral=True)

    # ------------------------------------------------------------------ /articles

    @app_commands.command(name="articles", description="The hub's newest articles, or those matching your words")
    @app_commands.describe(query="Words in the title", tag="Only articles with this tag")
    @app_commands.guild_only()
    async def articles(self, interaction: Interaction, query: str | None = None, tag: str | None = None) -> None:
        services = self.bot.services
        policy = await channel_policy(interaction)
        results = services.articles.browse(policy, query=query, tag=tag)
        view = ArticlesView(ArticlePages(results, services.articles.url_of), interaction.user.id)
        embed = await deferred(interaction, view.start())
        view.interaction = interaction
        await send(interaction, embed=embed, view=view)

    @articles.autocomplete("tag")
    async def article_tag_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=n) for n in await self.bot.services.articles.tag_choices(current)]


async def setup(bot: HubBot) -> None:
    await bot.add_cog(Digests(bot))
