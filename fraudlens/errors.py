"""The FraudLens error tree.

Every error FraudLens raises on purpose is a ``FraudLensError``; third-party
errors are wrapped at the boundary with ``raise ... from exc``.

    FraudLensError
    ├── ConfigError            settings or a mapping file are wrong
    ├── ValidationError        an event or request breaks the schema (names the field)
    ├── TokenizationError      a card number cannot be tokenized (e.g. fails Luhn)
    ├── DataError              input data is unusable (missing columns, empty joins)
    ├── BrokerError            Kafka broker unreachable, produce/consume failed
    │   └── BrokerStartError   the embedded broker did not start
    ├── FeatureStoreError      Feast apply / push / read failed
    ├── ModelError             training, loading or registering a model failed
    │   └── ModelNotFoundError no model version under the asked alias
    ├── AuthError              missing or bad credentials
    │   └── ForbiddenError     authenticated, but the role may not do this
    ├── RateLimitError         a caller exceeded its request rate (carries retry_after)
    ├── EncryptionError        a ciphertext cannot be decrypted (wrong key, tampered, bad context)
    ├── AuditError             the audit log cannot be appended to (corrupt tail, bad entry)
    └── RecordsError           the system of record (PostgreSQL) is unreachable or a query failed
"""

from __future__ import annotations


class FraudLensError(Exception):
    """Root of every error FraudLens raises on purpose."""


class ConfigError(FraudLensError):
    """Settings, a mapping file or another configuration input is wrong."""


class ValidationError(FraudLensError):
    """An event or request breaks the schema.

    Attributes:
        field: dotted name of the offending field (``"amount"``), or ``"$"``
            when the whole payload is wrong.
        reason: a short, human-readable reason.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class TokenizationError(FraudLensError):
    """A card number cannot be tokenized."""


class DataError(FraudLensError):
    """Input data is unusable: missing columns, wrong types, empty joins."""


class BrokerError(FraudLensError):
    """The Kafka broker is unreachable or a produce/consume call failed."""


class BrokerStartError(BrokerError):
    """The embedded Kafka-compatible broker did not start."""


class FeatureStoreError(FraudLensError):
    """A Feast apply, push or read failed."""


class ModelError(FraudLensError):
    """Training, loading or registering a model failed."""


class ModelNotFoundError(ModelError):
    """No registered model version under the requested alias."""


class AuthError(FraudLensError):
    """Missing or invalid credentials."""


class ForbiddenError(AuthError):
    """Authenticated, but the caller's role may not do this."""


class RateLimitError(FraudLensError):
    """A caller exceeded its request rate.

    Attributes:
        retry_after: seconds until the next request would be accepted.
    """

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EncryptionError(FraudLensError):
    """A field cannot be encrypted or decrypted.

    Unknown key id, wrong key, tampered bytes, or a ciphertext moved to another
    field or record.
    """


class AuditError(FraudLensError):
    """The audit log cannot be appended to (corrupt tail, bad entry)."""


class RecordsError(FraudLensError):
    """The system of record (PostgreSQL) is unreachable, not migrated, or a query failed."""
