"""One typed settings object, read from ``FRAUDLENS_*`` environment variables.

Nested groups use ``__``: ``FRAUDLENS_KAFKA__BOOTSTRAP_SERVERS=broker:9092``.
Settings are built at an entry point (``Settings()``) and passed in; nothing
reads them at import time.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fraudlens.errors import ConfigError

Mode = Literal["embedded", "production"]

# ``fraudlens.features.state.DEFAULT_MATURED_DELAY_DAYS`` / ``MAX_MATURED_DELAY_DAYS``
# (not imported: the features package imports these settings; a test keeps them equal).
DEFAULT_MATURED_DELAY_DAYS = 7
MAX_MATURED_DELAY_DAYS = 60

TOPIC_RETENTION_DAYS = 7
"""Default ``retention.ms`` of every FraudLens topic, in days (the data inventory's limit)."""


class KafkaSettings(BaseModel):
    """Kafka connection and topic names."""

    bootstrap_servers: str = Field(
        "", description="host:port list; empty in embedded mode starts the bundled broker"
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="SASL_SSL in production"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="required with SASL_*"
    )
    sasl_username: str | None = Field(None, description="required with SASL_*")
    sasl_password: SecretStr | None = Field(None, description="required with SASL_*; a secret")
    ssl_ca_location: Path | None = Field(None, description="CA bundle for SSL / SASL_SSL")
    transactions_topic: str = Field("transactions", description="incoming transactions")
    labels_topic: str = Field("labels", description="fraud labels (chargebacks, analysts)")
    decisions_topic: str = Field("decisions", description="scoring decisions")
    shadow_topic: str = Field(
        "shadow-scores", description="challenger scores of shadow scoring, for the records sink"
    )
    dead_letter_topic: str = Field(
        "dead-letter", description="events that failed validation, with the reason in headers"
    )
    partitions: int = Field(4, ge=1, description="partitions for topics FraudLens creates")
    consumer_group: str = Field("fraudlens", description="consumer group id prefix")
    transactions_retention_days: int = Field(
        TOPIC_RETENTION_DAYS, ge=1, description="retention.ms of the transactions topic, in days"
    )
    labels_retention_days: int = Field(
        TOPIC_RETENTION_DAYS, ge=1, description="retention.ms of the labels topic, in days"
    )
    decisions_retention_days: int = Field(
        TOPIC_RETENTION_DAYS, ge=1, description="retention.ms of the decisions topic, in days"
    )
    dead_letter_retention_days: int = Field(
        TOPIC_RETENTION_DAYS, ge=1, description="retention.ms of the dead-letter topic, in days"
    )
    shadow_retention_days: int = Field(
        TOPIC_RETENTION_DAYS, ge=1, description="retention.ms of the shadow-scores topic, in days"
    )

    def topic_retention_days(self) -> dict[str, int]:
        """Retention in days of each FraudLens topic, by topic name."""
        return {
            self.transactions_topic: self.transactions_retention_days,
            self.labels_topic: self.labels_retention_days,
            self.decisions_topic: self.decisions_retention_days,
            self.dead_letter_topic: self.dead_letter_retention_days,
            self.shadow_topic: self.shadow_retention_days,
        }

    def client_config(self) -> dict[str, str]:
        """librdkafka settings shared by producers, consumers and admin clients."""
        if not self.bootstrap_servers:
            raise ConfigError(
                "kafka.bootstrap_servers is empty (set FRAUDLENS_KAFKA__BOOTSTRAP_SERVERS)"
            )
        conf = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL"):
            if not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
                raise ConfigError(
                    "kafka.sasl_mechanism, kafka.sasl_username and kafka.sasl_password "
                    f"are required with security_protocol={self.security_protocol}"
                )
            conf["sasl.mechanism"] = self.sasl_mechanism
            conf["sasl.username"] = self.sasl_username
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_ca_location is not None:
            conf["ssl.ca.location"] = str(self.ssl_ca_location)
        return conf


class ApiKeyEntry(BaseModel):
    """One API key as stored: its role and the SHA-256 of the key, never the key."""

    model_config = {"extra": "forbid"}

    role: Literal["scorer", "analyst", "admin"]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the full key")
    rate_per_second: float | None = Field(None, gt=0, description="overrides the default rate")


class SecuritySettings(BaseModel):
    """Keys for PAN tokenization and field encryption, API auth, audit and retention."""

    token_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='HMAC keys by key id, JSON: {"k1": "secret"}; required in production',
    )
    active_token_key: str | None = Field(None, description="key id used for new tokens")
    encryption_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='AES-256 field keys by key id, JSON: {"k1": "<base64 of 32 bytes>"}',
    )
    encryption_keys_file: Path | None = Field(
        None, description="JSON file of the same shape, e.g. a mounted Kubernetes secret"
    )
    active_encryption_key: str | None = Field(
        None, description="key id for new ciphertexts (default: the last id in sort order)"
    )
    api_keys: dict[str, ApiKeyEntry] = Field(
        default_factory=dict,
        description='API keys by key id, JSON: {"ab12cd34": {"role": "scorer", "sha256": "..."}}',
    )
    stored_api_keys: bool = Field(
        True,
        description="also accept API keys admins create in the workspace (stored hashed in "
        "the records database, when records.database_url is set)",
    )
    jwt_issuer: str | None = Field(None, description="required `iss` of bearer tokens")
    jwt_audience: str | None = Field(None, description="required `aud` of bearer tokens")
    jwt_algorithms: list[Literal["HS256", "RS256"]] = Field(
        ["RS256"], description="accepted JWT algorithms, JSON list"
    )
    jwt_public_key: str | None = Field(None, description="PEM public key for RS256 tokens")
    jwt_hs_secret: SecretStr | None = Field(
        None, description="shared secret for HS256 tokens (at least 32 bytes)"
    )
    jwt_roles_claim: str = Field("roles", description="claim holding the caller's roles")
    rate_limit_per_second: float = Field(
        1000.0, gt=0, description="requests/s per API key or token subject"
    )
    rate_limit_burst: int = Field(2000, ge=1, description="token-bucket size (burst)")
    audit_log_path: Path | None = Field(
        None, description="append-only audit log (default: DATA_DIR/audit/audit.jsonl)"
    )
    audit_hmac_key: SecretStr | None = Field(
        None, description="keys the audit hash chain (HMAC-SHA256) so it cannot be recomputed"
    )
    retention_days: dict[str, int] = Field(
        default_factory=dict,
        description='days kept per data store, JSON: {"decision_log": 180} (default: inventory)',
    )
    rate_limit_storage: SecretStr = Field(
        SecretStr("memory://"),
        description="memory:// (per replica; refused in production) or "
        "redis://[:password@]host:port/db to share rate limits across replicas; a secret",
    )

    def resolved_token_keys(self, mode: Mode, data_dir: Path) -> tuple[str, dict[str, bytes]]:
        """Return ``(active key id, {key id: key bytes})``.

        In embedded mode with no keys configured, a throwaway demo key is
        generated once under ``data_dir/secrets`` (so every command of one demo
        agrees on tokens); production refuses to start without keys.
        """
        if not self.token_keys:
            if mode == "production":
                raise ConfigError("security.token_keys is required in production mode")
            return "demo", {"demo": _demo_key(data_dir / "secrets" / "demo-token.key")}
        keys = {kid: value.get_secret_value().encode() for kid, value in self.token_keys.items()}
        active = self.active_token_key or sorted(keys)[-1]
        if active not in keys:
            raise ConfigError(f"security.active_token_key {active!r} is not in security.token_keys")
        return active, keys

    def resolved_rate_limit_storage(self, mode: Mode) -> str:
        """The ``limits`` storage URI; production refuses ``memory://``.

        Memory storage counts per replica: N scoring replicas would admit N
        times the configured rate.
        """
        uri = self.rate_limit_storage.get_secret_value()
        if mode == "production" and uri.split("://", 1)[0].lower() == "memory":
            raise ConfigError(
                "security.rate_limit_storage must be shared storage in production mode "
                "(redis://[:password@]host:port/db, set FRAUDLENS_SECURITY__RATE_LIMIT_STORAGE), "
                "not memory:// (each replica would count alone)"
            )
        return uri


