"""Where a resident is reached (their chat id), sealed so the database alone cannot link it to a pseudonym.

The key is derived (HKDF-SHA256) from the pseudonym secret with its own label, so it is never stored in
the database and every replica that shares the secret can open the addresses. Fernet authenticates the
ciphertext: a tampered or foreign value opens to None instead of a wrong chat.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_ADDRESS_LABEL = b"citizenbot notification address v1"
_KEY_LABEL = b"citizenbot conversation key v1"


class AddressBook:
    """Seals chat ids for storage and opens them when a message must be sent."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("pseudonym secret must be at least 16 bytes")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_ADDRESS_LABEL).derive(secret)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self._keyed = hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()

    def seal(self, chat_id: int) -> str:
        """The encrypted form of a chat id (differs at every call)."""
        return self._fernet.encrypt(str(int(chat_id)).encode()).decode("ascii")

    def open(self, sealed: str | None) -> int | None:
        """The chat id of a sealed value, or None when it is missing, tampered or from another secret."""
        if not sealed:
            return None
        try:
            return int(self._fernet.decrypt(sealed.encode("ascii")))
        except (InvalidToken, ValueError):
            return None

    def key(self, *parts: object) -> str:
        """A stable, non-reversible key for ids (e.g. a conversation's chat and user), 64 hex characters."""
        text = ":".join(str(p) for p in parts)
        return hmac.new(self._keyed, text.encode(), hashlib.sha256).hexdigest()
