"""Errors whose message is meant for the Discord user (short, says what to do). No discord imports."""

from __future__ import annotations


class UserError(Exception):
    """Raised by services and cogs for bad input or a refused action; shown to the user as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