def _demo_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


class ValidationSettings(BaseModel):
    """Limits applied when validating incoming events."""

    max_amount: float = Field(1_000_000.0, gt=0, description="largest accepted amount")
    max_future_seconds: float = Field(
        300.0, ge=0, description="how far in the future an event time may be (clock skew)"
    )


class SimulatorSettings(BaseModel):
    """Defaults for ``fraudlens simulate``."""

    customers: int = Field(5_000, ge=1)
    terminals: int = Field(2_000, ge=1)
    days: int = Field(60, ge=1)
    start_date: str = Field("2026-06-01", description="first simulated day (UTC, ISO date)")
    fraud_rate: float = Field(0.004, ge=0, le=0.5, description="target share of fraud")
    seed: int = 7
    scenarios: list[str] = Field(
        default_factory=lambda: [
            "compromised_terminal",
            "stolen_card",
            "card_testing",
            "account_takeover",
            "high_amount",
            "merchant_collusion",
        ],
        description="enabled fraud scenarios, JSON list",
    )
    scenario_start_day: dict[str, int] = Field(
        default_factory=dict,
        description='day a scenario starts (concept drift), JSON: {"account_takeover": 40}',
    )
    mean_tx_per_day: float = Field(
        0.8, gt=0, le=50, description="average legitimate transactions per customer per day"
    )


