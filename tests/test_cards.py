"""Card building blocks: model references, hub HTML to markdown, licence words, image selection."""

from __future__ import annotations

import pytest

from bot.catalog.cards import ModelRef, allowed_images, parse_model_ref
from bot.core.errors import UserError
from bot.core.rating import ChannelPolicy, Rating
from bot.hub.models import Model, ModelVersion
from bot.render.cards import licence_text
from bot.render.html import html_to_markdown, html_to_text


@pytest.mark.parametrize(
    ("text", "ref"),
    [("4384", ModelRef(4384)), (" 4384 ", ModelRef(4384)),
     ("https://civitai.com/models/4384/dreamshaper?modelVersionId=128713", ModelRef(4384, 128713)),
     ("https://civitai.green/models/4384", ModelRef(4384)), ("civitai.com/models/12", ModelRef(12)),
     ("<https://civitai.red/models/5?modelVersionId=x>", ModelRef(5)), ("dreamshaper", None),
     ("https://example.com/models/4384", None), ("12345678901", None)],
)
def test_model_references(text: str, ref: ModelRef | None) -> None:
    assert parse_model_ref(text) == ref


def test_a_hub_link_that_is_not_a_model() -> None:
    with pytest.raises(UserError, match="not a model page"):
        parse_model_ref("https://civitai.com/images/123")


def test_description_html_becomes_safe_short_markdown() -> None:
    html = ('<p>Hello <strong>world</strong> @everyone <a href="https://civitai.com/models/1">see [this]</a>'
            '<a href="javascript:alert(1)">bad</a><script>alert("x")</script><img src="https://x/y.png"></p>'
            '<ul><li>first</li><li>second</li></ul><h2>Usage</h2><p><code>trigger</code> &amp; more</p>'
            '<iframe src="https://evil"></iframe><a href="https://banner"><img src="b.png"></a>')
    out = html_to_markdown(html, limit=500)
    assert "**world**" in out and "@\u200beveryone" in out
    assert "[see \\[this\\]](https://civitai.com/models/1)" in out
    assert "javascript" not in out and "alert" not in out and "y.png" not in out and "evil" not in out
    assert "banner" not in out and "• first\n• second" in out and "**Usage**" in out
    assert "`trigger` & more" in out
    assert len(html_to_markdown("<p>" + "word " * 1000 + "</p>", limit=200)) <= 200
    assert html_to_text(html, limit=60).startswith("Hello world @\u200beveryone see [this]bad • first")
    assert html_to_markdown(None) == "" and html_to_markdown("<p><p></p>") == ""


def test_licence_in_words() -> None:
    model = Model.from_json({"id": 1, "allowNoCredit": False, "allowCommercialUse": ["Image", "RentCivit"],
                             "allowDerivatives": True, "allowDifferentLicense": False})
    assert licence_text(model) == ("Credit the creator; commercial: sell generated images, use on the hub's "
                                   "generator; merges allowed (same permissions)")
    legacy = Model.from_json({"id": 2, "allowNoCredit": True, "allowCommercialUse": "None", "allowDerivatives": False})
    assert licence_text(legacy) == "No credit needed; no commercial use; no sharing merges"
    assert licence_text(Model.from_json({"id": 3})) == "No commercial use"


def test_allowed_images_follow_the_channel() -> None:
    version = ModelVersion.from_json({"id": 1, "images": [
        {"url": "https://image.civitai.com/a.jpeg", "nsfwLevel": 1},
        {"url": "https://image.civitai.com/b.jpeg", "nsfwLevel": 4},
        {"url": "https://image.civitai.com/c.jpeg", "nsfwLevel": 32},
        {"url": "https://image.civitai.com/d.mp4", "nsfwLevel": 1, "type": "video"},
        {"url": "https://image.civitai.com/e.jpeg", "nsfw": True},
    ]})
    ordinary = ChannelPolicy(guild_id=1, age_restricted=False, max_rating=Rating.PG13)
    shown, withheld = allowed_images(version, ordinary)
    assert [i.url.rsplit("/", 1)[1] for i in shown] == ["a.jpeg"] and withheld == 3
    restricted = ChannelPolicy(guild_id=1, age_restricted=True, max_rating=Rating.PG)
    shown, withheld = allowed_images(version, restricted)
    assert [i.url.rsplit("/", 1)[1] for i in shown] == ["a.jpeg", "b.jpeg", "e.jpeg"] and withheld == 1


def test_huge_descriptions_convert_quickly_and_stay_short() -> None:
    import time

    html = "<p>paragraph text</p>" * 20_000 + "<p>" + "word " * 200_000 + "</p>"
    started = time.process_time()
    out = html_to_markdown(html, limit=900)
    text = html_to_text(html, limit=300)
    assert len(out) <= 900 and out.endswith("…") and len(text) <= 300
    assert time.process_time() - started < 2  # linear, not quadratic (was 10 s for 20,000 paragraphs)


@pytest.mark.parametrize("text", ["²", "１２３", "12²", "٣"])
def test_digits_outside_ascii_are_names_not_ids(text: str) -> None:
    assert parse_model_ref(text) is None
