"""Field encryption and blind indexes for personal data (names, phones, addresses, e-mail).

Values are sealed with AES-256-GCM under the current key; the key id travels with the
ciphertext so older keys keep decrypting after a rotation (``ANBU_REGISTRY_PII_KEYS`` lists
``id:base64key`` pairs, newest first). Equality lookups use a keyed HMAC-SHA256 "blind
index" of the normalised value, never the plaintext.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import re
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from anbu_runtime.sealing import FieldSealer, parse_keys


class PiiCipher:
    """Sealing (the shared :class:`~anbu_runtime.sealing.FieldSealer`, ``enc1`` format) plus
    the blind index the registry needs to find a person by phone or resident number."""

    def __init__(self, keys: list[tuple[str, bytes]], index_key: bytes) -> None:
        self._sealer = FieldSealer(keys)
        self._index_key = index_key
        self._keys = keys

    def __reduce__(self) -> tuple[type[PiiCipher], tuple[list[tuple[str, bytes]], bytes]]:
        # Bulk imports hand the cipher to their worker processes (never to disk or a log).
        return (PiiCipher, (self._keys, self._index_key))

    @property
    def current_key_id(self) -> str:
        return self._sealer.current_key_id

    def seal(self, plaintext: str, *, context: str) -> str:
        """Encrypt ``plaintext``; ``context`` (for example "person.phone") is authenticated."""
        return self._sealer.seal(plaintext, context=context)

    def open(self, token: str, *, context: str) -> str:
        return self._sealer.open(token, context=context)

    def needs_rotation(self, token: str) -> bool:
        return token.split(":", 2)[1] != self.current_key_id

    def blind_index(self, value: str, *, kind: str) -> str:
        normalised = normalise(value, kind)
        # hmac.digest: the one-shot C path (hmac.new builds a Python object a call, a
        # measurable share of a bulk import); the same digest.
        return hmac.digest(self._index_key, f"{kind}:{normalised}".encode(), "sha256").hex()


_NOT_DIGIT = re.compile(r"\D")


def normalise(value: str, kind: str) -> str:
    if kind == "phone":
        return _NOT_DIGIT.sub("", value)
    if kind == "email":
        return value.strip().lower()
    return " ".join(value.split()).lower()


def cipher_from_settings(keys_setting: str, index_key_setting: str, var_dir: Path) -> PiiCipher:
    """The configured keys, or development keys kept in ``var/secrets`` (0600)."""
    if keys_setting and index_key_setting:
        return PiiCipher(parse_keys(keys_setting), base64.b64decode(index_key_setting))
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