class ServeSettings(BaseModel):
    """Real-time scoring: the Ray Serve API and the stream scorer."""

    host: str = Field("127.0.0.1", description="HTTP host of the Serve proxy")
    port: int = Field(8000, ge=1, le=65535, description="HTTP port of the Serve proxy")
    request_timeout_s: float = Field(2.0, gt=0, description="end-to-end HTTP request timeout")
    feature_timeout_ms: float = Field(
        100.0, gt=0, description="online feature read budget; past it the answer is degraded"
    )
    replicas: int = Field(1, ge=1, description="scoring replicas when autoscaling is off")
    autoscaling: bool = Field(False, description="use Serve autoscaling (min/max replicas)")
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(4, ge=1)
    target_ongoing_requests: float = Field(32.0, gt=0, description="autoscaling target")
    max_ongoing_requests: int = Field(
        256, ge=1, description="requests in flight per replica (Serve's default 5 is too low)"
    )
    throughput_optimized: bool = Field(
        True,
        description="Ray Serve's throughput-optimized mode (RAY_SERVE_THROUGHPUT_OPTIMIZED): "
        "user code and router on the replica's event loop, gRPC from proxy to replica; "
        "set when `fraudlens serve` starts Ray (KubeRay: container env)",
    )
    ingress: Literal["haproxy", "proxy", "direct"] = Field(
        "haproxy",
        description="what listens on `port`: haproxy (Ray's HAProxy ingress, forwarding to "
        "each replica's own HTTP port), proxy (Ray's Python proxy, gRPC to replicas) or "
        "direct (no proxy: clients call replicas on ports 30000+)",
    )
    num_cpus: float = Field(0.25, gt=0, description="CPU share each scoring replica asks for")
    model_alias: str = Field("champion", description="MLflow alias of the serving model")
    shadow: bool = Field(True, description="score the challenger in shadow (logged only)")
    challenger_alias: str = Field("challenger", description="MLflow alias of the shadow model")
    rules_file: Path | None = Field(
        None, description="YAML/JSON decision rules (lists, limits): fraudlens.scoring.Rules"
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="larger request bodies get 413")
    max_batch_size: int = Field(1000, ge=1, description="transactions per /v1/score/batch call")
    micro_batch_rows: int = Field(
        64, ge=1, description="concurrent /v1/score requests scored together (1: off)"
    )
    model_poll_s: float = Field(
        30.0, ge=0, description="how often to check the model alias in MLflow (0: never)"
    )
    decision_log: bool = Field(True, description="record every decision (Parquet, by day)")
    rules_store: Literal["file", "redis", "postgres"] = Field(
        "file",
        description=(
            "live rules set by PUT /v1/rules: file (DATA_DIR/rules), redis, or postgres (the "
            "records database's rules table, every version kept)"
        ),
    )
    rules_redis_url: SecretStr | None = Field(
        None, description="redis:// or rediss:// URL of the rule store (with rules_store=redis)"
    )
    rules_poll_s: float = Field(
        5.0, ge=0, description="how often each replica checks the rule store (0: never)"
    )
    stream_batch_size: int = Field(500, ge=1, description="stream scorer micro-batch size")
    stream_group: str = Field("fraudlens-scorer", description="stream scorer consumer group")


class FeastSettings(BaseModel):
    """Feast feature store: repo, online store and offline (Parquet) location."""

    repo_path: Path = Field(
        default_factory=lambda: Path(__file__).resolve().parent.parent / "feature_repo",
        description="folder holding the Feast definitions (feature_repo/)",
    )
    project: str = Field("fraudlens", description="Feast project name")
    online_store: Literal["sqlite", "redis"] = Field(
        "sqlite", description="sqlite (embedded) or redis (production)"
    )
    redis_connection_string: str = Field(
        "127.0.0.1:6379", description="Feast redis connection string (host:port,db=0,...)"
    )
    offline_path: Path | None = Field(
        None, description="Parquet folder of the offline store (default: DATA_DIR/feast/offline)"
    )
    registry_path: Path | None = Field(
        None, description="Feast registry file (default: DATA_DIR/feast/registry.db)"
    )
    registry_url: SecretStr | None = Field(
        None,
        description=(
            "postgresql:// URL of a Feast SQL registry shared by every pod (a secret; "
            "production), instead of the registry file"
        ),
    )
    sqlite_path: Path | None = Field(
        None, description="SQLite online store file (default: DATA_DIR/feast/online.db)"
    )
    offline_store: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description=(
            "duckdb (embedded, in-process) or spark (production: historical joins run on "
            "the Spark master of `spark.master`; needs online_store=redis and a JVM)"
        ),
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "extra Spark conf of the Spark offline store, a JSON object in the environment, "
            'e.g. {"spark.executor.memory": "4g"}; overrides the conf built from `spark.*`'
        ),
    )
    max_label_delay_days: int = Field(
        120, ge=1, description="labels later than this after their transaction are ignored"
    )


