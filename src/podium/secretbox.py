"""Secrets at rest: provider keys and integration credentials, encrypted with the server secret.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key derived from the server
secret with HKDF, so the token-signing key itself is never used to encrypt. Changing the
server secret makes stored secrets unreadable: they must be entered again.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from podium.errors import PodiumError


class SecretUnreadable(PodiumError):
    code = "secret_unreadable"


class SecretBox:
    def __init__(self, server_secret: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"podium secrets at rest v1"
        ).derive(server_secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "a stored secret cannot be decrypted with this server's secret (was "
                "PODIUM_SECRET_KEY changed?); enter the key or credentials again"
            ) from None

    def seal_json(self, value: dict[str, Any]) -> str:
        return self.seal(json.dumps(value))

    def open_json(self, token: str) -> dict[str, Any]:
        value = json.loads(self.open(token))
        assert isinstance(value, dict)
        return value
