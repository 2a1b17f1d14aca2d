"""Live decision rules: a versioned store that every scorer polls.

``PUT /v1/rules`` writes a new version; each replica's ``RuleWatcher`` sees
the version change on its next poll and applies the rules to its scoring
service, with no restart. Rules set here win over the ``user_config`` rules
and the rules file (see ``ScoringService.set_rules``).

Backends: ``FileRuleStore`` (one JSON file under ``DATA_DIR``, written
atomically under a lock: embedded mode, one host), ``RedisRuleStore``
(one hash, updated by a Lua script so the version and the rules always
match: many hosts) and ``fraudlens.records.rules.PgRuleStore`` (the records
database's ``rules`` table, every version kept: many hosts).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError as PydanticValidationError

from fraudlens.errors import ConfigError
from fraudlens.scoring.config import Rules

if TYPE_CHECKING:
    from fraudlens.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredRules:
    """One version of the rules, with who set them and when."""

    version: int
    rules: Rules
    updated_at: str
    updated_by: str

    def to_json(self) -> str:
        """The stored form (JSON)."""
        return json.dumps(
            {
                "version": self.version,
                "rules": self.rules.model_dump(mode="json"),
                "updated_at": self.updated_at,
                "updated_by": self.updated_by,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> StoredRules:
        """Parse the stored form (ConfigError if it is damaged)."""
        try:
            data = json.loads(text)
            return cls(
                int(data["version"]),
                Rules.model_validate(data["rules"]),
                str(data["updated_at"]),
                str(data["updated_by"]),
            )
        except (ValueError, KeyError, TypeError, PydanticValidationError) as exc:
            raise ConfigError(f"stored rules are damaged: {exc}") from exc


class RuleStore(Protocol):
    """Where the live rules are kept."""

    def version(self) -> int:
        """The current version (0: never set); cheap, polled often."""

    def get(self) -> StoredRules | None:
        """The current rules, or None if never set."""

    def put(self, rules: Rules, actor: str) -> StoredRules:
        """Store ``rules`` as the next version and return it."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class FileRuleStore:
    """Rules in one JSON file; writes are atomic (temp file + rename) and locked.

    Args:
        path: the JSON file (its folder is created on first write).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self) -> StoredRules | None:
        """The current rules, or None if the file does not exist."""
        try:
            return StoredRules.from_json(self.path.read_bytes())
        except FileNotFoundError:
            return None

    def version(self) -> int:
        """The current version (0 when never set)."""
        stored = self.get()
        return stored.version if stored else 0

    def put(self, rules: Rules, actor: str) -> StoredRules:
        """Write the next version (concurrent writers are serialized by a lock file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = self.path.with_name(self.path.name + ".lock")
        with open(lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            stored = StoredRules(self.version() + 1, rules, _now(), actor)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(stored.to_json())
            os.replace(tmp, self.path)
        return stored


_PUT_SCRIPT = """
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'doc', ARGV[1])
return v
"""


class RedisRuleStore:
    """Rules in one Redis hash (``version`` and ``doc`` fields).

    Args:
        client: a ``redis.Redis`` client (TLS and password are its business).
        key: the hash key.
    """

    def __init__(self, client: Any, key: str = "fraudlens:rules") -> None:
        self.client = client
        self.key = key

    def version(self) -> int:
        """The current version (0 when never set)."""
        value = self.client.hget(self.key, "version")
        return int(value) if value is not None else 0

    def get(self) -> StoredRules | None:
        """The current rules, or None if never set."""
        version, doc = self.client.hmget(self.key, ["version", "doc"])
        if version is None or doc is None:
            return None
        stored = StoredRules.from_json(doc)
        # The doc is written with the version it got from HINCRBY, in one script.
        return StoredRules(int(version), stored.rules, stored.updated_at, stored.updated_by)

    def put(self, rules: Rules, actor: str) -> StoredRules:
        """Store the next version atomically (version bump and doc in one script)."""
        draft = StoredRules(0, rules, _now(), actor)
        version = int(self.client.eval(_PUT_SCRIPT, 1, self.key, draft.to_json()))
        return StoredRules(version, rules, draft.updated_at, actor)


def rule_store_from_settings(settings: Settings) -> RuleStore:
    """The store ``serve.rules_store`` names (file: ``DATA_DIR/rules/rules.json``).

    Raises:
        ConfigError: ``redis`` without ``serve.rules_redis_url``.
        RecordsError: ``postgres`` and the records database cannot be reached.
    """
    serve = settings.serve
    if serve.rules_store == "postgres":
        from fraudlens.records.engine import engine_from_settings
        from fraudlens.records.rules import PgRuleStore

        return PgRuleStore(engine_from_settings(settings, pool_size=1))
    if serve.rules_store == "redis":
        if serve.rules_redis_url is None:
            raise ConfigError("serve.rules_redis_url is required with serve.rules_store=redis")
        import redis

        client = redis.Redis.from_url(serve.rules_redis_url.get_secret_value())
        return RedisRuleStore(client)
    return FileRuleStore(settings.data_dir / "rules" / "rules.json")


class RuleWatcher:
    """Applies the store's rules whenever their version changes.

    Call ``poll()`` from any periodic task (``start()`` runs one on a daemon
    thread). A store that cannot be read is logged and retried on the next
    poll; the rules in force stay.

    Args:
        store: the rule store.
        apply: called with each new version's rules (``ScoringService.set_rules``).
    """

    def __init__(self, store: RuleStore, apply: Callable[[Rules], None]) -> None:
        self.store = store
        self.apply = apply
        self.version = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> bool:
        """Apply the stored rules if their version changed; True if applied."""
        with self._lock:
            try:
                if self.store.version() == self.version:
                    return False
                stored = self.store.get()
            except Exception as exc:  # redis down, disk error: keep the rules in force
                logger.warning("cannot read the rule store: %s", type(exc).__name__)
                return False
            if stored is None or stored.version == self.version:
                return False
            self.apply(stored.rules)
            self.version = stored.version
            logger.info("rules version %d applied (set by %s)", stored.version, stored.updated_by)
            return True

    def start(self, every_s: float) -> None:
        """Poll now, then every ``every_s`` seconds on a daemon thread (0: once)."""
        self.poll()
        if every_s <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(every_s,), name="fraudlens-rules-poll", daemon=True
        )
        self._thread.start()

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            try:
                self.poll()
            except Exception:  # a failed apply must not end the loop
                logger.exception("applying rules failed")

    def stop(self) -> None:
        """Stop the polling thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