class FeaturesSettings(BaseModel):
    """Feature parameters every runner shares, and the stream feature job's fold (memory bounds)."""

    matured_delay_days: int = Field(
        DEFAULT_MATURED_DELAY_DAYS,
        ge=0,
        le=MAX_MATURED_DELAY_DAYS,
        description="days (0 to 60): matured terminal risk uses the windows [today - delay - w, "
        "today - delay) in whole UTC days, so transactions whose fraud labels cannot have "
        "arrived yet do not dilute it; `fraudlens labels delay` recommends a value from the "
        "observed label delays. The Feast registry, the per-transaction feature rows, the "
        "terminal states (kept 31 + delay days) and every model bake it in: after a change "
        "run `fraudlens features apply` and `fraudlens features backfill`, restart the stream "
        "job with --no-snapshot and retrain (serving refuses a model or registry with another "
        "delay; docs/features.md)",
    )

    encoder_cache_entities: int = Field(
        100_000,
        ge=1,
        description="most cards, and most terminals, whose encoded state blob the stream job "
        "keeps to update with the next event (about 3.5 KB for a card of 50 events: the "
        "default is about 350 MB; least recently used dropped, its next blob encoded in "
        "full: the same bytes, slower)",
    )


class CheckpointSettings(BaseModel):
    """State snapshots of the stream feature job (a restart then reads only the topic tail)."""

    enabled: bool = Field(True, description="write snapshots and restart from the newest one")
    url: str = Field(
        "",
        description="where snapshots live: a folder or an fsspec URL such as "
        "s3://bucket/fraudlens/checkpoints (default: DATA_DIR/checkpoints); production "
        "refuses a local folder (a pod's disk does not survive a restart)",
    )
    every_seconds: float = Field(
        300.0, gt=0, description="write a snapshot at most this many seconds apart"
    )
    every_messages: int = Field(
        200_000, ge=1, description="or after this many applied events, whichever comes first"
    )
    keep: int = Field(3, ge=1, description="snapshots kept per job; older ones are deleted")
    missing_history: Literal["warn", "refuse"] = Field(
        "warn",
        description="when the topics no longer hold the history the job needs (no snapshot, "
        "or one older than the retention): warn that long-window features are incomplete, "
        "or refuse to start",
    )

    def resolved_url(self, mode: Mode, data_dir: Path) -> str:
        """Where snapshots live: ``url``, or ``data_dir/checkpoints`` when it is empty.

        Production refuses a local folder (a path or ``file://``): a pod's disk
        is gone after a restart, and with it the 31 days of state the topics no
        longer hold.
        """
        url = self.url or str(data_dir / "checkpoints")
        if mode == "production" and ("://" not in url or url.startswith("file://")):
            raise ConfigError(
                f"checkpoint.url must name object storage in production mode (an fsspec URL "
                f"such as s3://bucket/checkpoints, set FRAUDLENS_CHECKPOINT__URL), not the "
                f"local folder {url!r}"
            )
        if "://" in url and not url.startswith("file://"):
            _check_fsspec_protocol(url)
        return url


def _check_fsspec_protocol(url: str) -> None:
    """Refuse an object-store URL whose fsspec plugin is not installed (say which)."""
    import fsspec

    protocol = url.split("://", 1)[0]
    try:
        fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError) as exc:
        raise ConfigError(
            f"checkpoint.url {protocol}:// needs its fsspec plugin in the image: {exc}"
        ) from exc


class SparkSettings(BaseModel):
    """Spark session for the batch feature job and the Spark offline store (Feast)."""

    master: str = Field(
        "local[*]",
        description="Spark master URL of the batch job and the Spark offline store "
        "(local[*] runs in-process)",
    )
    shuffle_partitions: int = Field(8, ge=1, description="spark.sql.shuffle.partitions")
    driver_memory: str = Field("2g", description="spark.driver.memory")


