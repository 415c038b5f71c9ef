"""Typed hub errors that callers turn into short user messages."""

from __future__ import annotations


class HubError(Exception):
    """Base class. ``user_message`` is safe to show to a Discord user (no URLs with secrets)."""

    user_message = "The model hub could not answer. Try again in a minute."


class HubNotFound(HubError):
    user_message = "The hub has no such item."


class HubUnavailable(HubError):
    """5xx or transport failures that persisted through the retries."""

    user_message = "The model hub is not answering right now. Try again in a few minutes."


class HubRateLimited(HubError):
    """429 that persisted, or a ``Retry-After`` longer than we are willing to wait."""

    user_message = "The model hub is rate-limiting the bot. Try again in a minute."

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HubBadResponse(HubError):
    """The hub answered, but not with the JSON shape we expect (malformed, truncated, HTML ...)."""

    user_message = "The model hub sent an answer the bot could not read. Try again later."


class HubRequestRejected(HubError):
    """4xx other than 404/429: our request was refused (bad parameter, auth). Not retried."""

    user_message = "The model hub refused that request."

    def __init__(self, message: str, *, status: int, detail: str = "", code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail  # the hub's own words (secrets removed), may be empty
        self.code = code  # a tRPC error code (UNAUTHORIZED, FORBIDDEN, ...), may be empty
