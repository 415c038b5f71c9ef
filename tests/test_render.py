"""Discord's documented embed and message limits hold for everything the render functions build,
and hub text is made safe."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import discord
import pytest

from bot.catalog.cache import Fetched
from bot.catalog.cards import ModelCard
from bot.digests import ArticleEntry, DigestContent, DigestRow, Window
from bot.health.status import JobInfo, StatusReport
from bot.hub.client import HubHealth
from bot.hub.models import Article, Model
from bot.policy.settings import GuildPolicy
from bot.render.cards import model_card_embed, search_page_embed
from bot.render.digests import digest_embed
from bot.render.embeds import choice_text, content, fit
from bot.render.feeds import feed_list_embeds, summary_embed
from bot.render.html import excerpt
from bot.render.status import settings_embed, status_embed
from bot.render.text import escape, plain_number, size_text, truncate
from bot.store.votes import Score
from bot.ui.cards import card_kwargs

# Discord's documented limits, as literals: the test must not take them from the module it checks.
# Source: discord developers docs, resources/message ("Embed Limits"; "Create Message": content,
# embeds), also /work/shared/reference/discord-testing.md §11. Autocomplete choices:
# interactions/application-commands ("Application Command Option Choice Structure").
TITLE = 256
DESCRIPTION = 4096
FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR_NAME = 256
TOTAL = 6000  # summed over every embed of one message
EMBEDS_PER_MESSAGE = 10
CONTENT = 2000
CHOICE_NAME = 100


def _counted(embed: dict[str, Any]) -> int:
    """The characters Discord counts towards the 6000 of a message, from what would be sent."""
    return (len(embed.get("title") or "") + len(embed.get("description") or "")
            + sum(len(f.get("name") or "") + len(f.get("value") or "") for f in embed.get("fields", []))
            + len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or ""))


def assert_discord_accepts(*embeds: discord.Embed, content_text: str | None = None) -> None:
    """What Discord would check on a message carrying ``embeds`` (and ``content_text``)."""
    assert len(embeds) <= EMBEDS_PER_MESSAGE
    total = 0
    for embed in embeds:
        data = embed.to_dict()
        assert len(data.get("title") or "") <= TITLE
        assert len(data.get("description") or "") <= DESCRIPTION
        fields = data.get("fields", [])
        assert len(fields) <= FIELDS
        for f in fields:
            assert 0 < len(f.get("name") or "") <= FIELD_NAME, f
            assert 0 < len(f.get("value") or "") <= FIELD_VALUE, (f["name"], len(f.get("value") or ""))
        assert len((data.get("footer") or {}).get("text") or "") <= FOOTER
        assert len((data.get("author") or {}).get("name") or "") <= AUTHOR_NAME
        total += _counted(data)
    assert total <= TOTAL, f"{total} characters across the embeds of one message"
    if content_text is not None:
        assert len(content_text) <= CONTENT


def _huge() -> discord.Embed:
    embed = discord.Embed(title="T" * 400, description="word " * 2000)
    embed.set_author(name="A" * 300)
    embed.set_footer(text="F" * 3000)
    for i in range(40):
        embed.add_field(name=f"name {i} " * 50, value="v " * 1000)
    return embed


def _huge_model(model_id: int = 1, *, versions: int = 8) -> Model:
    """A hub model with every text the card shows far over Discord's limits."""
    long = "Ω" + "x" * 600
    return Model.from_json({
        "id": model_id, "name": f"{model_id} " + "Very long model name " * 30, "type": "LORA" * 100,
        "description": "<p>" + "A paragraph of hub HTML. " * 2000 + "</p>",
        "creator": {"username": "creator" * 100},
        "tags": [f"tag{i} " + "t" * 300 for i in range(40)],
        "stats": {"downloadCount": 123456, "thumbsUpCount": 999, "thumbsDownCount": 3},
        "allowNoCredit": False, "allowCommercialUse": ["Image", "RentCivit", "Rent", "Sell"],
        "allowDerivatives": True, "allowDifferentLicense": True,
        "modelVersions": [{
            "id": 1000 + i, "name": f"v{i} " + long, "baseModel": "Base " * 100,
            "publishedAt": f"2025-0{1 + i % 9}-01T00:00:00Z",
            "trainedWords": [f"word{j} " + "w" * 400 for j in range(20)],
            "files": [{"id": 7, "name": "file " * 200 + ".safetensors", "sizeKB": 123456.7, "primary": True,
                       "metadata": {"format": "SafeTensor" * 20, "fp": "fp16", "size": "pruned"},
                       "hashes": {"AutoV2": "ABCDEF0123", "SHA256": "AB" * 32}}],
        } for i in range(versions)],
    })


