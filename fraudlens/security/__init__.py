"""Card-data protection, field encryption, API auth, audit and privacy.

Tokenization is imported eagerly (the log filter needs it); the other names
load their module on first use, so ``import fraudlens.security`` stays cheap
and pulls in neither pyarrow nor FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fraudlens.security.tokenize import (
    Tokenizer,
    luhn_valid,
    normalize_pan,
    tokenizer_from_settings,
)

if TYPE_CHECKING:
    from fraudlens.security.api import require
    from fraudlens.security.audit import (
        Action,
        AuditLog,
        AuditTrail,
        AuditVerification,
        audit_log_from_settings,
        verify,
        verify_audit_log,
    )
    from fraudlens.security.auth import (
        Authenticator,
        Principal,
        generate_api_key,
        hash_api_key,
    )
    from fraudlens.security.encryption import (
        KeyRing,
        field_context,
        generate_key,
        keyring_from_settings,
    )
    from fraudlens.security.inventory import INVENTORY, DataAsset
    from fraudlens.security.pan_scan import Finding, redact, scan_file, scan_paths, scan_text
    from fraudlens.security.privacy import ErasureReport, erase_customer
    from fraudlens.security.ratelimit import SharedRateLimiter, TokenBucketLimiter
    from fraudlens.security.retention import RetentionReport, apply_retention
    from fraudlens.security.roles import ENDPOINT_PERMISSIONS, Permission, Role
    from fraudlens.security.rotation import RotationReport, rotate_keys

_LAZY = {
    "require": "api",
    "Action": "audit",
    "AuditLog": "audit",
    "AuditTrail": "audit",
    "AuditVerification": "audit",
    "audit_log_from_settings": "audit",
    "verify": "audit",
    "verify_audit_log": "audit",
    "Authenticator": "auth",
    "Principal": "auth",
    "generate_api_key": "auth",
    "hash_api_key": "auth",
    "KeyRing": "encryption",
    "field_context": "encryption",
    "generate_key": "encryption",
    "keyring_from_settings": "encryption",
    "INVENTORY": "inventory",
    "DataAsset": "inventory",
    "Finding": "pan_scan",
    "redact": "pan_scan",
    "scan_file": "pan_scan",
    "scan_paths": "pan_scan",
    "scan_text": "pan_scan",
    "ErasureReport": "privacy",
    "RetentionReport": "retention",
    "apply_retention": "retention",
    "erase_customer": "privacy",
    "SharedRateLimiter": "ratelimit",
    "TokenBucketLimiter": "ratelimit",
    "ENDPOINT_PERMISSIONS": "roles",
    "Permission": "roles",
    "Role": "roles",
    "RotationReport": "rotation",
    "rotate_keys": "rotation",
}

__all__ = [
    "Tokenizer",
    "luhn_valid",
    "normalize_pan",
    "tokenizer_from_settings",
    "require",
    "Action",
    "AuditLog",
    "AuditTrail",
    "AuditVerification",
    "audit_log_from_settings",
    "verify",
    "verify_audit_log",
    "Authenticator",
    "Principal",
    "generate_api_key",
    "hash_api_key",
    "KeyRing",
    "field_context",
    "generate_key",
    "keyring_from_settings",
    "INVENTORY",
    "DataAsset",
    "Finding",
    "redact",
    "scan_file",
    "scan_paths",
    "scan_text",
    "ErasureReport",
    "RetentionReport",
    "apply_retention",
    "erase_customer",
    "SharedRateLimiter",
    "TokenBucketLimiter",
    "ENDPOINT_PERMISSIONS",
    "Permission",
    "Role",
    "RotationReport",
    "rotate_keys",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fraudlens.security' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"fraudlens.security.{module}"), name)
    globals()[name] = value
    return value
