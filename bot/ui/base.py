"""What the interaction plumbing needs of the bot, without importing the bot (``bot.app`` sits above
``bot.ui``): its settings, its services, and a handle on running background jobs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from discord.ext import commands

from bot.config import Settings
from bot.services import Services


class ServicesBot(commands.Bot):
    """The base of ``bot.app.HubBot``. ``services`` is set by ``setup_hook``."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        super().__init__(**options)
        self.settings = settings
        self._services: Services | None = None
        self._jobs: set[asyncio.Task[Any]] = set()  # scheduled jobs running now (shutdown waits for them)
        self._stopping = False

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the bot's services are not open yet (setup_hook has not run)")
        return self._services

    @property
    def is_stopping(self) -> bool:
        return self._stopping

    @contextlib.contextmanager
    def background_job(self) -> Iterator[bool]:
        """Scheduled jobs run inside this: shutdown waits for them (bounded) before it closes Discord
        and the database. Yields False when the bot is stopping: the job should not start."""
        task = asyncio.current_task()
        if self._stopping or task is None:
            yield False
            return
        self._jobs.add(task)
        try:
            yield True
        finally:
            self._jobs.discard(task)
