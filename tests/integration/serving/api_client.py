"""HTTP access to the Serve app under test: it runs with API keys, as in production.

``http`` sends the admin key (admin may do everything); ``SCORER_KEY`` is a
key with the ``scorer`` role only. Test modules here import it as a sibling
module (pytest's default ``prepend`` import mode puts this folder on sys.path).
"""

from __future__ import annotations

import secrets

import httpx

from fraudlens.security.auth import hash_api_key
from fraudlens.settings import ApiKeyEntry

ADMIN_KEY = f"fl_itadmin_{secrets.token_urlsafe(32)}"
SCORER_KEY = f"fl_itscorer_{secrets.token_urlsafe(32)}"

http = httpx.Client(headers={"X-API-Key": ADMIN_KEY}, timeout=10)


def api_keys() -> dict[str, ApiKeyEntry]:
    """The keys the app accepts, stored hashed as in production."""
    return {
        "itadmin": ApiKeyEntry(role="admin", sha256=hash_api_key(ADMIN_KEY)),
        "itscorer": ApiKeyEntry(role="scorer", sha256=hash_api_key(SCORER_KEY)),
    }
