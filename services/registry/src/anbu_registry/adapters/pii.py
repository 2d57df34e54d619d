"""Field encryption and blind indexes for personal data (names, phones, addresses, e-mail).

Values are sealed with AES-256-GCM under the current key; the key id travels with the
ciphertext so older keys keep decrypting after a rotation (``ANBU_REGISTRY_PII_KEYS`` lists
``id:base64key`` pairs, newest first). Equality lookups use a keyed HMAC-SHA256 "blind
index" of the normalised value, never the plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "enc1"


class PiiCipher:
    def __init__(self, keys: list[tuple[str, bytes]], index_key: bytes) -> None:
        if not keys:
            raise ValueError("at least one PII key is required")
        for key_id, key in keys:
            if len(key) != 32:
                raise ValueError(f"PII key {key_id} must be 32 bytes (AES-256)")
            if ":" in key_id:
                raise ValueError("a key id cannot contain ':'")
        self._current_id = keys[0][0]
        self._aead = {key_id: AESGCM(key) for key_id, key in keys}
        self._current = self._aead[self._current_id]
        self._index_key = index_key

    @property
    def current_key_id(self) -> str:
        return self._current_id

    def seal(self, plaintext: str, *, context: str) -> str:
        """Encrypt ``plaintext``; ``context`` (for example "person.phone") is authenticated."""
        nonce = os.urandom(12)
        sealed = self._current.encrypt(nonce, plaintext.encode(), context.encode())
        blob = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{_PREFIX}:{self._current_id}:{blob}"

    def open(self, token: str, *, context: str) -> str:
        prefix, key_id, blob = token.split(":", 2)
        if prefix != _PREFIX or key_id not in self._aead:
            raise ValueError("unknown ciphertext format or key id")
        raw = base64.urlsafe_b64decode(blob)
        return self._aead[key_id].decrypt(raw[:12], raw[12:], context.encode()).decode()

    def needs_rotation(self, token: str) -> bool:
        return token.split(":", 2)[1] != self._current_id

    def blind_index(self, value: str, *, kind: str) -> str:
        normalised = normalise(value, kind)
        digest = hmac.new(self._index_key, f"{kind}:{normalised}".encode(), hashlib.sha256)
        return digest.hexdigest()


def normalise(value: str, kind: str) -> str:
    if kind == "phone":
        return re.sub(r"\D", "", value)
    if kind == "email":
        return value.strip().lower()
    return " ".join(value.split()).lower()


def cipher_from_settings(keys_setting: str, index_key_setting: str, var_dir: Path) -> PiiCipher:
    """The configured keys, or development keys kept in ``var/secrets`` (0600)."""
    if keys_setting and index_key_setting:
        keys = []
        for item in keys_setting.split(","):
            key_id, b64 = item.strip().split(":", 1)
            keys.append((key_id, base64.b64decode(b64)))
        return PiiCipher(keys, base64.b64decode(index_key_setting))
    path = var_dir / "secrets" / "registry-dev-keys.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "keys": [["dev1", base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()]],
            "index_key": base64.b64encode(os.urandom(32)).decode(),
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
    data = json.loads(path.read_text())
    return PiiCipher(
        [(k, base64.b64decode(v)) for k, v in data["keys"]], base64.b64decode(data["index_key"])
    )
