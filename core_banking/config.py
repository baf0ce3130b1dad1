"""Typed runtime configuration for Nexum, read from ``NEXUM_*`` environment variables.

Why typed settings
    A core banking system must not start half-configured. Every knob is declared once here,
    with its type, its default, its allowed range and a one-line description, and the whole
    environment is validated at start-up. A typo such as ``NEXUM_API_PORT=80900`` or
    ``NEXUM_MAX_TRANSACTION_AMOUNT=1e5`` stops the process with a message that names the
    variable, instead of surfacing later as a crash or, worse, as a silently wrong limit.
    Money limits stay :class:`~decimal.Decimal` from the raw string onwards and never pass
    through ``float``.

Naming
    Each field ``foo_bar`` is read from the environment variable ``NEXUM_FOO_BAR``
    (see :func:`env_var_name`). Names are matched case-insensitively and unrelated variables
    are ignored. List values are comma-separated (``a,b,c``); a JSON list (``["a","b"]``)
    is accepted too.

The contract
    The reference table of the deployment guide (variable, type, default) is the contract
    this module implements: the defaults below are the guide's and must not drift from it.
    ``NEXUM_ENVIRONMENT`` is Nexum's own addition; in ``staging`` and ``production`` it turns
    on the strict rules (no default or short JWT secret, audit logging mandatory).

Use :func:`get_config` in application code (cached per process) and :func:`load_config`
with an explicit mapping in tests. Both raise :class:`ConfigError`, one line per problem,
never echoing a secret.

This module sits at the bottom of the layering: it imports nothing from ``core_banking``.
"""

import base64
import binascii
import functools
import ipaddress
import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final, Self

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

__all__ = [
    "DEFAULT_JWT_SECRET",
    "ENV_PREFIX",
    "MASTER_KEY_LENGTH",
    "STRICT_JWT_SECRET_MIN_LENGTH",
    "ConfigError",
    "EncryptionProvider",
    "Environment",
    "JwtAlgorithm",
    "LogFormat",
    "LogLevel",
    "Settings",
    "env_var_name",
    "get_config",
    "load_config",
]

ENV_PREFIX: Final = "NEXUM_"
DEFAULT_JWT_SECRET: Final = "change-me-in-production"  # noqa: S105  (refused when strict)
STRICT_JWT_SECRET_MIN_LENGTH: Final = 32
MASTER_KEY_LENGTH: Final = 32
MAX_DECIMAL_DIGITS: Final = 18

# Fields whose raw value is never repeated in an error message. The URLs are included
# because they routinely carry a password (postgresql://user:password@host/db).
_HIDDEN_VALUE_FIELDS: Final = frozenset(
    {
        "jwt_secret",
        "encryption_master_key",
        "encryption_previous_keys",
        "database_url",
        "database_replica_urls",
        "redis_url",
    }
)
_RULES_ERROR_TYPE: Final = "nexum_config_rules"
_MAX_ECHO_LENGTH: Final = 80
_PLAIN_DECIMAL: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")


class ConfigError(ValueError):
    """The environment does not describe a valid Nexum configuration.

    ``str(error)`` has one line per problem, each naming the ``NEXUM_*`` variable at fault;
    the same lines are available as :attr:`problems`.
    """

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(f"invalid configuration: {line}" for line in self.problems))


class Environment(StrEnum):
    """Where this process runs; ``staging`` and ``production`` apply the strict rules."""

    DEVELOPMENT = "development"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"