class MlflowSettings(BaseModel):
    """MLflow tracking and model registry (embedded default: SQLite under DATA_DIR)."""

    tracking_uri: str = Field(
        "", description="tracking server URL or DB URI (default: sqlite under DATA_DIR/mlflow)"
    )
    registry_uri: str = Field("", description="model registry URI (default: the tracking URI)")
    experiment: str = Field("fraudlens", description="experiment holding training runs")
    model_name: str = Field("fraudlens", description="registered model name of the ensemble")
    artifact_location: str = Field(
        "", description="artifact root of new experiments (default: DATA_DIR/mlflow/artifacts)"
    )

    def resolved_tracking_uri(self, data_dir: Path) -> str:
        """The tracking URI, defaulting to a SQLite file under ``data_dir``."""
        return self.tracking_uri or f"sqlite:///{(data_dir / 'mlflow' / 'mlflow.db').resolve()}"

    def resolved_registry_uri(self, data_dir: Path) -> str:
        """The registry URI, defaulting to the tracking URI."""
        return self.registry_uri or self.resolved_tracking_uri(data_dir)

    def resolved_artifact_location(self, data_dir: Path) -> str:
        """Artifact root for new experiments, defaulting to a folder under ``data_dir``."""
        return self.artifact_location or (data_dir / "mlflow" / "artifacts").resolve().as_uri()


class TrainingSettings(BaseModel):
    """Training set, Ray Train, evaluation thresholds and the promotion gate."""

    feature_service: str = Field("fraud_model_v1", description="Feast feature service to train on")
    history_dir: Path | None = Field(
        None,
        description="folder with transactions.parquet + labels.parquet (default: DATA_DIR/sim "
        "or DATA_DIR/import, whichever exists, the newer if both)",
    )
    features_source: Literal["feast", "memory"] = Field(
        "feast",
        description="feast: per-transaction feature rows (transaction_features view); "
        "memory: fold the history in-process (the test oracle)",
    )
    label_delay_days: int = Field(
        14,
        ge=0,
        description="days for a label to mature: the gap between train and validation, "
        "and the age from which the promotion gate counts a row's label as known",
    )
    validation_days: int = Field(7, ge=1, description="validation period (model selection)")
    test_days: int = Field(7, ge=1, description="test period (final evaluation), the newest")
    late_labels: Literal["unknown", "legit"] = Field(
        "unknown", description="train frauds labelled after the cutoff: dropped or kept as legit"
    )
    alert_budget: float = Field(
        0.005, gt=0, lt=1, description="share of transactions analysts can review (alerts)"
    )
    decline_precision: float = Field(
        0.9, gt=0, le=1, description="validation precision required to auto-decline"
    )
    cards_per_day: int = Field(100, ge=1, description="k of card precision@k per day")
    review_cost: float = Field(5.0, ge=0, description="cost of reviewing one alert")
    imbalance_powers: list[float] = Field(
        default_factory=lambda: [0.0, 0.5, 1.0],
        description="positive weight candidates as (legit/fraud)**p, chosen on validation",
    )
    xgb_rounds: int = Field(300, ge=1, description="maximum boosting rounds")
    xgb_early_stopping: int = Field(30, ge=1, description="early stopping rounds on validation")
    xgb_early_stopping_metric: Literal["logloss", "aucpr"] = Field(
        "logloss",
        description="validation metric that stops boosting: logloss keeps improving while a "
        "rare pattern (a tail of amounts) is being learnt, where the overall AP is flat",
    )
    xgb_max_depth: int = Field(6, ge=1, description="tree depth")
    xgb_learning_rate: float = Field(0.1, gt=0, description="boosting learning rate")
    xgb_monotone: dict[str, Literal[-1, 1]] = Field(
        default_factory=dict,
        description="domain priors, none by default: 1 = risk never falls as the feature "
        "rises, -1 = never rises; a prior true of one fraud pattern is false of another "
        "(card testing: small amounts) and costs average precision",
    )
    mlp_hidden: list[int] = Field(default_factory=lambda: [64, 32], description="MLP layers")
    mlp_epochs: int = Field(4, ge=1, description="MLP epochs")
    mlp_batch_size: int = Field(1024, ge=1, description="MLP batch size per worker")
    mlp_learning_rate: float = Field(1e-3, gt=0, description="MLP Adam learning rate")
    ray_address: str | None = Field(None, description="Ray cluster address (default: local Ray)")
    ray_workers: int = Field(2, ge=1, description="Ray Train workers per trainer")
    ray_cpus_per_worker: float = Field(
        0.5, gt=0, description="CPUs per worker; fractional locally so Ray Data is not starved"
    )
    reference_rows: int = Field(2000, ge=10, description="training rows kept for drift checks")
    # A value rarer than this says little about fraud (at a rate of a few frauds per
    # thousand, 50 rows hold a fraud or none); rare values pool into the other column.
    categorical_min_count: int = Field(
        50,
        ge=1,
        description="categorical extras: a value needs this many training rows for its own "
        "one-hot column; rarer ones count as other",
    )
    # Each value is one more column for both members at every request; 20 covers the
    # bulk of typical codes (device types, channels, MCC groups).
    categorical_max_categories: int = Field(
        20,
        ge=1,
        le=256,
        description="categorical extras: at most this many values get a one-hot column "
        "(the most frequent), plus one for other",
    )
    gate_metric: str = Field("average_precision", description="primary metric of the gate")
    gate_margin: float = Field(
        0.002, ge=0, description="a challenger must beat the champion by this on gate_metric"
    )
    gate_tolerance: float = Field(
        0.01, ge=0, description="largest allowed drop on the other gate metrics"
    )
    gate_guard_metrics: list[str] = Field(
        default_factory=lambda: ["roc_auc", "recall_at_1pct_fpr", "card_precision_at_k"],
        description="metrics that must not regress beyond gate_tolerance",
    )
    gate_guard_confidence: float = Field(
        0.95,
        ge=0,
        lt=1,
        description="confidence that a guard metric really lost more than gate_tolerance "
        "(paired bootstrap over the holdout's rows; 0: compare the point estimates); a holdout "
        "of a few dozen frauds moves recall by a step per fraud",
    )
    seed: int = Field(7, description="random seed of both members")
    feature_chunk_days: int = Field(
        30,
        ge=1,
        description="Feast training path: fetch feature rows this many days at once "
        "(memory is bounded by a chunk; fewer, larger chunks are faster)",
    )
    search_trials: int = Field(
        0,
        ge=0,
        description="Ray Tune trials over XGBoost parameters and class weighting before "
        "training, judged on the backtest folds (0: no search)",
    )
    search_metric: Literal["average_precision", "card_precision_at_k", "net_savings"] = Field(
        "average_precision", description="what the search maximises, mean over folds"
    )
    xgb_tree_method: Literal["hist", "approx", "exact"] = Field(
        "approx",
        description="hist: split candidates fixed once at xgb_max_bin quantiles of each "
        "feature (fastest); approx: re-drawn every round, weighted toward rows the model is "
        "still unsure of (folds about 60 % slower); exact: every value (one Ray worker only)",
    )
    xgb_max_bin: int = Field(
        256,
        ge=2,
        description="hist/approx split candidates per feature; a threshold inside a rare "
        "tail (large amounts) is learnt only if a candidate falls near it: bins cover equal "
        "shares of rows, so a tail of 0.5 % of rows gets about 0.005 x max_bin of them",
    )

    @model_validator(mode="after")
    def _exact_is_single_worker(self) -> TrainingSettings:
        if self.xgb_tree_method == "exact" and self.ray_workers != 1:
            # XGBoost's exact updater refuses distributed training
            raise ValueError("training.xgb_tree_method=exact needs training.ray_workers=1")
        return self


