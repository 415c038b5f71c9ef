"""/search, /model and /hash: thin adapters over bot.catalog.search and bot.catalog.cards."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HubBot
from bot.catalog.cards import ModelCard, ModelRef
from bot.catalog.search import SearchFilters, normalize_type
from bot.hub.client import MODEL_SORTS, PERIODS
from bot.render.embeds import choice_text
from bot.ui.cards import VersionsButton, build_card, send_card
from bot.ui.choices import model_choices
from bot.ui.context import allowed_for, channel_policy
from bot.ui.respond import deferred, send
from bot.ui.search import SearchPages, SearchView

Interaction = discord.Interaction[HubBot]


class Models(commands.Cog):
    def __init__(self, bot: HubBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        # persistent: the Versions button on every card (also feed posts) keeps working after restarts
        self.bot.add_dynamic_items(VersionsButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(VersionsButton)

    # ------------------------------------------------------------------ /search

    @app_commands.command(name="search", description="Search the hub's models")
    @app_commands.describe(query="Words to search for", type="Model type (e.g. LORA, Checkpoint)",
                           base_model="Base model (e.g. SDXL 1.0, Pony, Flux.1 D)", sort="Order of results",
                           period="Only models updated in this period")
    @app_commands.choices(sort=[app_commands.Choice(name=s, value=s) for s in MODEL_SORTS],
                          period=[app_commands.Choice(name=p, value=p) for p in PERIODS])
    @app_commands.guild_only()
    async def search(self, interaction: Interaction, query: str, type: str | None = None,
                     base_model: str | None = None, sort: str | None = None, period: str | None = None) -> None:
        services = self.bot.services
        filters = SearchFilters(query=query.strip()[:200] or None, type=normalize_type(type),
                                base_model=(base_model or "").strip() or None, sort=sort, period=period)
        policy = await channel_policy(interaction)
        results = services.search.results(filters, allowed_for(policy))
        source = SearchPages(results, query, services.settings.hub.base_url)
        view = SearchView(source, interaction.user.id)
        embed = await deferred(interaction, view.start())
        view.interaction = interaction
        await send(interaction, embed=embed, view=view)

    @search.autocomplete("query")
    async def search_query_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        policy = await channel_policy(interaction)
        hits = await self.bot.services.search.model_choices(current, allowed=allowed_for(policy))
        names = list(dict.fromkeys(choice_text(h.name) for h in hits if h.name))
        return [app_commands.Choice(name=n, value=n) for n in names[:25]]

    @search.autocomplete("type")
    async def type_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=t, value=t) for t in self.bot.services.search.type_choices(current)]

    @search.autocomplete("base_model")
    async def base_model_autocomplete(self, interaction: Interaction,
                                      current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=choice_text(b), value=choice_text(b))
                for b in self.bot.services.search.base_model_choices(current)]

    # ------------------------------------------------------------------ /model

    @app_commands.command(name="model", description="Show a model's card")
    @app_commands.describe(model="A model id, a hub link, or a name", version="A version of that model")
    @app_commands.guild_only()
    async def model(self, interaction: Interaction, model: str, version: str | None = None) -> None:
        cards = self.bot.services.cards

        async def work() -> ModelCard:
            ref = await cards.resolve(model)
            if version and version.strip().isdecimal() and version.strip().isascii():
                ref = ModelRef(ref.model_id, int(version.strip()))
            return await build_card(interaction, ref)

        await send_card(interaction, await deferred(interaction, work()))

    @model.autocomplete("model")
    async def model_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await model_choices(interaction, current)

    @model.autocomplete("version")
    async def version_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        chosen = str(getattr(interaction.namespace, "model", "") or "").strip()
        if not (chosen.isdecimal() and chosen.isascii()):
            return []
        versions = await self.bot.services.cards.version_choices(int(chosen))
        needle = current.strip().lower()
        out = []
        for v in versions:
            label = " · ".join(x for x in (v.name or str(v.id), v.base_model,
                                           v.date.strftime("%Y-%m-%d") if v.date else None) if x)
            if needle in label.lower() or needle == str(v.id):
                out.append(app_commands.Choice(name=choice_text(label), value=str(v.id)))
        return out[:25]

    # ------------------------------------------------------------------ /hash

    @app_commands.command(name="hash", description="Find the hub model version of a file hash")
    @app_commands.describe(value="AutoV1, AutoV2, AutoV3, SHA256, CRC32 or BLAKE3 hash, any case")
    @app_commands.guild_only()
    async def hash(self, interaction: Interaction, value: str) -> None:
        async def work() -> ModelCard:
            policy = await channel_policy(interaction)
            return await self.bot.services.cards.build_for_hash(
                value, policy, with_preview=interaction.app_permissions.attach_files)

        await send_card(interaction, await deferred(interaction, work()))


async def setup(bot: HubBot) -> None:
    await bot.add_cog(Models(bot))