class LogLevel(StrEnum):
    """Minimum severity written to the log."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class LogFormat(StrEnum):
    """Shape of each log line."""

    JSON = "json"
    TEXT = "text"


class EncryptionProvider(StrEnum):
    """Algorithm used to encrypt personal data at rest."""

    FERNET = "fernet"
    AESGCM = "aesgcm"


class JwtAlgorithm(StrEnum):
    """JWT signing algorithms Nexum accepts: HMAC only, never ``none`` or asymmetric ones."""

    HS256 = "HS256"
    HS384 = "HS384"
    HS512 = "HS512"


def env_var_name(field_name: str) -> str:
    """The environment variable that sets ``field_name``: ``api_port`` -> ``NEXUM_API_PORT``."""
    return f"{ENV_PREFIX}{field_name.upper()}"


# --- value parsers (run before pydantic's own type validation) -----------------------------


def _split_list(value: object) -> object:
    """Comma-separated string (or a JSON list) -> list of stripped, non-empty strings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            raise ValueError("must be a comma-separated list such as a,b (or a JSON list)")
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError(
                    "starts with '[' but is not a valid JSON list; "
                    "use a comma-separated list such as a,b"
                ) from None
        else:
            return [item.strip() for item in text.split(",") if item.strip()]
    if isinstance(value, list | tuple):
        return [
            item.strip() if isinstance(item, str) else item
            for item in value
            if not (isinstance(item, str) and not item.strip())
        ]
    return value


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _normalise_case(upper: bool) -> BeforeValidator:
    def normalise(value: object) -> object:
        if isinstance(value, str):
            stripped = value.strip()
            return stripped.upper() if upper else stripped.lower()
        return value

    return BeforeValidator(normalise)


def _parse_plain_decimal(value: object) -> Decimal:
    """Strict money parser: plain notation, non-negative, finite, at most 18 digits."""
    if isinstance(value, bool | float):
        raise ValueError("must be a plain decimal string such as 100.00, not a float")
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, Decimal | int):
        text = str(value)
    else:
        raise ValueError("must be a plain decimal string such as 100.00")
    if not _PLAIN_DECIMAL.fullmatch(text):
        if text.startswith("-"):
            raise ValueError("must not be negative")
        raise ValueError(
            "must be a plain decimal number such as 100.00 (no sign, exponent, NaN or Infinity)"
        )
    if sum(character.isdigit() for character in text) > MAX_DECIMAL_DIGITS:
        raise ValueError(f"must have at most {MAX_DECIMAL_DIGITS} digits")
    return Decimal(text)


def _decode_master_key(text: str) -> bytes:
    """Standard or URL-safe base64 (padding optional) of exactly 32 bytes, else ValueError."""
    stripped = text.strip()
    padded = stripped + "=" * (-len(stripped) % 4)
    for altchars in (None, b"-_"):
        try:
            decoded = base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(decoded) != MASTER_KEY_LENGTH:
            break
        return decoded
    raise ValueError(
        f"must be standard or URL-safe base64 encoding exactly {MASTER_KEY_LENGTH} bytes "
        '(generate one with: python -c "import base64, os; '
        'print(base64.urlsafe_b64encode(os.urandom(32)).decode())")'
    )


CommaSeparatedList = Annotated[list[str], NoDecode, BeforeValidator(_split_list)]
PlainDecimal = Annotated[Decimal, BeforeValidator(_parse_plain_decimal)]

_PER_MINUTE_MAX: Final = 1_000_000