class BacktestSettings(BaseModel):
    """Rolling-origin backtest (``fraudlens backtest``, docs/backtest.md)."""

    folds: int = Field(
        3, ge=1, description="folds; their test blocks follow each other up to the end"
    )
    train_days: int = Field(
        21,
        ge=2,
        description="labelled history per fold, before the gap; its last "
        "training.validation_days choose the ensemble",
    )
    test_days: int = Field(7, ge=1, description="test block per fold, starting at its cut-off")
    gap_days: int | None = Field(
        None,
        ge=0,
        description="days between the history and the cut-off (label delay; default: "
        "training.label_delay_days, or the imported data's label delay)",
    )
    out_dir: Path | None = Field(
        None, description="where backtest.json and backtest.png go (default: DATA_DIR/backtest)"
    )


class DriftSettings(BaseModel):
    """Drift monitor and the automatic retraining loop (``drift/``)."""

    backend: Literal["alibi", "scipy"] = Field(
        "alibi", description="alibi (alibi-detect, BSL-licensed) or scipy (license-free)"
    )
    p_value: float = Field(
        0.01,
        gt=0,
        lt=1,
        description="test level after the correction (rows of a window are "
        "correlated: the same cards repeat, so p-values run small)",
    )
    correction: Literal["bonferroni", "fdr"] = Field(
        "bonferroni", description="multiple-testing correction over per-feature tests"
    )
    window_days: float = Field(
        7.0, gt=0, description="recent window of decisions checked (a week: no weekday effect)"
    )
    source: Literal["auto", "parquet", "records"] = Field(
        "auto",
        description=(
            "where checks and label joins read decisions and labels: the Parquet log under "
            "DATA_DIR, the records database (PostgreSQL; features of the decisions sampled by "
            "records.feature_sample_rate), or auto: the records database when "
            "records.decision_sink=kafka"
        ),
    )
    window_rows: int = Field(10_000, ge=10, description="rows sampled evenly from a larger window")
    min_window_rows: int = Field(500, ge=10, description="fewer rows: no verdict")
    min_window_days: float = Field(
        6.0,
        ge=0,
        description="decisions of the checked model spanning fewer days: no verdict "
        "(part of a week shows weekday effects, not drift)",
    )
    exclude_features: list[str] = Field(
        default_factory=lambda: [
            "term_fraud_*",
            "term_matured_fraud_*",
            "txn_is_weekend",
            "term_tx_count_1d",
        ],
        description="features left out of the drift tests (glob patterns): label-derived "
        "ones (fraud counts and rates) move with the labels' arrival and the fraud base "
        "rate, which the matured-label performance check watches; calendar ones (weekend "
        "flag, the previous day's terminal count) follow the weekday mix",
    )
    max_categories: int = Field(
        24, ge=2, description="integer features with at most this many values use chi-squared"
    )
    psi_bins: int = Field(10, ge=2, description="reference-quantile bins of the PSI")
    min_psi: float = Field(
        0.01, ge=0, description="a feature moves only if its PSI is also at least this"
    )
    mmd: bool = Field(True, description="run the multivariate MMD test on a subsample")
    mmd_subsample: int = Field(500, ge=20, description="rows per side of the MMD test")
    mmd_permutations: int = Field(100, ge=10, description="permutations of the MMD test")
    online: bool = Field(True, description="run the online detector on the score stream")
    online_ert: int = Field(
        2000, ge=50, description="expected scores between false alarms of the online detector"
    )
    online_window: int = Field(30, ge=5, description="sliding window of the online detector")
    online_ref_size: int = Field(200, ge=20, description="reference scores of the online detector")
    online_bootstraps: int = Field(
        20_000, ge=100, description="simulations calibrating the online threshold (alibi)"
    )
    persistence: int = Field(3, ge=1, description="consecutive drifted checks before retraining")
    ap_drop: float = Field(
        0.2, gt=0, lt=1, description="relative drop of matured-label AP that triggers retraining"
    )
    ap_confidence: float = Field(
        0.95,
        ge=0,
        lt=1,
        description="confidence that matured-label AP really fell below the drop threshold "
        "(bootstrap over the matured transactions; 0: compare the point estimate)",
    )
    performance_days: int = Field(7, ge=1, description="days of matured labels per evaluation")
    min_labelled_frauds: int = Field(20, ge=1, description="fewer matured frauds: no verdict")
    cooldown_hours: float = Field(24.0, ge=0, description="minimum time between retrainings")
    retrain_days: int = Field(56, ge=1, description="days of history a retraining uses")
    launcher: Literal["ray_task", "ray_job", "inline"] = Field(
        "ray_task", description="how retraining runs: local Ray task, Ray job, or in-process"
    )
    ray_job_address: str = Field(
        "http://127.0.0.1:8265", description="Ray dashboard address for the ray_job launcher"
    )
    check_interval_s: float = Field(3600.0, gt=0, description="seconds between checks (watch)")
    metrics_port: int = Field(9108, ge=0, le=65535, description="/metrics port of watch (0: off)")
    pushgateway: str = Field("", description="Pushgateway address for one-shot checks (optional)")
    report_dir: Path | None = Field(
        None,
        description="HTML drift reports when records.database_url is not set (default: "
        "DATA_DIR/reports/drift; when it is, each page is stored with its check: "
        "fraudlens drift report)",
    )
    report_plots: int = Field(
        24,
        ge=0,
        description="distribution plots in each HTML drift report, moved columns first "
        "(about 0.2 s each; 0: the tests table only)",
    )
    state_path: Path | None = Field(
        None,
        description=(
            "retraining loop state, JSON, used only when no records database can be "
            "started (default: DATA_DIR/drift/state.json)"
        ),
    )


