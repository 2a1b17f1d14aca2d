"""Field-level encryption at rest: AES-256-GCM with a key ring.

A ciphertext is a string, so it fits any Parquet, SQLite or JSON column::

    enc:v1:<key id>:<base64url(12-byte nonce | ciphertext | 16-byte tag)>

The key id travels in every ciphertext, so old values stay readable after the
active key changes and ``fraudlens keys rotate`` can find what to re-encrypt.
The associated data binds each ciphertext to its place: the format version,
the key id and a context naming the table, the column and the record id. A
value copied to another row or column, or relabelled with another key id,
fails to decrypt instead of silently decrypting to the wrong person's data.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fraudlens.errors import ConfigError, EncryptionError

if TYPE_CHECKING:
    from fraudlens.settings import Settings

logger = logging.getLogger(__name__)

PREFIX = "enc:v1:"
KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KID = re.compile(r"^[A-Za-z0-9]{1,16}$")


def field_context(table: str, column: str, record_id: str) -> str:
    """The associated-data context for one value: which table, column and record."""
    return f"{table}|{column}|{record_id}"


def generate_key() -> str:
    """Return a fresh random AES-256 key, base64-encoded (for a secret, not a file in git)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def key_id_of(ciphertext: str) -> str:
    """Return the key id a ciphertext was made with (no decryption)."""
    if not ciphertext.startswith(PREFIX):
        raise EncryptionError("not a FraudLens ciphertext (missing 'enc:v1:' prefix)")
    kid, sep, _ = ciphertext[len(PREFIX) :].partition(":")
    if not sep or not _KID.match(kid):
        raise EncryptionError("malformed ciphertext header")
    return kid


def is_ciphertext(value: object) -> bool:
    """True when ``value`` is a string in the FraudLens ciphertext format."""
    return isinstance(value, str) and value.startswith(PREFIX)


class KeyRing:
    """AES-256-GCM keys by id; encrypts with the active key, decrypts with any.

    Args:
        active_kid: key id used for new ciphertexts.
        keys: every known key by id (32 bytes each). Retired ids stay until
            ``fraudlens keys rotate`` reports no value left under them.
    """

    def __init__(self, active_kid: str, keys: Mapping[str, bytes]) -> None:
        if active_kid not in keys:
            raise ConfigError(f"active encryption key id {active_kid!r} has no key")
        for kid, key in keys.items():
            if not _KID.match(kid):
                raise ConfigError(f"encryption key id {kid!r} must be 1-16 letters or digits")
            if len(key) != KEY_BYTES:
                raise ConfigError(f"encryption key {kid!r} must be {KEY_BYTES} bytes (AES-256)")
        self.active_kid = active_kid
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}

    @property
    def key_ids(self) -> list[str]:
        """All known key ids, sorted."""
        return sorted(self._aead)

    def encrypt(self, plaintext: str, context: str, kid: str | None = None) -> str:
        """Encrypt ``plaintext`` bound to ``context`` (see ``field_context``)."""
        kid = kid or self.active_kid
        aead = self._aead.get(kid)
        if aead is None:
            raise EncryptionError(f"unknown encryption key id {kid!r}")
        nonce = os.urandom(_NONCE_BYTES)
        sealed = aead.encrypt(nonce, plaintext.encode(), _aad(kid, context))
        return PREFIX + kid + ":" + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, ciphertext: str, context: str) -> str:
        """Decrypt a value made by ``encrypt`` with the same ``context``.

        Raises:
            EncryptionError: unknown key id, malformed value, wrong key, tampered
                bytes or another context. The message never holds the value.
        """
        kid = key_id_of(ciphertext)
        aead = self._aead.get(kid)
        if aead is None:
            raise EncryptionError(f"unknown encryption key id {kid!r}")
        body = ciphertext[len(PREFIX) + len(kid) + 1 :]
        try:
            raw = base64.urlsafe_b64decode(body.encode())
        except (binascii.Error, ValueError) as exc:
            raise EncryptionError("malformed ciphertext body") from exc
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise EncryptionError("ciphertext is truncated")
        try:
            plain = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(kid, context))
        except InvalidTag:
            raise EncryptionError(
                f"ciphertext under key {kid!r} failed authentication "
                "(wrong key, tampered, or moved to another field or record)"
            ) from None
        return plain.decode()

    def reencrypt(self, ciphertext: str, context: str) -> str:
        """Decrypt and encrypt again under the active key (same context)."""
        return self.encrypt(self.decrypt(ciphertext, context), context)


def _aad(kid: str, context: str) -> bytes:
    return f"{PREFIX}{kid}|{context}".encode()


def _decode_key(kid: str, value: str) -> bytes:
    try:
        key = base64.b64decode(value.encode(), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"encryption key {kid!r} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ConfigError(f"encryption key {kid!r} must decode to {KEY_BYTES} bytes (AES-256)")
    return key


def _read_key_file(path: Path, mode: str) -> dict[str, str]:
    if mode == "production" and _inside_git_tree(path):
        raise ConfigError(f"{path}: encryption keys must not live in a source repository")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read encryption keys ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ConfigError(f'{path}: expected a JSON object {{"key id": "base64 key"}}')
    return data


def _inside_git_tree(path: Path) -> bool:
    return any((parent / ".git").exists() for parent in path.resolve().parents)


def _demo_keys(data_dir: Path) -> dict[str, str]:
    path = data_dir / "secrets" / "demo-encryption-keys.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"demo": generate_key()}, out)
    return _read_key_file(path, "embedded")


def keyring_from_settings(settings: Settings) -> KeyRing:
    """Build the key ring from ``security.encryption_keys`` and ``encryption_keys_file``.

    Embedded mode with no keys uses a throwaway demo key under
    ``DATA_DIR/secrets``; production refuses to start without keys.
    """
    sec = settings.security
    raw = {kid: value.get_secret_value() for kid, value in sec.encryption_keys.items()}
    if sec.encryption_keys_file is not None:
        for kid, value in _read_key_file(sec.encryption_keys_file, settings.mode).items():
            if kid in raw and raw[kid] != value:
                raise ConfigError(f"encryption key {kid!r} differs between env and key file")
            raw[kid] = value
    if not raw:
        if settings.mode == "production":
            raise ConfigError(
                "security.encryption_keys (or security.encryption_keys_file) "
                "is required in production mode"
            )
        logger.warning(
            "no encryption keys configured: using a throwaway demo key under %s "
            "(not for production)",
            settings.data_dir / "secrets",
        )
        raw = _demo_keys(settings.data_dir)
    keys = {kid: _decode_key(kid, value) for kid, value in raw.items()}
    active = sec.active_encryption_key or sorted(keys)[-1]
    if active not in keys:
        raise ConfigError(f"security.active_encryption_key {active!r} has no key")
    return KeyRing(active, keys)
