"""Link-based upload intake: the guarded fetcher, safetensors inspection, hashes, pickle scanning and
the jobs that tie them together. Services only: no discord.py here (``bot.ui.intake`` reports)."""

from bot.intake.service import IntakeReporter, IntakeService, file_format, queue_step
from bot.store.intake import IntakeJobRow

__all__ = ["IntakeJobRow", "IntakeReporter", "IntakeService", "file_format", "queue_step"]