class MetricsSettings(BaseModel):
    """Prometheus ``/metrics`` of the stream jobs and the records sink (the API exports
    through Ray under Serve)."""

    port: int = Field(
        0,
        ge=0,
        le=65535,
        description=(
            "/metrics port of `fraudlens stream features`, `stream score` and `records sink` "
            "(0: off)"
        ),
    )
    host: str = Field("0.0.0.0", description="address the stream jobs' /metrics listens on")


class RecordsSettings(BaseModel):
    """PostgreSQL, the system of record (decisions, labels, audit chain, cases, jobs)."""

    database_url: SecretStr | None = Field(
        None,
        description=(
            "SQLAlchemy/libpq URL, e.g. postgresql://user:pw@host:5432/fraudlens (a secret); "
            "required in production; unset in embedded mode starts a bundled PostgreSQL"
        ),
    )
    embedded_dir: Path | None = Field(
        None, description="data folder of the bundled PostgreSQL (default: DATA_DIR/postgres)"
    )
    pool_size: int = Field(5, ge=1, le=100, description="connections kept open per process")
    decision_sink: Literal["auto", "parquet", "kafka", "both"] = Field(
        "auto",
        description=(
            "where scoring records decisions: the Parquet decision log under DATA_DIR, the "
            "decisions topic (stored by `fraudlens records sink`, which opens the review cases), "
            "or both; auto: kafka in production (required there), both when a broker is "
            "configured and the workspace is on, else parquet. Shadow scores follow it: the "
            "shadow log under DATA_DIR, the shadow-scores topic (stored in shadow_scores), or both"
        ),
    )
    feature_sample_rate: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description=(
            "share of decisions published with their feature vector and stored in the "
            "decisions table (chosen by a hash of the decision id, so replicas and "
            "redeliveries agree), for drift checks on the records database; 1 keeps every "
            "vector; in production about 3 x drift.window_rows / decisions per drift window "
            "(e.g. 0.005 at 1M decisions a day), below drift.min_window_rows sampled per "
            "window the check tests the score only"
        ),
    )

    def resolved_embedded_dir(self, data_dir: Path) -> Path:
        """The bundled server's data folder."""
        return self.embedded_dir or data_dir / "postgres"


