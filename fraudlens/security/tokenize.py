"""PAN tokenization at the edge: keyed HMAC-SHA256 with a key id.

A token looks like ``tok_<kid>_<32 letters a-p>`` (the hex digest spelled
with letters, so no token can be mistaken for a card number). The same PAN under the same key
always gives the same token (so features can group by card), a different key
gives an unrelated token, and the PAN cannot be recovered from it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import TYPE_CHECKING

from fraudlens.errors import TokenizationError

if TYPE_CHECKING:
    from fraudlens.settings import Settings

logger = logging.getLogger(__name__)

_SEPARATORS = re.compile(r"[ -]")
_KID = re.compile(r"^[A-Za-z0-9]{1,16}$")
# Hex digit -> letter (0->a ... f->p), so tokens carry no digit runs.
_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


def luhn_valid(digits: str) -> bool:
    """Return True when ``digits`` (only 0-9) passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def normalize_pan(pan: str) -> str:
    """Strip spaces and dashes and check length, digits and Luhn.

    Raises:
        TokenizationError: the value is not a plausible card number. The
            message never contains the value itself.
    """
    digits = _SEPARATORS.sub("", pan)
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise TokenizationError("card number must be 12-19 digits")
    if not luhn_valid(digits):
        raise TokenizationError("card number fails the Luhn check")
    return digits


class Tokenizer:
    """Turns PANs into stable, keyed tokens.

    Args:
        active_kid: key id used for new tokens.
        keys: all known keys by id (older ids stay to recognise old tokens).
    """

    def __init__(self, active_kid: str, keys: dict[str, bytes]) -> None:
        if active_kid not in keys:
            raise TokenizationError(f"active key id {active_kid!r} has no key")
        for kid, key in keys.items():
            if not _KID.match(kid):
                raise TokenizationError(f"key id {kid!r} must be 1-16 letters or digits")
            if len(key) < 16:
                raise TokenizationError(f"key {kid!r} is shorter than 16 bytes")
        self.active_kid = active_kid
        self._keys = dict(keys)

    def tokenize(self, pan: str, kid: str | None = None) -> str:
        """Return the token of ``pan`` under key ``kid`` (default: the active key)."""
        return self._token(b"pan:" + normalize_pan(pan).encode(), kid)

    def tokenize_reference(self, reference: str, kid: str | None = None) -> str:
        """Token for an opaque card reference that is not a PAN (a bank's card id).

        Domain-separated from PAN tokens, so a reference never collides with a PAN.
        """
        if not reference:
            raise TokenizationError("card reference is empty")
        return self._token(b"ref:" + reference.encode(), kid)

    def _token(self, message: bytes, kid: str | None) -> str:
        kid = kid or self.active_kid
        try:
            key = self._keys[kid]
        except KeyError:
            raise TokenizationError(f"unknown key id {kid!r}") from None
        digest = hmac.new(key, message, hashlib.sha256).hexdigest()[:32]
        return f"tok_{kid}_{digest.translate(_LETTERS)}"


def tokenizer_from_settings(settings: Settings) -> Tokenizer:
    """Build the tokenizer from ``settings.security`` (throwaway key in embedded mode)."""
    active, keys = settings.security.resolved_token_keys(settings.mode, settings.data_dir)
    if active == "demo":
        logger.warning(
            "no token keys configured: using a throwaway demo key under %s (not for production)",
            settings.data_dir / "secrets",
        )
    return Tokenizer(active, keys)