def _card(model: Model) -> ModelCard:
    return ModelCard(model=model, version=model.versions[0], hub_url=f"https://civitai.com/models/{model.id}",
                     images=(), withheld=17, preview=None, score=Score(up=5, down=2),
                     fetched=Fetched(value=model, fetched_at=time.time() - 7200, from_cache=True, stale=True))


def test_fit_truncates_every_part_with_an_ellipsis() -> None:
    embed = fit(_huge())
    assert_discord_accepts(embed)
    assert embed.title.endswith("…") and embed.description.endswith("…")
    assert _counted(embed.to_dict()) > 5000  # trimmed to the budget, not emptied


def test_fit_keeps_at_most_25_fields_even_when_they_are_short() -> None:
    embed = discord.Embed(title="many fields")
    for i in range(40):
        embed.add_field(name=f"f{i}", value=str(i))
    fit(embed)
    assert_discord_accepts(embed)
    assert [f.name for f in embed.fields] == [f"f{i}" for i in range(FIELDS)]  # the first ones, in order


def test_fit_keeps_small_embeds_untouched() -> None:
    embed = discord.Embed(title="Model", description="A description.")
    embed.add_field(name="Type", value="LORA")
    before = embed.to_dict()
    assert fit(embed).to_dict() == before


def test_fit_prefers_trimming_the_description_before_dropping_fields() -> None:
    embed = discord.Embed(title="t", description="d " * 2000)
    for i in range(6):
        embed.add_field(name=f"f{i}", value="v" * 1000)
    fit(embed)
    assert_discord_accepts(embed)
    assert len(embed.fields) == 6 and embed.description.endswith("…")


async def test_a_model_card_message_of_over_long_hub_text_is_accepted() -> None:
    for kwargs in ({}, {"compact": True}, {"heading": "🆕 **New model** " + "h" * 5000, "footer_prefix": "F" * 3000}):
        card = _card(_huge_model())
        embed = model_card_embed(card, **kwargs)
        assert_discord_accepts(embed)
        assert embed.title.endswith("…") and embed.description
        assert {"Type", "Creator"} <= {f.name for f in embed.fields}  # trimmed, not emptied
    message = card_kwargs(_card(_huge_model()))  # what /model sends
    embeds = [message["embed"]] if "embed" in message else message["embeds"]
    assert_discord_accepts(*embeds, content_text=message.get("content"))


def test_search_pages_of_over_long_names_are_accepted() -> None:
    models = [_huge_model(i, versions=1) for i in range(1, 11)]
    embed = search_page_embed("q" * 5000, models, page=3, first_number=21, hub_base_url="https://civitai.com/",
                              note="N" * 5000, more=True)
    assert_discord_accepts(embed)
    assert "**21.**" in embed.description  # the first result survives the trim


def test_feed_summaries_and_feed_lists_are_accepted() -> None:
    items = [("name " * 100, "version " * 100, f"https://civitai.com/models/{i}") for i in range(300)]
    embed = summary_embed(4, items, "https://discord.com/channels/1/2/3", total=1000)
    assert_discord_accepts(embed)
    pages = feed_list_embeds(["line " * 1000 for _ in range(40)])
    assert pages
    for page in pages:  # one page per message (the paginator edits one message)
        assert_discord_accepts(page)


def test_status_and_settings_of_over_long_values_are_accepted() -> None:
    health = HubHealth(consecutive_failures=9, last_error="E" * 5000, last_error_at=time.time(),
                       last_success_at=time.time() - 60, last_latency_ms=12.0)
    report = StatusReport(version="v" * 300, uptime_seconds=1e6, guilds=3, latency_ms=40.0, cached_models=10**6,
                          database_bytes=10**9, newest_fetch=time.time(), hub=health,
                          jobs=tuple(JobInfo(f"job{i}", "job name " * 40, datetime.now(UTC)) for i in range(60)),
                          failed_extensions=tuple("cogs.extension_" + "x" * 200 for _ in range(40)),
                          feeds={"states": {"active": 3, "failing": 2}, "last_poll": time.time(), "pending": 7,
                                 "oldest_pending": time.time() - 100})
    assert_discord_accepts(status_embed(report))
    assert_discord_accepts(settings_embed(GuildPolicy(guild_id=1), "guild name " * 100))


def test_message_content_and_autocomplete_choices_are_cut_to_discords_limits() -> None:
    assert len(content("c" * 5000)) <= CONTENT and content("short") == "short"
    assert len(choice_text("n" * 500)) <= CHOICE_NAME and choice_text("short") == "short"


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [("@everyone look", "@everyone"), ("hi @here", "@here"), ("<@123456789012345678>", "<@1"),
     ("<@!123456789012345678>", "<@!1"), ("<@&123456789012345678>", "<@&1"), ("<#123456789012345678>", "<#1")],
)
def test_escape_breaks_every_mention(text: str, forbidden: str) -> None:
    assert forbidden not in escape(text)
    assert forbidden not in escape(text, markdown=False)


