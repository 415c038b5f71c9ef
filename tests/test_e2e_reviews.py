"""/review, /reviews model|top|remove (issue 10, parts 2-4 and the review half of 7)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from bot.reviews.service import wilson_lower_bound
from tests.support import BotWorld, bot_world

PINGS = "@everyone <@&123> <@456> @here"


async def _open_form(world: BotWorld, model_id: int, user: str = "member") -> dict[str, Any]:
    rec = await world.slash("review", user=user, options={"model": str(model_id)})
    response = await rec.wait_response()
    assert response["type"] == 9, response  # a modal, not a message
    return response["data"]


def _inputs(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {label["component"]["custom_id"]: label["component"] for label in modal["components"]}


async def _submit(world: BotWorld, modal: dict[str, Any], verdict: str, text: str, user: str = "member") -> dict:
    rec = await world.fake.submit_modal(modal["custom_id"], {"review:verdict": [verdict], "review:text": text},
                                        guild_id=world.guild.id, channel_id=world.channel("general"),
                                        user_id=world.member(user))
    return (await rec.wait_response())["data"]


async def test_a_review_is_written_edited_listed_without_pinging_and_removed_by_a_moderator(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        rec = await world.slash("settings set", user="manager",
                                options={"key": "log_channel", "value": str(world.channel("log"))})
        await rec.wait_response()
        model = world.hub.publish_model(type="LORA", name="Reviewed Lora", image_levels=[1])

        modal = await _open_form(world, model["id"])
        inputs = _inputs(modal)
        assert inputs["review:verdict"]["type"] == 3  # recommend or not is a menu, not typed text
        assert inputs["review:text"]["max_length"] == 1000 and not inputs["review:text"].get("value")
        reply = await _submit(world, modal, "recommend", f"Lovely. {PINGS}")
        assert reply["flags"] & 64 and "Saved" in reply["content"]  # only the member sees the receipt

        modal = await _open_form(world, model["id"])  # again: the form opens pre-filled, and edits
        inputs = _inputs(modal)
        assert inputs["review:text"]["value"] == f"Lovely. {PINGS}"
        assert [o["value"] for o in inputs["review:verdict"]["options"] if o.get("default")] == ["recommend"]
        await _submit(world, modal, "not", f"Changed my mind. {PINGS}")
        await _submit(world, await _open_form(world, model["id"], user="moderator"), "recommend", "", user="moderator")

        rec = await world.slash("reviews model", options={"model": str(model["id"])})
        await rec.wait_response()
        page = await rec.wait_original(lambda m: bool(m.get("embeds")))
        embed = page["embeds"][0]
        assert embed["description"].count("**#") == 2  # one review per member: the edit replaced the first
        assert "Changed my mind" in embed["description"] and "Lovely" not in embed["description"]
        assert "👍 1 · 👎 1 · 50% recommend" in [f["value"] for f in embed["fields"]]
        # shown, but nothing in it can ping: inert mentions, and the message says so to Discord
        assert page["mentions"] == [] and page["mention_roles"] == [] and page["mention_everyone"] is False
        assert "@everyone" not in embed["description"].replace("@\u200beveryone", "")

        review_id = sqlite3.connect(world.db_path).execute(
            "SELECT id FROM reviews WHERE user_id = ?", (world.member("member"),)).fetchone()[0]
        rec = await world.slash("reviews remove", user="member", options={"id": review_id})
        assert "moderator" in (await rec.wait_response())["data"]["content"].lower()  # members cannot
        rec = await world.slash("reviews remove", user="moderator", options={"id": review_id, "reason": "spam"})
        assert "removed" in (await rec.wait_response())["data"]["content"]
        await world.fake.wait_until(lambda: world.fake.last_message(world.channel("log")) is not None)
        logged = world.fake.last_message(world.channel("log"))
        assert logged is not None and f"Review #{review_id}" in logged["content"] and "spam" in logged["content"]
        assert logged["mentions"] == [] and logged["mention_everyone"] is False
        votes = sqlite3.connect(world.db_path).execute("SELECT user_id, value FROM votes").fetchall()
        assert votes == [(world.member("moderator"), 1)]  # the removed review's vote went with it


async def test_top_ranks_by_confidence_not_by_tiny_samples(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        import time

        a = world.hub.publish_model(type="LORA", name="Three Of Three", image_levels=[1])
        b = world.hub.publish_model(type="LORA", name="Ninety Of Hundred", image_levels=[1])
        conn = sqlite3.connect(world.db_path)
        now = time.time()
        rows = [(world.guild.id, a["modelVersions"][0]["id"], u, a["id"], 1, now, now) for u in range(3)]
        rows += [(world.guild.id, b["modelVersions"][0]["id"], 100 + u, b["id"], 1 if u < 90 else -1, now, now)
                 for u in range(100)]
        conn.executemany("INSERT INTO votes (guild_id, model_version_id, user_id, model_id, value, created_at, "
                         "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        conn.commit()
        conn.close()
        # 3/3 = 100 % but an interval from 44 %; 90/100 = 90 % with an interval from 83 %
        assert wilson_lower_bound(90, 100) > wilson_lower_bound(3, 3)
        rec = await world.slash("reviews top", options={"period": "all"})
        embed = (await rec.wait_response())["data"]["embeds"][0]
        lines = embed["description"].splitlines()
        assert str(b["id"]) in lines[0] and str(a["id"]) in lines[1]


def test_wilson_lower_bound_matches_the_textbook_values() -> None:
    # Evan Miller, "How Not To Sort By Average Rating": 95 % interval, z = 1.96
    assert abs(wilson_lower_bound(90, 100) - 0.8256) < 1e-3
    assert abs(wilson_lower_bound(3, 3) - 0.4385) < 1e-3
    assert wilson_lower_bound(0, 0) == 0.0


def _buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c.get("custom_id") or c.get("url"): c for row in message.get("components") or []
            for c in row.get("components", [])}


async def test_a_moderator_removes_a_review_with_the_button_on_the_pages(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        rec = await world.slash("settings set", user="manager",
                                options={"key": "log_channel", "value": str(world.channel("log"))})
        await rec.wait_response()
        model = world.hub.publish_model(type="LORA", name="Button Removed Lora", image_levels=[1])
        await _submit(world, await _open_form(world, model["id"]), "not", f"Spam spam {PINGS}")

        rec = await world.slash("reviews model", options={"model": str(model["id"])})  # a member: no button
        await rec.wait_response()
        page = await rec.wait_original(lambda m: bool(m.get("embeds")))
        assert not any("Remove" in (b.get("label") or "") for b in _buttons(page).values())

        rec = await world.slash("reviews model", user="moderator", options={"model": str(model["id"])})
        await rec.wait_response()
        page = await rec.wait_original(lambda m: bool(m.get("embeds")))
        (remove,) = [b for b in _buttons(page).values() if "Remove" in (b.get("label") or "")]
        click = await world.fake.click(page, remove["custom_id"], user_id=world.member("moderator"))
        modal = (await click.wait_response())["data"]
        inputs = _inputs(modal)
        review_id = int(inputs["review:remove:id"]["value"])  # the page's only review, filled in
        done = await world.fake.submit_modal(modal["custom_id"], {"review:remove:reason": "spam"},
                                             guild_id=world.guild.id, channel_id=world.channel("general"),
                                             user_id=world.member("moderator"))
        assert f"Review #{review_id} removed" in (await done.wait_response())["data"]["content"]
        await world.fake.wait_until(lambda: world.fake.last_message(world.channel("log")) is not None)
        logged = world.fake.last_message(world.channel("log"))
        assert logged is not None and f"Review #{review_id}" in logged["content"] and "spam" in logged["content"]
        assert f"<@{world.member('moderator')}>" in logged["content"] and logged["mentions"] == []
        refreshed = await rec.wait_original(lambda m: "No reviews here yet" in m["embeds"][0]["description"])
        assert _buttons(refreshed)[remove["custom_id"]].get("disabled") is True  # nothing left to remove
        assert sqlite3.connect(world.db_path).execute("SELECT count(*) FROM reviews").fetchone() == (0,)


async def test_a_slow_hub_gets_a_write_button_instead_of_a_failed_form(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        model = world.hub.publish_model(type="LORA", name="Slow Hub Lora", image_levels=[1])
        world.hub.delay = 2.5  # longer than the 2 s a form may wait, shorter than the hub timeout
        rec = await world.slash("review", options={"model": str(model["id"])})
        assert (await rec.wait_response())["type"] == 5  # "thinking", within Discord's 3 s
        ready = await rec.wait_original(lambda m: bool(m.get("components")), timeout=10)
        world.hub.delay = 0.0
        (write,) = [b for b in _buttons(ready).values() if (b.get("custom_id") or "").startswith("review:write:")]
        click = await world.fake.click(ready, write["custom_id"], user_id=world.member("member"))
        modal = (await click.wait_response())["data"]
        assert "review:verdict" in _inputs(modal)
        reply = await _submit(world, modal, "recommend", "Worth the wait")
        assert "Saved" in reply["content"]
