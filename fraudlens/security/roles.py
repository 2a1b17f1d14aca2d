"""Roles, permissions and which API endpoint needs which permission.

The tables are the single source for the API's authorization: ``require``
checks them, the authorization-matrix test iterates them, and
``docs/security.md`` shows them.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who a caller is."""

    SCORER = "scorer"
    ANALYST = "analyst"
    ADMIN = "admin"


class Permission(StrEnum):
    """What a caller may do."""

    SCORE = "score"
    READ_MODEL = "read_model"
    SUBMIT_LABELS = "submit_labels"
    READ_DECISIONS = "read_decisions"
    READ_RULES = "read_rules"
    PROMOTE_MODEL = "promote_model"
    MANAGE_RULES = "manage_rules"
    ERASE_DATA = "erase_data"
    READ_AUDIT = "read_audit"
    WORK_CASES = "work_cases"
    MANAGE_USERS = "manage_users"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # Payment systems calling the API: score, and see which model answers.
    Role.SCORER: frozenset({Permission.SCORE, Permission.READ_MODEL}),
    # Fraud analysts: outcomes in, decisions and rules out; no scoring, no changes.
    Role.ANALYST: frozenset(
        {
            Permission.SUBMIT_LABELS,
            Permission.READ_DECISIONS,
            Permission.READ_RULES,
            Permission.READ_MODEL,
            Permission.WORK_CASES,
        }
    ),
    # Operators: everything, including promotion, rules, erasure and the audit trail.
    Role.ADMIN: frozenset(Permission),
}

ENDPOINT_PERMISSIONS: dict[tuple[str, str], Permission | None] = {
    ("POST", "/v1/score"): Permission.SCORE,
    ("POST", "/v1/score/batch"): Permission.SCORE,
    ("POST", "/v1/labels"): Permission.SUBMIT_LABELS,
    ("GET", "/v1/model"): Permission.READ_MODEL,
    ("GET", "/v1/decisions"): Permission.READ_DECISIONS,
    ("POST", "/v1/model/promote"): Permission.PROMOTE_MODEL,
    ("GET", "/v1/rules"): Permission.READ_RULES,
    ("PUT", "/v1/rules"): Permission.MANAGE_RULES,
    ("POST", "/v1/privacy/erase"): Permission.ERASE_DATA,
    ("GET", "/v1/audit/verify"): Permission.READ_AUDIT,
    # Probes: no credentials (Kubernetes kubelet, load balancers).
    ("GET", "/healthz"): None,
    ("GET", "/readyz"): None,
    # Prometheus scrape of the bare app (no card data; under Ray Serve, Ray exports metrics).
    ("GET", "/metrics"): None,
}
"""(method, path) -> permission needed; None marks a public probe."""


WORKSPACE_PERMISSION = Permission.WORK_CASES
"""Every page and form of the analyst workspace (``/workspace``, signed in with a
session cookie) needs this; only its sign-in page and stylesheet are public. Its rules
page needs ``manage_rules`` too, its users page ``manage_users`` (admins)."""


def permissions_of(roles: frozenset[Role]) -> frozenset[Permission]:
    """Union of the permissions of ``roles``."""
    granted: frozenset[Permission] = frozenset()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return granted


def parse_roles(value: object) -> frozenset[Role]:
    """Roles from a JWT claim: a list or a space-separated string; unknown names ignored."""
    names = value.split() if isinstance(value, str) else value
    if not isinstance(names, list | tuple):
        return frozenset()
    known = {r.value for r in Role}
    return frozenset(Role(n) for n in names if isinstance(n, str) and n in known)
