"""One code path for changing the live rules: store a version, then audit it.

``PUT /v1/rules`` (``ray_apps.rules_api``) and the workspace's rules page
(``fraudlens.workspace.web``) both change rules here, so a change made in the
browser is stored and audited exactly as one made through the API: the same
``rule.changed`` entry, with the SHA-256 of the rules document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from fraudlens.errors import AuditError
from fraudlens.scoring.config import Rules
from fraudlens.scoring.rule_store import RuleStore, StoredRules
from fraudlens.security.audit import Action, AuditRecord, AuditTrail


def rules_audit(rules: Rules, stored: StoredRules) -> AuditRecord:
    """The entry that records ``rules`` stored as ``stored.version``."""
    doc = rules.model_dump_json().encode()
    return AuditRecord(
        Action.RULE_CHANGED,
        f"rules version {stored.version}",
        f"rules stored as version {stored.version}",
        {
            "sha256": hashlib.sha256(doc).hexdigest(),
            "block_entries": len(rules.block),
            "allow_entries": len(rules.allow),
            "limits": [limit.name for limit in rules.limits],
        },
    )


class RuleAdmin:
    """Reads and changes the live rules of one store, auditing every change.

    Args:
        store: the live rule store (the one the scoring replicas poll).
        audit: the audit chain changes are appended to.
        applied: called after a change (e.g. this replica's watcher poll), or None.
    """

    def __init__(
        self,
        store: RuleStore,
        audit: AuditTrail,
        applied: Callable[[], object] | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.applied = applied

    def current(self) -> StoredRules | None:
        """The live version (None: never set)."""
        return self.store.get()

    def change(self, rules: Rules, actor: str) -> tuple[StoredRules, str]:
        """Store ``rules`` as the next version, audit it, apply it here.

        Returns:
            The stored version and the hash of its audit entry.

        Raises:
            AuditError: the rules were stored but the entry cannot be written
                (the message says what was stored; the cause is the append's error).
            Exception: whatever the store raises (nothing was changed).
        """
        stored = self.store.put(rules, actor)
        entry = rules_audit(rules, stored)
        try:
            appended = self.audit.append(
                actor, entry.action, target=entry.target, details=entry.details
            )
        except (AuditError, OSError) as exc:
            raise AuditError(entry.done) from exc
        if self.applied is not None:
            self.applied()
        return stored, appended.hash
