"""Logging set-up: one format, and secrets redacted from every record, whoever logs it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable

REDACTED = "********"


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then replaces every known secret (token, API key) in the whole text,
    tracebacks included."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = tuple(sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True))

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


class BriefErrors(logging.Filter):
    """Turns records that carry an *expected* error (``brief(record)`` gives one line for it) into
    one warning line without the traceback: a network failure a library retries is not a bug."""

    def __init__(self, brief: Callable[[logging.LogRecord], str | None]) -> None:
        super().__init__()
        self.brief = brief

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            text = self.brief(record)
            if text is not None:
                record.msg, record.args = f"{record.getMessage()}: {text}", None
                record.exc_info, record.exc_text = None, None
                if record.levelno > logging.WARNING:
                    record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def configure_logging(level: str = "INFO", *, secrets: Iterable[str] = (), stream=None,
                      brief: Callable[[logging.LogRecord], str | None] | None = None) -> None:
    """Route all logging to stderr (or ``stream``) through the redacting formatter. ``brief``: see
    :class:`BriefErrors`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", secrets))
    if brief is not None:
        handler.addFilter(BriefErrors(brief))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that are chatty at INFO: keep their warnings, drop per-request lines.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("httpcore").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("discord.gateway").setLevel(max(logging.INFO, root.level))
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))
