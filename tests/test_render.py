"""Discord limits enforced in one place, and hub text made safe."""

from __future__ import annotations

import discord
import pytest

from bot.render import embeds as limits
from bot.render.embeds import fit, fit_all
from bot.render.text import escape, plain_number, size_text, truncate


def _check(embed: discord.Embed, budget: int = limits.TOTAL) -> None:
    assert len(embed) <= budget
    assert len(embed.title or "") <= limits.TITLE
    assert len(embed.description or "") <= limits.DESCRIPTION
    assert len(embed.fields) <= limits.FIELDS
    for f in embed.fields:
        assert 0 < len(f.name or "") <= limits.FIELD_NAME and 0 < len(f.value or "") <= limits.FIELD_VALUE
    assert len(embed.footer.text or "") <= limits.FOOTER
    assert len(embed.author.name or "") <= limits.AUTHOR


def _huge() -> discord.Embed:
    embed = discord.Embed(title="T" * 400, description="word " * 2000)
    embed.set_author(name="A" * 300)
    embed.set_footer(text="F" * 3000)
    for i in range(40):
        embed.add_field(name=f"name {i} " * 50, value="v " * 1000)
    return embed


def test_fit_truncates_every_part_with_an_ellipsis() -> None:
    embed = fit(_huge())
    _check(embed)
    assert embed.title.endswith("…") and embed.description.endswith("…")
    assert len(embed) > 5000  # trimmed to the budget, not emptied


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
    _check(embed)
    assert len(embed.fields) == 6 and embed.description.endswith("…")


def test_fit_all_shares_6000_characters_across_ten_embeds() -> None:
    out = fit_all([_huge() for _ in range(12)])
    assert len(out) <= limits.EMBEDS_PER_MESSAGE
    assert sum(len(e) for e in out) <= limits.TOTAL
    for e in out:
        _check(e)


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
