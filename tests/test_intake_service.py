"""The intake service below Discord: the queue's start-up rules (issue 12)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.config import IntakeSettings
from bot.hub.client import HubClient
from bot.intake import IntakeJobRow, IntakeService
from bot.store import Store
from tests.fakes.file_server import FileServer
from tests.fakes.hub_server import FakeHub


class Outcomes:
    """The Discord side, reduced to what the service tells it."""

    def __init__(self) -> None:
        self.ended: list[IntakeJobRow] = []
        self.done = asyncio.Event()

    async def progress(self, job: IntakeJobRow, step: str, done: int | None = None, total: int | None = None,
                       rate: float | None = None) -> None:
        pass

    async def finished(self, job: IntakeJobRow) -> None:
        self.ended.append(job)
        self.done.set()


async def test_a_job_submitted_before_the_start_up_runs_once(store: Store, tmp_path: Path) -> None:
    # The bot starts the queue once connected; a member can submit earlier. The start-up must not take
    # that job for one a restart cut short and run it a second time on the same temporary file.
    async with FileServer() as files, FakeHub(samples=False, generated=2) as hub:
        files.add_stream("/slow/a.ckpt", chunk=b"\0" * 65536, interval=0.02, total=40 * 65536,
                         content_length=40 * 65536)
        client = HubClient(hub.base_url, timeout=5)
        settings = IntakeSettings(allowed_hosts=("127.0.0.1",), allow_private_networks=True,
                                  work_dir=str(tmp_path / "work"))
        service = IntakeService(settings, store.intake, client, hub_base_url=hub.base_url)
        outcomes = Outcomes()
        service.reporter = outcomes
        try:
            job, _ = await service.submit(guild_id=1, channel_id=2, user_id=3, url=files.url("/slow/a.ckpt"),
                                          notes=None)
            await service.kick()
            await asyncio.sleep(0.2)  # downloading now
            await service.start()  # what the cog does once the bot is ready
            await asyncio.wait_for(outcomes.done.wait(), 20)
            assert [(j.id, j.state, j.error) for j in outcomes.ended] == [(job.id, "review", None)]
            assert len(files.full_gets("/slow/a.ckpt")) == 1
        finally:
            await service.aclose()
            await client.aclose()
