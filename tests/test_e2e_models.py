"""/model, /search and /hash through the real bot, the loopback Discord and the loopback hub."""

from __future__ import annotations

import asyncio
import io
import re
import time
from pathlib import Path

import pytest
from PIL import Image as PILImage

from tests.support import BotWorld, bot_world

PONY, PONY_V6 = 257749, 290640


def _fields(embed: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def _image_requests(world: BotWorld, model: dict) -> list:
    uuids = {re.search(r"/([0-9a-f-]{36})/", i["url"]).group(1)
             for v in model["modelVersions"] for i in v["images"] if re.search(r"/([0-9a-f-]{36})/", i["url"])}
    return [r for r in world.hub.requests if any(u in r.path for u in uuids)]


@pytest.mark.hub_samples  # the captured models by id or name
async def test_model_card_from_the_2025_sample(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        rec = await world.slash("model", options={"model": str(PONY)})
        await rec.wait_response()
        message = await rec.wait_original(lambda m: bool(m.get("embeds")))
        embed = message["embeds"][0]
        fields = _fields(embed)
        assert embed["title"] == "Pony Diffusion V6 XL"
        assert embed["url"].endswith(f"/models/{PONY}?modelVersionId={PONY_V6}")
        assert fields["Creator"] == "PurpleSmartAI" and fields["Type"] == "Checkpoint"
        assert fields["Base model"] == "Pony"
        assert "V6 (start with this one)" in fields["Versions"]
        assert "67AB2FD8EC" in fields["Primary file"] and "SHA256" in fields["Primary file"]
        assert "SafeTensor" in fields["Primary file"] and "fp16" in fields["Primary file"]
        assert "commercial" in fields["Licence"].lower()
        assert "⬇ 713.9k" in fields["Hub stats"] and "👍 68.8k" in fields["Hub stats"]
        buttons = [c for row in message["components"] for c in row["components"]]
        assert [b["label"] for b in buttons] == ["Open on the hub", "Download", "Versions"]
        assert buttons[2]["custom_id"] == f"card:versions:{PONY}"
        assert buttons[1]["url"] == "https://civitai.com/api/download/models/290640"


@pytest.mark.hub_samples  # the captured models by id or name
async def test_model_card_from_the_2023_era(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        rec = await world.slash("model", options={"model": "https://civitai.com/models/1244?modelVersionId=1318"})
        await rec.wait_response()
        embed = (await rec.wait_original(lambda m: bool(m.get("embeds"))))["embeds"][0]
        fields = _fields(embed)
        assert embed["title"] == "froggy style"
        assert "toad" in fields["Versions"] and "`ttdddd`" in fields["Trigger words"]
        assert "0DF040C8CD" in fields["Primary file"] and "PickleTensor" in fields["Primary file"]

        rec = await world.slash("model", options={"model": "3036"})
        await rec.wait_response()
        embed = (await rec.wait_original(lambda m: bool(m.get("embeds"))))["embeds"][0]
        fields = _fields(embed)
        assert embed["title"].startswith("CharTurner") and fields["Creator"] == "mousewrites"
        assert "CharTurner V2 - For 2.1" in fields["Versions"] and "F253ABB016" in fields["Primary file"]


async def test_mature_images_never_reach_an_ordinary_channel(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        model = world.hub.publish_model(image_levels=[4, 8, 16], name="Only Mature Pictures", type="LORA")
        rec = await world.slash("model", options={"model": str(model["id"])}, channel="general")
        await rec.wait_response()
        message = await rec.wait_original(lambda m: bool(m.get("embeds")))
        embed = message["embeds"][0]
        assert not _image_requests(world, model), "an image above PG13 was fetched for an ordinary channel"
        image_urls = {i["url"] for v in model["modelVersions"] for i in v["images"]}
        assert not any(url in str(message) for url in image_urls)
        # only a blurred placeholder, built from the BlurHash without fetching anything
        assert "hidden by this channel's rating" in embed["footer"]["text"]
        assert "blurred placeholder" in embed["footer"]["text"]
        assert [a["filename"] for a in message["attachments"]] == ["preview.jpg"] or \
            [a["filename"] for a in message["attachments"]] == ["preview.webp"]

        rec = await world.slash("model", options={"model": str(model["id"])}, channel="nsfw")
        await rec.wait_response()
        message = await rec.wait_original(lambda m: bool(m.get("embeds")))
        embed = message["embeds"][0]
        assert _image_requests(world, model), "the age-restricted channel should show the images"
        assert "hidden" not in embed["footer"]["text"] and "placeholder" not in embed["footer"]["text"]
        assert embed["image"]["url"].rsplit("/", 1)[-1] in ("preview.jpg", "preview.webp")
        files = rec.callback_files or [f for r in rec.requests for f in r.files]
        picture = PILImage.open(io.BytesIO(files[0].data))
        assert picture.size[0] > 0 and len(files[0].data) <= 1_000_000


async def test_the_server_max_rating_moves_the_line(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        model = world.hub.publish_model(image_levels=[4], name="R Rated", type="LORA", n_versions=1)
        rec = await world.slash("settings set", user="manager", options={"key": "max_rating", "value": "R"})
        await rec.wait_response()
        rec = await world.slash("model", options={"model": str(model["id"])}, channel="general")
        await rec.wait_response()
        message = await rec.wait_original(lambda m: bool(m.get("embeds")))
        assert _image_requests(world, model)
        assert "hidden" not in message["embeds"][0]["footer"]["text"]


async def test_search_pages_and_opens_a_card(tmp_path: Path) -> None:
    async with bot_world(tmp_path, hub_kwargs={"generated": 120}) as world:
        rec = await world.slash("search", options={"query": "a", "sort": "Most Downloaded"})
        await rec.wait_response()
        message = await rec.wait_original(lambda m: bool(m.get("embeds")))
        request = world.hub.requests_to("/api/v1/models")[0]
        assert request.param("query") == "a" and request.param("sort") == "Most Downloaded"
        embed = message["embeds"][0]
        assert embed["description"].count("\n**") == 9  # ten results on the page
        components = [c for row in message["components"] for c in row["components"]]
        select = next(c for c in components if c["type"] == 3)
        assert len(select["options"]) == 10
        following = next(c for c in components if c.get("emoji", {}).get("name") == "▶")
        click = await world.fake.click(message, following["custom_id"], user_id=world.member("member"))
        page2 = (await click.wait_response())["data"]["embeds"][0]
        assert page2["description"].startswith("**11.**")

        current = world.fake.get_message(int(message["id"]))
        select = next(c for row in current["components"] for c in row["components"] if c["type"] == 3)
        chosen = select["options"][0]["value"]
        pick = await world.fake.click(current, select["custom_id"], user_id=world.member("member"), values=[chosen])
        await pick.wait_response()
        card = await pick.wait_original(lambda m: bool(m.get("embeds")))
        assert card["embeds"][0]["footer"]["text"].startswith(f"Model {chosen}")


@pytest.mark.hub_samples  # the captured models by id or name
async def test_search_during_an_outage_answers_from_the_cache(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        rec = await world.slash("search", options={"query": "realistic"})
        await rec.wait_response()
        world.hub.down = True
        world.hub.down_retry_after = "0"
        rec = await world.slash("search", options={"query": "majic"})
        await rec.wait_response()
        message = await rec.wait_original(lambda m: bool(m.get("embeds")))
        embed = message["embeds"][0]
        assert "majicMIX realistic" in embed["description"]
        assert "Hub unavailable" in embed["footer"]["text"]


@pytest.mark.hub_samples  # the captured models by id or name
async def test_hash_lookup_any_case_and_not_found(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        rec = await world.slash("hash", options={"value": "  67ab2fd8ec  "})
        await rec.wait_response()
        embed = (await rec.wait_original(lambda m: bool(m.get("embeds"))))["embeds"][0]
        assert embed["title"] == "Pony Diffusion V6 XL" and f"version {PONY_V6}" in embed["footer"]["text"]

        rec = await world.slash("hash", options={"value": "0" * 64})
        await rec.wait_response()
        await rec.wait_for(lambda r: bool(r.followups) or r.response_type == 4)
        texts = [f.get("content") or "" for f in rec.followups] + [rec.data.get("content") or ""]
        assert any("No model on the hub has a file with the hash" in t for t in texts)

        rec = await world.slash("hash", options={"value": "xyz"})
        content = (await rec.wait_response())["data"]["content"]
        assert rec.ephemeral and "not a hub file hash" in content


async def test_errors_are_short_and_ephemeral(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        rec = await world.slash("model", options={"model": "999999999"})
        await rec.wait_response()
        message = await _error_message(rec)
        assert "no model with id 999999999" in message["content"] and message["ephemeral"]

        world.hub.down = True
        world.hub.down_retry_after = "0"
        rec = await world.slash("model", options={"model": "4384"})
        await rec.wait_response()
        message = await _error_message(rec)
        assert "not answering" in message["content"] and message["ephemeral"]

        world.hub.down = False
        assert world.bot is not None  # the outage's 503s paused the hub's callers for a moment: let it pass
        await asyncio.sleep(world.bot.services.hub.paused_for("/models")[0])
        world.hub.fail(429, times=10, retry_after="100", path="/api/v1/models")
        rec = await world.slash("model", options={"model": "7240"})
        await rec.wait_response()
        message = await _error_message(rec)
        assert "rate-limiting" in message["content"] and message["ephemeral"]


async def _reply(rec) -> dict:
    """The message a member sees in answer: the response itself, or the follow-up after a deferral."""
    await rec.wait_response()
    await rec.wait_for(lambda r: r.response_type == 4 or bool(r.followups))
    return rec.original if rec.response_type == 4 else rec.followups[-1]


async def _error_message(rec) -> dict:
    """The error a member sees: an ephemeral reply, or an ephemeral follow-up after a deferral (whose
    public "thinking" message is deleted)."""
    if rec.response_type == 4:
        return {"content": rec.data["content"], "ephemeral": rec.ephemeral}
    await rec.wait_for(lambda r: bool(r.followups))
    followup = rec.followups[-1]
    assert rec.original_deleted, "the public 'thinking' message must not stay"
    return {"content": followup["content"], "ephemeral": bool(int(followup.get("flags", 0)) & 64)}


HOSTILE = ['"', "a AND", "NEAR(", "*", "(((", "x" * 100, "名前", "🙂", "-", "^a", "a:b", "OR OR", "'; DROP TABLE"]


CJK_NAME = "水彩画风格 LoRA"
PUNCTUATED_NAME = "Ani-Mix (v2.1) [SDXL] — “pastel”!!"
HUB_HELD = 30.0  # seconds every hub request is held once the cache is filled: far past Discord's 3 s


async def test_autocomplete_is_local_bounded_and_never_errors(tmp_path: Path) -> None:
    async with bot_world(tmp_path, hub_kwargs={"generated": 200}) as world:
        rec = await world.slash("search", options={"query": "a"})  # fills the cache
        await rec.wait_response()
        await rec.wait_original(lambda m: bool(m.get("embeds")))
        named = {}
        for name in (CJK_NAME, PUNCTUATED_NAME):  # cached through their cards
            model = world.hub.publish_model(name=name, type="LORA", image_levels=[1])
            named[name] = str(model["id"])
            rec = await world.slash("model", options={"model": named[name]})
            await rec.wait_response()
            await rec.wait_original(lambda m: bool(m.get("embeds")))

        # From here every hub request is held far longer than Discord waits for an autocomplete
        # answer (fake.autocomplete raises TimeoutError after 3 s): answers can only come from SQLite.
        world.hub.delay = HUB_HELD
        answered = 0
        for prefix in ("a", "s", "dr", "po", "re"):
            started = time.monotonic()
            choices = await world.autocomplete("model", focused="model", value=prefix)
            assert time.monotonic() - started < 1.0, f"autocomplete for {prefix!r} waited on something"
            assert len(choices) <= 25 and all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)
            answered += bool(choices)
        assert answered >= 3
        first = (await world.autocomplete("model", focused="model", value="a"))[0]
        assert first["value"].isdigit()  # the model id, so /model gets exactly the chosen one
        for text in HOSTILE:
            choices = await world.autocomplete("model", focused="model", value=text)
            assert len(choices) <= 25
            choices = await world.autocomplete("search", focused="query", value=text)
            assert len(choices) <= 25
        # names in another script, or full of punctuation, are found by what a member would type
        for name, typed in ((CJK_NAME, CJK_NAME), (CJK_NAME, "水彩"), (PUNCTUATED_NAME, PUNCTUATED_NAME),
                            (PUNCTUATED_NAME, "Ani-Mix (v2"), (PUNCTUATED_NAME, "“pastel")):
            choices = await world.autocomplete("model", focused="model", value=typed)
            assert named[name] in [c["value"] for c in choices], (typed, choices)
            choices = await world.autocomplete("search", focused="query", value=typed)
            assert name in [c["value"] for c in choices], (typed, choices)
        types = await world.autocomplete("search", focused="type", value="lo")
        assert [c["value"] for c in types][:2] == ["LORA", "LoCon"]
        world.hub.delay = 0.0


@pytest.mark.hub_samples  # the captured models by id or name
async def test_the_card_shows_this_servers_votes(tmp_path: Path) -> None:
    import sqlite3
    import time

    async with bot_world(tmp_path) as world:
        rec = await world.slash("model", options={"model": str(PONY)})
        await rec.wait_response()
        fields = _fields((await rec.wait_original(lambda m: bool(m.get("embeds"))))["embeds"][0])
        assert fields["This server"] == "no votes here yet"  # shown also when there are none

        conn = sqlite3.connect(world.db_path)
        now = time.time()
        conn.executemany(
            "INSERT INTO votes (guild_id, model_version_id, user_id, model_id, value, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(world.guild.id, PONY_V6, 1, PONY, 1, now, now), (world.guild.id, 298112, 2, PONY, 1, now, now),
             (world.guild.id, PONY_V6, 3, PONY, -1, now, now), (999, PONY_V6, 4, PONY, -1, now, now)])
        conn.commit()
        conn.close()
        rec = await world.slash("model", options={"model": str(PONY)})
        await rec.wait_response()
        fields = _fields((await rec.wait_original(lambda m: bool(m.get("embeds"))))["embeds"][0])
        # another server's vote does not count; 2 of 3 recommend
        assert fields["This server"] == "👍 2 · 👎 1 · 67% recommend"


@pytest.mark.hub_samples  # the captured models by id or name
async def test_the_versions_button_works_after_a_restart(tmp_path: Path) -> None:
    async with bot_world(tmp_path, start=False) as world:
        async with world.running():
            rec = await world.slash("model", options={"model": str(PONY)})
            await rec.wait_response()
            card = await rec.wait_original(lambda m: bool(m.get("embeds")))
        async with world.running():  # a new process on the same database: the card is old now
            click = await world.fake.click(card, f"card:versions:{PONY}", user_id=world.member("moderator"))
            picker = await _reply(click)
            assert click.ephemeral and "Versions of **Pony Diffusion V6 XL**" in picker["content"]
            select = picker["components"][0]["components"][0]
            assert select["options"][0]["label"] == "V6 Turbo DPO merge"  # newest first
            pick = await world.fake.click(picker, select["custom_id"], user_id=world.member("moderator"),
                                          values=["297064"])
            embed = (await _reply(pick))["embeds"][0]
            assert embed["title"] == "Pony Diffusion V6 XL" and "version 297064" in embed["footer"]["text"]
            assert _fields(embed)["Base model"] == "SD 1.5"