def test_escape_neutralises_markdown() -> None:
    assert escape("**bold** _it_ `code` ~~s~~ ||spoiler||") == \
        "\\*\\*bold\\*\\* \\_it\\_ \\`code\\` \\~\\~s\\~\\~ \\|\\|spoiler\\|\\|"
    assert escape("> quote").startswith("\\>") and escape("# heading").startswith("\\#")
    assert escape(None) == "" and escape("") == ""


def test_truncate() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("alpha beta gamma delta epsilon", 20) == "alpha beta gamma…"
    assert len(truncate("x" * 50, 10)) == 10 and truncate("x" * 50, 10).endswith("…")
    assert truncate("abc", 0) == "" and truncate("abc", 1) == "…"
    assert not truncate("a\\" * 20, 8).rstrip("…").endswith("\\")  # no dangling escape


def test_numbers_and_sizes() -> None:
    assert plain_number(None) == "hidden" and plain_number(999) == "999"
    assert plain_number(12_345) == "12.3k" and plain_number(2_000_000) == "2M"
    assert size_text(6_938_041_049) == "6.46 GB" and size_text(512) == "512 B" and size_text(None) == "unknown size"


# ------------------------------------------------------------------------------------- digests


def _huge_article(article_id: int) -> Article:
    return Article.from_json({
        "id": article_id, "title": f"{article_id} " + "A very long article title @everyone " * 20,
        "user": {"username": "author" * 60}, "nsfwLevel": 1, "publishedAt": "2026-01-15T07:00:00Z",
        "tags": [{"id": i, "name": "tag " * 40} for i in range(12)],
        "stats": {"likeCount": 5, "commentCount": 2, "viewCount": 12345},
    })


def _digest_content(count: int) -> DigestContent:
    digest = DigestRow(id=12, guild_id=1, channel_id=2, created_by=3, schedule="daily", day=None, hour=9,
                       timezone="Europe/Berlin", tags=(), size=count, state="active", state_changed_at=0.0,
                       started_at=datetime(2026, 1, 1, tzinfo=UTC), created_at=0.0, failures=0, retry_at=None,
                       last_error=None, last_error_at=None)
    window = Window(datetime(2026, 1, 14, 8, tzinfo=UTC), datetime(2026, 1, 15, 8, tzinfo=UTC),
                    datetime(2026, 1, 16, 8, tzinfo=UTC))
    body = "<p>" + "Words of an article body, **not bold**, <@123456789012345678> &amp; more. " * 200 + "</p>"
    entries = tuple(ArticleEntry(_huge_article(i), body, f"https://civitai.com/articles/{i}", None)
                    for i in range(1, count + 1))
    return DigestContent(digest, window, entries, None, window.label(digest.timezone))


def test_a_digest_of_ten_over_long_articles_is_accepted_and_never_cut_inside_an_article() -> None:
    content = _digest_content(10)
    embed = digest_embed(content)
    assert_discord_accepts(embed)
    listed = re.findall(r"^\*\*(\d+)\. \[", embed.description, re.M)
    assert listed[:2] == ["1", "2"]  # the best come first, whole
    blocks = embed.description.split("\n\n")
    for block in blocks[:len(listed)]:
        assert len(block.split("\n")) == 3  # title, byline, excerpt: every listed article whole
    if len(listed) < 10:
        assert blocks[-1] == f"…and {10 - len(listed)} more that did not fit"
    assert "@everyone" not in embed.description and "<@123456789012345678>" not in embed.description  # nothing pings
    assert "\\*\\*not bold\\*\\*" in embed.description  # hub text cannot format
    data = embed.to_dict()
    assert data["timestamp"].startswith("2026-01-15T08:00:00") and data["footer"]["text"].startswith("Digest #12 · ")


def test_excerpts_are_plain_text_cut_after_a_whole_word() -> None:
    html = ("<h1>The Title</h1><script>var x = '<p>no</p>';</script><style>.a{b:c}</style>"
            "<p>First&nbsp;line &amp; &lt;tag&gt; &#x2014; caf&eacute;</p>\n\n<iframe src=x>inner</iframe>"
            "<noscript>ns</noscript><p>second    paragraph   <img alt=pic src=y> here</p>")
    assert excerpt(html, skip="The Title") == "First line & <tag> — café second paragraph here"
    assert excerpt(html).startswith("The Title First line")
    assert excerpt("<p>" + "lorem ipsum " * 50 + "</p>", limit=40) == "lorem ipsum lorem ipsum lorem ipsum…"
    assert excerpt("<p>" + "x" * 300 + "</p>", limit=20) == "x" * 19 + "…"  # one long word: cut inside
    assert len(excerpt("<p>" + "word " * 100 + "</p>", limit=200)) <= 200
    assert excerpt(None) == "" and excerpt("<img src=x>") == ""
