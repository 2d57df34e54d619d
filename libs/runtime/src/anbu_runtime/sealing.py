"""Field sealing: AES-256-GCM for free text a service must keep but never hold in clear.

A sealed value is ``enc1:<key id>:<base64(nonce + ciphertext)>`` (the registry's format), so
it fits the text column the plaintext used. The key id travels with the value: after a
rotation (``id:base64key`` pairs, newest first) older values keep opening. The ``context``
(for example ``"report.note"``) is authenticated, so a value copied into another column
does not open there.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc1"


class FieldSealer:
    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("at least one sealing key is required")
        for key_id, key in keys:
            if len(key) != 32:
                raise ValueError(f"sealing key {key_id} must be 32 bytes (AES-256)")
            if not key_id or ":" in key_id:
                raise ValueError("a key id must be non-empty and cannot contain ':'")
        self._current_id = keys[0][0]
        self._aead = {key_id: AESGCM(key) for key_id, key in keys}

    @property
    def current_key_id(self) -> str:
        return self._current_id

    def seal(self, plaintext: str, *, context: str) -> str:
        """Encrypt ``plaintext`` under the newest key, bound to ``context``."""
        nonce = os.urandom(12)
        sealed = self._aead[self._current_id].encrypt(nonce, plaintext.encode(), context.encode())
        blob = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{PREFIX}:{self._current_id}:{blob}"

    def open(self, token: str, *, context: str) -> str:
        """The plaintext of ``token``; raises on another context, key or a forged value."""
        prefix, key_id, blob = token.split(":", 2)
        if prefix != PREFIX or key_id not in self._aead:
            raise ValueError("unknown sealed-value format or key id")
        raw = base64.urlsafe_b64decode(blob)
        return self._aead[key_id].decrypt(raw[:12], raw[12:], context.encode()).decode()

    @staticmethod
    def is_sealed(value: str) -> bool:
        return value.startswith(PREFIX + ":")


def parse_keys(setting: str) -> list[tuple[str, bytes]]:
    """``id:base64key[,id:base64key…]`` (newest first) as (id, key) pairs."""
    keys = []
    for item in setting.split(","):
        key_id, _, b64 = item.strip().partition(":")
        keys.append((key_id, base64.b64decode(b64)))
    return keys


def sealer_from_setting(setting: str, dev_key_file: Path) -> FieldSealer:
    """The configured keys, or else a development key generated once into ``dev_key_file``
    (mode 0600), so a local run keeps opening what it sealed across restarts."""
    if setting.strip():
        return FieldSealer(parse_keys(setting))
    if not dev_key_file.exists():
        dev_key_file.parent.mkdir(parents=True, exist_ok=True)
        key = base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()
        try:
            fd = os.open(dev_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another instance wrote it a moment ago: use theirs
        else:
            with os.fdopen(fd, "w") as fh:
                json.dump({"keys": [["dev1", key]]}, fh)
    data = json.loads(dev_key_file.read_text())
    return FieldSealer([(k, base64.b64decode(v)) for k, v in data["keys"]])