class WorkspaceSettings(BaseModel):
    """The analyst workspace (review queue, cases, labels) served under ``/workspace``."""

    enabled: bool = Field(
        True, description="mount the workspace in the scoring API (needs the records database)"
    )
    case_decisions: list[Literal["review", "decline"]] = Field(
        ["review", "decline"],
        min_length=1,
        description=(
            "decisions that open a case: reviews to decide, declines to confirm (a confirmed "
            "decline is a label days before its chargeback, and tells whether to block the card)"
        ),
    )
    group_window_minutes: int = Field(
        60, ge=0, le=10080, description="cases of one card within this window form a group"
    )
    sla_minutes: int = Field(
        240, ge=1, le=43200, description="an open case older than this breaches the review SLA"
    )
    session_minutes: int = Field(
        480, ge=5, le=1440, description="a signed-in session ends after this many minutes"
    )
    secure_cookie: bool = Field(
        True, description="send the session cookie only over HTTPS (false only for http localhost)"
    )
    page_size: int = Field(50, ge=1, le=500, description="cases per queue page")


class Settings(BaseSettings):
    """All FraudLens settings. Build once at the entry point and pass in."""

    model_config = SettingsConfigDict(
        env_prefix="FRAUDLENS_", env_nested_delimiter="__", extra="forbid"
    )

    mode: Mode = Field("embedded", description="embedded demo defaults or production")
    data_dir: Path = Field(
        default_factory=lambda: Path.home() / ".fraudlens",
        description="where data, stores and reports are written",
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    feast: FeastSettings = Field(default_factory=FeastSettings)
    features: FeaturesSettings = Field(default_factory=FeaturesSettings)
    checkpoint: CheckpointSettings = Field(default_factory=CheckpointSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    backtest: BacktestSettings = Field(default_factory=BacktestSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    records: RecordsSettings = Field(default_factory=RecordsSettings)
    workspace: WorkspaceSettings = Field(default_factory=WorkspaceSettings)

    @model_validator(mode="after")
    def _production_needs_services(self) -> Settings:
        if self.mode != "production":
            return self
        if not self.kafka.bootstrap_servers:
            raise ValueError("kafka.bootstrap_servers is required in production mode")
        # Scoring replicas write no files in production (a pod's folder is an
        # emptyDir): decisions go through the topic into PostgreSQL.
        if self.records.decision_sink == "auto":
            self.records.decision_sink = "kafka"
        elif self.records.decision_sink != "kafka":
            raise ValueError(
                f"records.decision_sink must be kafka in production mode, not "
                f"{self.records.decision_sink!r} (scoring replicas write no files there: "
                "decisions go through the topic into PostgreSQL)"
            )
        return self

    def resolved_decision_sink(self) -> Literal["parquet", "kafka", "both"]:
        """``records.decision_sink`` with ``auto`` resolved.

        Production: kafka. Embedded: both when a broker is configured and the
        workspace is on (the API's review decisions reach the sink, which opens
        their cases), else the Parquet log only.
        """
        choice = self.records.decision_sink
        if choice != "auto":
            return choice
        if self.mode == "production":
            return "kafka"
        if self.kafka.bootstrap_servers and self.workspace.enabled:
            return "both"
        return "parquet"