class Settings(BaseSettings):
    """Every ``NEXUM_*`` setting, typed and validated. Immutable once built."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    # --- deployment ---
    environment: Annotated[Environment, _normalise_case(upper=False)] = Field(
        Environment.DEVELOPMENT,
        description="Deployment environment; staging and production enforce the strict rules.",
    )

    # --- database ---
    database_url: str = Field(
        "sqlite:///nexum.db", min_length=1, description="SQLAlchemy URL of the primary database."
    )
    database_replica_urls: CommaSeparatedList = Field(
        default_factory=list,
        description="Comma-separated SQLAlchemy URLs of read replicas; empty for none.",
    )
    database_replica_max_lag_seconds: float = Field(
        10.0,
        gt=0,
        le=86_400,
        description="A replica further behind the primary serves no reads, and health says "
        "degraded.",
    )
    database_pool_size: int = Field(
        5, ge=1, le=1000, description="Connections kept open in the database pool."
    )
    database_pool_overflow: int = Field(
        10, ge=0, le=1000, description="Extra connections allowed beyond the pool size."
    )
    database_pool_timeout: int = Field(
        30, ge=1, le=3600, description="Seconds to wait for a free pooled connection."
    )
    database_echo: bool = Field(False, description="Log every SQL statement (debugging only).")

    # --- HTTP API ---
    api_host: str = Field("0.0.0.0", description="Interface the HTTP API binds to.")  # noqa: S104
    api_port: int = Field(8090, ge=1, le=65535, description="TCP port of the HTTP API.")
    api_workers: int = Field(1, ge=1, le=64, description="Number of API worker processes.")
    api_timeout: int = Field(60, ge=1, le=3600, description="Seconds before a request times out.")
    api_max_request_size: int = Field(
        16_777_216,
        ge=1024,
        le=1_073_741_824,
        description="Largest accepted request body, in bytes.",
    )

    # --- authentication ---
    jwt_secret: SecretStr = Field(
        SecretStr(DEFAULT_JWT_SECRET),
        description=(
            "HMAC key signing access tokens; at least 32 random characters in staging "
            "and production."
        ),
    )
    jwt_expiry_hours: int = Field(
        24, ge=1, le=720, description="Hours an access token stays valid."
    )
    jwt_algorithm: JwtAlgorithm = Field(
        JwtAlgorithm.HS256, description="JWT signing algorithm: HS256, HS384 or HS512."
    )
    password_min_length: int = Field(
        8, ge=8, le=256, description="Minimum length of a user password."
    )
    session_timeout_minutes: int = Field(
        30, ge=1, le=10080, description="Minutes of inactivity before a session expires."
    )

    # --- encryption of personal data ---
    encryption_enabled: bool = Field(
        False, description="Encrypt personal data at rest (needs a master key)."
    )
    encryption_master_key: SecretStr | None = Field(
        None,
        description="Base64 (standard or URL-safe) encoding of a 32-byte key; empty for none.",
    )
    encryption_provider: Annotated[EncryptionProvider, _normalise_case(upper=False)] = Field(
        EncryptionProvider.FERNET, description="Encryption algorithm: fernet or aesgcm."
    )
    encryption_previous_keys: SecretStr | None = Field(
        None,
        description="Comma-separated base64 master keys used before the current one: data "
        "written under them stays readable until `nexum keys rotate` re-encrypts it.",
    )

    # --- rate limiting (requests per minute) ---
    enable_rate_limiting: bool = Field(True, description="Apply the request rate limits.")
    rate_limit_global: int = Field(
        1000, ge=1, le=_PER_MINUTE_MAX, description="Requests per minute per client, overall."
    )
    rate_limit_auth: int = Field(
        10, ge=1, le=_PER_MINUTE_MAX, description="Login attempts per minute per client."
    )
    rate_limit_transactions: int = Field(
        500, ge=1, le=_PER_MINUTE_MAX, description="Transaction requests per minute per client."
    )

    # --- CORS ---
    cors_origins: CommaSeparatedList = Field(
        default_factory=lambda: ["*"],
        description="Comma-separated origins allowed by CORS; * allows any.",
    )
    trusted_proxies: CommaSeparatedList = Field(
        default_factory=list,
        description="Comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For is believed; empty: the connection's address is the client's.",
    )
    metrics_allowed_networks: CommaSeparatedList = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"],
        description="Comma-separated addresses or networks that may read /metrics without "
        "credentials; from anywhere else it needs the metrics:read permission.",
    )

    # --- logging ---
    log_level: Annotated[LogLevel, _normalise_case(upper=True)] = Field(
        LogLevel.INFO, description="Minimum log level: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )
    log_format: Annotated[LogFormat, _normalise_case(upper=False)] = Field(
        LogFormat.JSON, description="Log line format: json or text."
    )
    log_file: Path | None = Field(
        None, description="File to write logs to; empty for standard output only."
    )

    # --- money limits (Decimal, never float) ---
    min_account_balance: PlainDecimal = Field(
        Decimal("0.00"), description="Lowest balance an ordinary account may reach."
    )
    max_daily_transaction_limit: PlainDecimal = Field(
        Decimal("10000.00"), gt=0, description="Most an account may move out in one day."
    )
    max_transaction_amount: PlainDecimal = Field(
        Decimal("100000.00"), gt=0, description="Largest amount of a single transaction."
    )
    interest_calculation_precision: int = Field(
        4, ge=0, le=18, description="Decimal places kept in interest calculations."
    )

    # --- features ---
    enable_audit_logging: bool = Field(
        True, description="Write the audit trail; mandatory in staging and production."
    )
    enable_kafka_events: bool = Field(False, description="Publish domain events to Kafka.")
    enable_metrics: bool = Field(True, description="Expose Prometheus metrics.")
    enable_tracing: bool = Field(False, description="Emit OpenTelemetry traces.")

    # --- Kafka ---
    kafka_bootstrap_servers: CommaSeparatedList = Field(
        default_factory=list, description="Comma-separated host:port list of Kafka brokers."
    )
    kafka_topic_prefix: str = Field("nexum", description="Prefix of every Kafka topic name.")
    kafka_consumer_group: str = Field("nexum-core", description="Kafka consumer group id.")
    kafka_batch_size: int = Field(
        100, ge=1, le=100_000, description="Events sent to Kafka per batch."
    )
    kafka_delivery_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="How long one batch waits for the brokers before it is left for a retry.",
    )

    # --- cache and batch work ---
    redis_url: str | None = Field(None, description="Redis URL for caching; empty for none.")
    cache_ttl_seconds: int = Field(
        300, ge=0, le=86400, description="Seconds a cached entry stays valid."
    )
    batch_processing_size: int = Field(
        1000, ge=1, le=100_000, description="Records handled per batch job chunk."
    )
    connection_pool_size: int = Field(
        20, ge=1, le=1000, description="Size of the pool for outbound connections."
    )

    # --- migrations ---
    auto_migrate: bool = Field(True, description="Apply database migrations at start-up.")
    migration_timeout_seconds: int = Field(
        300, ge=1, le=86400, description="Seconds a migration run may take."
    )

    # --- field-level validation ---

    @field_validator(
        "log_file",
        "redis_url",
        "encryption_master_key",
        "encryption_previous_keys",
        mode="before",
    )
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        return _blank_to_none(value)

    @field_validator("jwt_algorithm", mode="before")
    @classmethod
    def _only_hmac(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().upper()
            if value not in JwtAlgorithm.__members__:
                raise ValueError(
                    "only HS256, HS384 and HS512 are allowed; "
                    "'none' and asymmetric algorithms are refused"
                )
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _secret_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @field_validator("encryption_master_key")
    @classmethod
    def _master_key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _decode_master_key(value.get_secret_value())
        return value

    @field_validator("encryption_previous_keys")
    @classmethod
    def _previous_keys_are_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            for key in value.get_secret_value().split(","):
                _decode_master_key(key.strip())
        return value

    @field_validator("trusted_proxies", "metrics_allowed_networks")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    # --- cross-field rules ---

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        problems: list[str] = []
        if self.encryption_enabled and self.encryption_master_key is None:
            problems.append(
                f"{env_var_name('encryption_master_key')}: required when "
                f"{env_var_name('encryption_enabled')} is true"
            )
        if self.enable_kafka_events:
            events = env_var_name("enable_kafka_events")
            if not self.kafka_bootstrap_servers:
                problems.append(
                    f"{env_var_name('kafka_bootstrap_servers')}: required when {events} is true"
                )
            if not self.enable_audit_logging:  # accounts' and customers' events come from it
                problems.append(
                    f"{env_var_name('enable_audit_logging')}: must be true when {events} is true"
                )
        if self.is_strict:
            where = f"when {env_var_name('environment')} is {self.environment.value}"
            secret = self.jwt_secret.get_secret_value()
            if secret == DEFAULT_JWT_SECRET:
                problems.append(
                    f"{env_var_name('jwt_secret')}: the default secret is not allowed {where}; "
                    f"set at least {STRICT_JWT_SECRET_MIN_LENGTH} random characters "
                    "(value hidden)"
                )
            elif len(secret) < STRICT_JWT_SECRET_MIN_LENGTH:
                problems.append(
                    f"{env_var_name('jwt_secret')}: must be at least "
                    f"{STRICT_JWT_SECRET_MIN_LENGTH} characters {where} (value hidden)"
                )
            if not self.enable_audit_logging:
                problems.append(f"{env_var_name('enable_audit_logging')}: must be true {where}")
        if problems:
            raise PydanticCustomError(_RULES_ERROR_TYPE, "{problems}", {"problems": problems})
        return self

    # --- helpers ---

    @property
    def is_strict(self) -> bool:
        """True in staging and production, where the strict rules apply."""
        return self.environment in (Environment.STAGING, Environment.PRODUCTION)

    def previous_key_bytes(self) -> list[bytes]:
        """The earlier master keys, decoded, oldest last as listed."""
        if self.encryption_previous_keys is None:
            return []
        return [
            _decode_master_key(key.strip())
            for key in self.encryption_previous_keys.get_secret_value().split(",")
        ]

    def master_key_bytes(self) -> bytes | None:
        """The 32-byte encryption master key, decoded; None when no key is configured."""
        if self.encryption_master_key is None:
            return None
        return _decode_master_key(self.encryption_master_key.get_secret_value())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment only: the process environment, or the mapping given to load_config."""
        environ = _EXPLICIT_ENVIRON.get()
        if environ is None:
            return init_settings, env_settings
        return (_MappingEnvSettingsSource(settings_cls, environ),)


