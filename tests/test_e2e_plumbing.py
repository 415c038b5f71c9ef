"""Shared plumbing through the real bot: the paginator (owner only, timeout disables it), deferring
only slow work, embed limits on the wire."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support import bot_world

EXTENSIONS = ["cogs.admin", "tests.e2e_extension"]


def _buttons(message: dict) -> list[dict]:
    return [c for row in message.get("components", []) for c in row.get("components", [])]


async def test_paginator_pages_for_its_owner_only(tmp_path: Path) -> None:
    async with bot_world(tmp_path, extensions=EXTENSIONS) as world:
        rec = await world.slash("probe_pages")
        await rec.wait_response()
        message = rec.original
        embed = message["embeds"][0]
        assert embed["title"] == "Page 1" and len(embed["description"]) <= 4096
        assert embed["description"].endswith("…")
        buttons = _buttons(message)
        assert [b.get("label") for b in buttons][2] == "1/3"
        first, previous, _, following, _last = buttons
        assert first["disabled"] and previous["disabled"] and not following["disabled"]

        click = await world.fake.click(message, following["custom_id"], user_id=world.member("member"))
        response = await click.wait_response()
        assert response["type"] == 7 and response["data"]["embeds"][0]["title"] == "Page 2"

        stranger = await world.fake.click(world.fake.get_message(int(message["id"])), following["custom_id"],
                                          user_id=world.member("moderator"))
        refused = await stranger.wait_response()
        assert stranger.ephemeral and "Only the member who ran this command" in refused["data"]["content"]
        assert world.fake.get_message(int(message["id"]))["embeds"][0]["title"] == "Page 2"


async def test_paginator_disables_its_buttons_on_timeout(tmp_path: Path) -> None:
    async with bot_world(tmp_path, extensions=EXTENSIONS) as world:
        rec = await world.slash("probe_pages", options={"idle": 0.3})
        await rec.wait_response()
        assert not all(b.get("disabled") for b in _buttons(rec.original))
        edited = await rec.wait_original(lambda m: all(b.get("disabled") for b in _buttons(m)))
        assert edited["embeds"][0]["title"] == "Page 1"


async def test_fast_work_answers_at_once_slow_work_defers(tmp_path: Path) -> None:
    async with bot_world(tmp_path, extensions=EXTENSIONS) as world:
        fast = await world.slash("probe_slow", options={"seconds": 0.0})
        assert (await fast.wait_response())["type"] == 4
        assert fast.original["content"] == "done after 0.0 s"

        slow = await world.slash("probe_slow", options={"seconds": 1.0})
        assert (await slow.wait_response())["type"] == 5  # deferred ("thinking") well inside 3 s
        await slow.wait_followup()
        await asyncio.sleep(0)
        assert slow.original["content"] == "done after 1.0 s"


async def test_buttons_of_a_forgotten_menu_get_a_short_answer(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        old = world.fake.add_message(world.channel("general"), "old results", components=[
            {"type": 1, "components": [{"type": 2, "style": 2, "label": "▶", "custom_id": "0123456789abcdef"}]}])
        click = await world.fake.click(old, "0123456789abcdef", user_id=world.member("member"))
        response = await click.wait_response(timeout=5)
        assert click.ephemeral and "no longer work" in response["data"]["content"]
