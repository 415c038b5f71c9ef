"""Secrets at rest: members' linked hub keys are sealed with Fernet (AES-128-CBC + HMAC-SHA256, from
the ``cryptography`` package) under a key derived from the operator's ``security.secret_key``.

The operator's secret may be any string: HKDF-SHA256 turns it into the 32 bytes Fernet wants, with
a fixed context string so the same secret used elsewhere yields a different key. A sealed value
opened under another secret (the operator changed it) does not open: ``open`` returns None and the
member links again. Nothing here logs, and ``SecretBox`` does not show its key in ``repr``.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CONTEXT = b"hubbot linked hub keys v1"
MIN_SECRET_LENGTH = 16


def derive_key(secret: str) -> bytes:
    """The Fernet key (url-safe base64 of 32 bytes) for an operator secret."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=CONTEXT).derive(secret.encode("utf-8"))
    return base64.urlsafe_b64encode(raw)


class SecretBox:
    """Seal and open short secrets under the operator's secret."""

    __slots__ = ("_fernet",)

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"the secret must have at least {MIN_SECRET_LENGTH} characters")
        self._fernet = Fernet(derive_key(secret))

    def __repr__(self) -> str:
        return "SecretBox(********)"

    def seal(self, value: str) -> bytes:
        return self._fernet.encrypt(value.encode("utf-8"))

    def open(self, sealed: bytes) -> str | None:
        """The value, or None when it was sealed under another secret or was tampered with."""
        try:
            return self._fernet.decrypt(sealed).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            return None