# --- loading ------------------------------------------------------------------------------

_EXPLICIT_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar(
    "nexum_explicit_environ", default=None
)


class _MappingEnvSettingsSource(EnvSettingsSource):
    """The standard environment source, reading a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ  # read by _load_env_vars, which the base __init__ calls
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            (key if self.case_sensitive else key.lower()): value
            for key, value in self._environ.items()
        }


@contextmanager
def _reading(environ: Mapping[str, str]) -> Iterator[None]:
    token = _EXPLICIT_ENVIRON.set(environ)
    try:
        yield
    finally:
        _EXPLICIT_ENVIRON.reset(token)


def _echo(raw: str) -> str:
    if len(raw) > _MAX_ECHO_LENGTH:
        raw = raw[: _MAX_ECHO_LENGTH - 3] + "..."
    return f"(got {raw!r})"


def _describe(error: ErrorDetails, raw_values: Mapping[str, str]) -> list[str]:
    """One or more report lines for one pydantic error, naming env vars, hiding secrets."""
    if error["type"] == _RULES_ERROR_TYPE:
        problems = error.get("ctx", {}).get("problems", [])
        return [str(problem) for problem in problems]
    message = error["msg"].removeprefix("Value error, ")
    loc = error["loc"]
    if not loc or not isinstance(loc[0], str) or loc[0] not in Settings.model_fields:
        return [message]
    field = loc[0]
    name = env_var_name(field)
    where = "".join(f" item {part}:" if isinstance(part, int) else f" {part}:" for part in loc[1:])
    if field in _HIDDEN_VALUE_FIELDS:
        suffix = " (value hidden)"
    elif name in raw_values:
        suffix = f" {_echo(raw_values[name])}"
    else:
        suffix = ""
    return [f"{name}:{where} {message}{suffix}"]


def load_config(environ: Mapping[str, str] | None = None) -> Settings:
    """Build and validate the settings from ``environ`` (``os.environ`` when None).

    Only ``NEXUM_*`` keys are read (case-insensitively); everything else is ignored.
    Raises :class:`ConfigError` listing every problem, one line each.
    """
    source: Mapping[str, str] = os.environ if environ is None else environ
    raw_values = {key.upper(): value for key, value in source.items()}
    try:
        with _reading(source):
            return Settings()
    except ValidationError as exc:
        problems = [line for error in exc.errors() for line in _describe(error, raw_values)]
        raise ConfigError(problems) from None
    except SettingsError as exc:  # a source could not read a value at all
        raise ConfigError([str(exc)]) from None


@functools.cache
def get_config() -> Settings:
    """The process-wide settings, read once from ``os.environ``.

    Tests that change the environment call ``get_config.cache_clear()``.
    """
    return load_config(os.environ)
