"""Tests for core_banking.config: defaults, env var parsing, error messages, strict rules.

Every test builds settings from an explicit mapping with ``load_config({...})`` so the real
process environment never matters; only the ``get_config`` tests touch ``os.environ``, via
monkeypatch.
"""

import base64
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from core_banking.config import (
    DEFAULT_JWT_SECRET,
    ConfigError,
    EncryptionProvider,
    Environment,
    JwtAlgorithm,
    LogFormat,
    LogLevel,
    Settings,
    env_var_name,
    get_config,
    load_config,
)

STRONG_SECRET = "k" * 40
# 0xfb 0xff encodes to "+/" in standard base64 and "-_" in the URL-safe alphabet.
KEY_BYTES = b"\xfb\xff" * 16
STANDARD_KEY = base64.b64encode(KEY_BYTES).decode()
URLSAFE_KEY = base64.urlsafe_b64encode(KEY_BYTES).decode()
OTHER_KEY_BYTES = bytes(range(32))
OTHER_KEY = base64.b64encode(OTHER_KEY_BYTES).decode()
ALL_ENV_NAMES = {env_var_name(name) for name in Settings.model_fields}


def _same(actual: object, expected: object) -> bool:
    """Equal, of the same type, and for Decimals with the same written precision."""
    if type(actual) is not type(expected) or actual != expected:
        return False
    return not isinstance(expected, Decimal) or str(actual) == str(expected)


def _error(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(environ)
    return caught.value


# --- defaults: the deployment guide's reference table -------------------------------------

GUIDE_DEFAULTS: dict[str, object] = {
    "environment": Environment.DEVELOPMENT,
    "database_url": "sqlite:///nexum.db",
    "database_replica_urls": [],
    "database_replica_max_lag_seconds": 10.0,
    "database_pool_size": 5,
    "database_pool_overflow": 10,
    "database_pool_timeout": 30,
    "database_echo": False,
    "api_host": "0.0.0.0",
    "api_port": 8090,
    "api_workers": 1,
    "api_timeout": 60,
    "api_max_request_size": 16777216,
    "jwt_secret": SecretStr("change-me-in-production"),
    "jwt_expiry_hours": 24,
    "jwt_algorithm": JwtAlgorithm.HS256,
    "password_min_length": 8,
    "session_timeout_minutes": 30,
    "encryption_enabled": False,
    "encryption_master_key": None,
    "encryption_provider": EncryptionProvider.FERNET,
    "encryption_previous_keys": None,
    "enable_rate_limiting": True,
    "rate_limit_global": 1000,
    "rate_limit_auth": 10,
    "rate_limit_transactions": 500,
    "cors_origins": ["*"],
    "trusted_proxies": [],
    "metrics_allowed_networks": ["127.0.0.1/32", "::1/128"],
    "log_level": LogLevel.INFO,
    "log_format": LogFormat.JSON,
    "log_file": None,
    "min_account_balance": Decimal("0.00"),
    "max_daily_transaction_limit": Decimal("10000.00"),
    "max_transaction_amount": Decimal("100000.00"),
    "interest_calculation_precision": 4,
    "enable_audit_logging": True,
    "enable_kafka_events": False,
    "enable_metrics": True,
    "enable_tracing": False,
    "kafka_bootstrap_servers": [],
    "kafka_topic_prefix": "nexum",
    "kafka_consumer_group": "nexum-core",
    "kafka_batch_size": 100,
    "kafka_delivery_timeout_seconds": 10.0,
    "redis_url": None,
    "cache_ttl_seconds": 300,
    "batch_processing_size": 1000,
    "connection_pool_size": 20,
    "auto_migrate": True,
    "migration_timeout_seconds": 300,
}


def test_guide_defaults_cover_every_field() -> None:
    assert set(GUIDE_DEFAULTS) == set(Settings.model_fields)


@pytest.mark.parametrize(("field", "expected"), sorted(GUIDE_DEFAULTS.items()))
def test_default_matches_the_guide(field: str, expected: object) -> None:
    actual = getattr(load_config({}), field)
    assert _same(actual, expected), f"{field}: {actual!r} != {expected!r}"


def test_default_secret_constant_is_the_guides() -> None:
    assert DEFAULT_JWT_SECRET == "change-me-in-production"
    assert load_config({}).jwt_secret.get_secret_value() == DEFAULT_JWT_SECRET


def test_every_field_has_a_description() -> None:
    missing = [name for name, info in Settings.model_fields.items() if not info.description]
    assert missing == []


def test_env_var_name() -> None:
    assert env_var_name("api_port") == "NEXUM_API_PORT"


# --- each variable parses from its env name ------------------------------------------------

PARSED: list[tuple[str, str, object]] = [
    ("NEXUM_ENVIRONMENT", "test", Environment.TEST),
    ("NEXUM_DATABASE_URL", "postgresql://u:p@db/nexum", "postgresql://u:p@db/nexum"),
    (
        "NEXUM_DATABASE_REPLICA_URLS",
        "postgresql://a/x,postgresql://b/x",
        ["postgresql://a/x", "postgresql://b/x"],
    ),
    ("NEXUM_DATABASE_REPLICA_MAX_LAG_SECONDS", "2.5", 2.5),
    ("NEXUM_DATABASE_POOL_SIZE", "50", 50),
    ("NEXUM_DATABASE_POOL_OVERFLOW", "0", 0),
    ("NEXUM_DATABASE_POOL_TIMEOUT", "3600", 3600),
    ("NEXUM_DATABASE_ECHO", "true", True),
    ("NEXUM_API_HOST", "127.0.0.1", "127.0.0.1"),
    ("NEXUM_API_PORT", "9000", 9000),
    ("NEXUM_API_WORKERS", "4", 4),
    ("NEXUM_API_TIMEOUT", "120", 120),
    ("NEXUM_API_MAX_REQUEST_SIZE", "1024", 1024),
    ("NEXUM_JWT_SECRET", STRONG_SECRET, SecretStr(STRONG_SECRET)),
    ("NEXUM_JWT_EXPIRY_HOURS", "720", 720),
    ("NEXUM_JWT_ALGORITHM", "HS384", JwtAlgorithm.HS384),
    ("NEXUM_PASSWORD_MIN_LENGTH", "12", 12),
    ("NEXUM_SESSION_TIMEOUT_MINUTES", "10080", 10080),
    ("NEXUM_ENCRYPTION_ENABLED", "false", False),
    ("NEXUM_ENCRYPTION_MASTER_KEY", URLSAFE_KEY, SecretStr(URLSAFE_KEY)),
    ("NEXUM_ENCRYPTION_PROVIDER", "aesgcm", EncryptionProvider.AESGCM),
    (
        "NEXUM_ENCRYPTION_PREVIOUS_KEYS",
        f"{OTHER_KEY},{URLSAFE_KEY}",
        SecretStr(f"{OTHER_KEY},{URLSAFE_KEY}"),
    ),
    ("NEXUM_ENABLE_RATE_LIMITING", "false", False),
    ("NEXUM_RATE_LIMIT_GLOBAL", "1000000", 1_000_000),
    ("NEXUM_RATE_LIMIT_AUTH", "5", 5),
    ("NEXUM_RATE_LIMIT_TRANSACTIONS", "250", 250),
    (
        "NEXUM_CORS_ORIGINS",
        "https://a.example, https://b.example",
        ["https://a.example", "https://b.example"],
    ),
    (
        "NEXUM_TRUSTED_PROXIES",
        "10.0.0.0/8, 192.168.1.10,2001:db8::1",
        ["10.0.0.0/8", "192.168.1.10", "2001:db8::1"],
    ),
    (
        "NEXUM_METRICS_ALLOWED_NETWORKS",
        "10.1.0.0/16,::1",
        ["10.1.0.0/16", "::1"],
    ),
    ("NEXUM_LOG_LEVEL", "debug", LogLevel.DEBUG),
    ("NEXUM_LOG_FORMAT", "text", LogFormat.TEXT),
    ("NEXUM_LOG_FILE", "/var/log/nexum.log", Path("/var/log/nexum.log")),
    ("NEXUM_MIN_ACCOUNT_BALANCE", "10.50", Decimal("10.50")),
    ("NEXUM_MAX_DAILY_TRANSACTION_LIMIT", "2500.00", Decimal("2500.00")),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", "999999999999999999", Decimal("999999999999999999")),
    ("NEXUM_INTEREST_CALCULATION_PRECISION", "0", 0),
    ("NEXUM_ENABLE_AUDIT_LOGGING", "false", False),
    ("NEXUM_ENABLE_KAFKA_EVENTS", "yes", True),
    ("NEXUM_ENABLE_METRICS", "0", False),
    ("NEXUM_ENABLE_TRACING", "on", True),
    ("NEXUM_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092", ["k1:9092", "k2:9092"]),
    ("NEXUM_KAFKA_TOPIC_PREFIX", "bank", "bank"),
    ("NEXUM_KAFKA_CONSUMER_GROUP", "bank-core", "bank-core"),
    ("NEXUM_KAFKA_BATCH_SIZE", "500", 500),
    ("NEXUM_KAFKA_DELIVERY_TIMEOUT_SECONDS", "2.5", 2.5),
    ("NEXUM_REDIS_URL", "redis://cache:6379/0", "redis://cache:6379/0"),
    ("NEXUM_CACHE_TTL_SECONDS", "0", 0),
    ("NEXUM_BATCH_PROCESSING_SIZE", "100000", 100_000),
    ("NEXUM_CONNECTION_POOL_SIZE", "1", 1),
    ("NEXUM_AUTO_MIGRATE", "False", False),
    ("NEXUM_MIGRATION_TIMEOUT_SECONDS", "86400", 86400),
]


# What a setting needs beside it to be accepted at all.
NEEDED_WITH = {"NEXUM_ENABLE_KAFKA_EVENTS": {"NEXUM_KAFKA_BOOTSTRAP_SERVERS": "k1:9092"}}


def test_parse_table_covers_every_field() -> None:
    names = [name for name, _, _ in PARSED]
    assert len(names) == len(set(names))
    assert set(names) == ALL_ENV_NAMES


@pytest.mark.parametrize(("env_name", "raw", "expected"), PARSED)
def test_env_var_parses(env_name: str, raw: str, expected: object) -> None:
    field = env_name.removeprefix("NEXUM_").lower()
    actual = getattr(load_config({env_name: raw, **NEEDED_WITH.get(env_name, {})}), field)
    assert _same(actual, expected), f"{env_name}={raw!r}: {actual!r} != {expected!r}"


def test_names_are_case_insensitive() -> None:
    settings = load_config({"nexum_api_port": "9001", "Nexum_Log_Level": "warning"})
    assert settings.api_port == 9001
    assert settings.log_level is LogLevel.WARNING


@pytest.mark.parametrize(
    ("env_name", "raw", "expected"),
    [
        ("NEXUM_ENVIRONMENT", " Development ", Environment.DEVELOPMENT),
        ("NEXUM_LOG_LEVEL", "Critical", LogLevel.CRITICAL),
        ("NEXUM_LOG_FORMAT", "JSON", LogFormat.JSON),
        ("NEXUM_ENCRYPTION_PROVIDER", "Fernet", EncryptionProvider.FERNET),
        ("NEXUM_JWT_ALGORITHM", "hs512", JwtAlgorithm.HS512),
    ],
)
def test_enum_values_ignore_case(env_name: str, raw: str, expected: object) -> None:
    field = env_name.removeprefix("NEXUM_").lower()
    assert getattr(load_config({env_name: raw}), field) is expected


def test_unrelated_and_unknown_variables_are_ignored() -> None:
    settings = load_config(
        {"API_PORT": "not-a-port", "NEXUM_NO_SUCH_SETTING": "x", "PATH": "/usr/bin"}
    )
    assert settings.api_port == 8090


@pytest.mark.parametrize("env_name", ["NEXUM_LOG_FILE", "NEXUM_REDIS_URL"])
@pytest.mark.parametrize("raw", ["", "   "])
def test_blank_optional_value_means_none(env_name: str, raw: str) -> None:
    field = env_name.removeprefix("NEXUM_").lower()
    assert getattr(load_config({env_name: raw}), field) is None


def test_blank_master_key_means_none() -> None:
    settings = load_config({"NEXUM_ENCRYPTION_MASTER_KEY": ""})
    assert settings.encryption_master_key is None
    assert settings.master_key_bytes() is None


@pytest.mark.parametrize("raw", ["", "   "])
def test_blank_previous_keys_mean_none(raw: str) -> None:
    settings = load_config({"NEXUM_ENCRYPTION_PREVIOUS_KEYS": raw})
    assert settings.encryption_previous_keys is None
    assert settings.previous_key_bytes() == []


def test_money_limits_stay_decimal() -> None:
    settings = load_config(
        {
            "NEXUM_MIN_ACCOUNT_BALANCE": "0.10",
            "NEXUM_MAX_DAILY_TRANSACTION_LIMIT": "0.30",
            "NEXUM_MAX_TRANSACTION_AMOUNT": "12345678901234.5678",
        }
    )
    assert settings.min_account_balance + settings.min_account_balance * 2 == Decimal("0.30")
    assert settings.max_daily_transaction_limit == Decimal("0.30")
    assert str(settings.max_transaction_amount) == "12345678901234.5678"


def test_settings_are_frozen() -> None:
    settings = load_config({})
    with pytest.raises(ValidationError):
        settings.api_port = 1  # type: ignore[misc]


# --- comma-separated lists ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a", ["a"]),
        (" a , b ,c ", ["a", "b", "c"]),
        ("a,,b,", ["a", "b"]),
        ("", []),
        ("  ", []),
        ('["a", " b "]', ["a", "b"]),
        ("[]", []),
    ],
)
@pytest.mark.parametrize(
    "env_name",
    ["NEXUM_CORS_ORIGINS", "NEXUM_DATABASE_REPLICA_URLS", "NEXUM_KAFKA_BOOTSTRAP_SERVERS"],
)
def test_list_values(env_name: str, raw: str, expected: list[str]) -> None:
    field = env_name.removeprefix("NEXUM_").lower()
    assert getattr(load_config({env_name: raw}), field) == expected


@pytest.mark.parametrize("raw", ["[1, 2]", '{"a": 1}', "[not json", '["a", null]'])
def test_json_that_is_not_a_list_of_strings_is_refused(raw: str) -> None:
    assert "NEXUM_KAFKA_BOOTSTRAP_SERVERS" in str(_error({"NEXUM_KAFKA_BOOTSTRAP_SERVERS": raw}))


# --- trusted proxies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10.0.0.0/8", ["10.0.0.0/8"]),
        ("192.168.1.10", ["192.168.1.10"]),
        ("::1", ["::1"]),
        ("2001:db8::/32", ["2001:db8::/32"]),
        (
            " 10.0.0.0/8 , 172.16.0.1,, fd00::/8, 2001:db8::7 ",
            ["10.0.0.0/8", "172.16.0.1", "fd00::/8", "2001:db8::7"],
        ),
        ('["10.1.2.3", " ::ffff:10.1.2.3 "]', ["10.1.2.3", "::ffff:10.1.2.3"]),
        ("", []),
        ("  ", []),
        ("[]", []),
    ],
)
def test_trusted_proxies_are_addresses_or_networks(raw: str, expected: list[str]) -> None:
    assert load_config({"NEXUM_TRUSTED_PROXIES": raw}).trusted_proxies == expected


def test_a_proxy_that_is_not_an_address_is_refused_naming_it() -> None:
    error = _error({"NEXUM_TRUSTED_PROXIES": "10.0.0.1, proxy.internal"})
    assert error.problems == (
        "NEXUM_TRUSTED_PROXIES: 'proxy.internal' is not an IP address or network "
        "(got '10.0.0.1, proxy.internal')",
    )


# --- bad values -----------------------------------------------------------------------------

BAD_VALUES: list[tuple[str, str]] = [
    ("NEXUM_API_PORT", "eighty"),
    ("NEXUM_API_PORT", "80.5"),
    ("NEXUM_API_PORT", "0"),
    ("NEXUM_API_PORT", "70000"),
    ("NEXUM_API_WORKERS", "65"),
    ("NEXUM_API_MAX_REQUEST_SIZE", "1023"),
    ("NEXUM_DATABASE_POOL_SIZE", "0"),
    ("NEXUM_DATABASE_POOL_OVERFLOW", "-1"),
    ("NEXUM_DATABASE_URL", ""),
    ("NEXUM_KAFKA_BATCH_SIZE", ""),
    ("NEXUM_PASSWORD_MIN_LENGTH", "7"),
    ("NEXUM_INTEREST_CALCULATION_PRECISION", "19"),
    ("NEXUM_CACHE_TTL_SECONDS", "-1"),
    ("NEXUM_RATE_LIMIT_AUTH", "1000001"),
    ("NEXUM_SESSION_TIMEOUT_MINUTES", "10081"),
    ("NEXUM_DATABASE_ECHO", "maybe"),
    ("NEXUM_ENABLE_AUDIT_LOGGING", ""),
    ("NEXUM_ENVIRONMENT", "prod"),
    ("NEXUM_LOG_LEVEL", "verbose"),
    ("NEXUM_LOG_FORMAT", "xml"),
    ("NEXUM_ENCRYPTION_PROVIDER", "rot13"),
    ("NEXUM_JWT_ALGORITHM", "none"),
    ("NEXUM_JWT_ALGORITHM", "RS256"),
    ("NEXUM_JWT_ALGORITHM", "ES256"),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", "1e5"),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", "1E+5"),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", "NaN"),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", "sNaN"),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", "Infinity"),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", "-1"),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", "+5"),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", "12.5.1"),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", "1,000.00"),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", ".5"),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", ""),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", "0"),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", "0.00"),
    ("NEXUM_MAX_TRANSACTION_AMOUNT", "1234567890123456789"),
    ("NEXUM_MAX_DAILY_TRANSACTION_LIMIT", "0"),
    ("NEXUM_MAX_DAILY_TRANSACTION_LIMIT", "\u0661\u0660"),  # Arabic-Indic digits, not ASCII
    ("NEXUM_MIN_ACCOUNT_BALANCE", "-0.01"),
    ("NEXUM_MIN_ACCOUNT_BALANCE", "1e2"),
    ("NEXUM_TRUSTED_PROXIES", "proxy.internal"),
    ("NEXUM_TRUSTED_PROXIES", "10.0.0.0/33"),
    ("NEXUM_TRUSTED_PROXIES", "256.1.1.1"),
    ("NEXUM_TRUSTED_PROXIES", "2001:db8::g"),
    ("NEXUM_TRUSTED_PROXIES", "*"),
    ("NEXUM_METRICS_ALLOWED_NETWORKS", "prometheus.internal"),
    ("NEXUM_TRUSTED_PROXIES", "[1]"),
    ("NEXUM_ENCRYPTION_PREVIOUS_KEYS", "short"),
]


@pytest.mark.parametrize(("env_name", "raw"), BAD_VALUES)
def test_bad_value_is_refused_naming_the_variable(env_name: str, raw: str) -> None:
    error = _error({env_name: raw})
    text = str(error)
    assert isinstance(error, ValueError)
    assert text.startswith(f"invalid configuration: {env_name}: ")
    assert len(error.problems) == 1
    assert "validation error" not in text
    assert "pydantic" not in text
    assert "\n" not in text


def test_error_message_format() -> None:
    assert str(_error({"NEXUM_API_PORT": "70000"})) == (
        "invalid configuration: NEXUM_API_PORT: "
        "Input should be less than or equal to 65535 (got '70000')"
    )


def test_one_line_per_problem() -> None:
    error = _error(
        {"NEXUM_API_PORT": "70000", "NEXUM_LOG_LEVEL": "loud", "NEXUM_DATABASE_ECHO": "perhaps"}
    )
    lines = str(error).splitlines()
    assert len(lines) == 3
    assert all(line.startswith("invalid configuration: NEXUM_") for line in lines)
    assert {"NEXUM_API_PORT", "NEXUM_LOG_LEVEL", "NEXUM_DATABASE_ECHO"} == {
        line.split(": ")[1] for line in lines
    }


def test_jwt_algorithm_none_is_refused() -> None:
    text = str(_error({"NEXUM_JWT_ALGORITHM": "none"}))
    assert "NEXUM_JWT_ALGORITHM" in text
    assert "HS256" in text


def test_long_values_are_shortened_in_messages() -> None:
    text = str(_error({"NEXUM_API_PORT": "9" * 500}))
    assert "9" * 500 not in text
    assert len(text) < 250


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


# --- secrets never leak ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "environ",
    [
        {"NEXUM_ENVIRONMENT": "production", "NEXUM_JWT_SECRET": "hunter2-is-a-short-secret"},
        {"NEXUM_ENVIRONMENT": "staging", "NEXUM_JWT_SECRET": "hunter2-is-a-short-secret"},
        {"NEXUM_ENCRYPTION_MASTER_KEY": "hunter2-is-not-base64!!"},
        {"NEXUM_ENCRYPTION_MASTER_KEY": base64.b64encode(b"hunter2-16-bytes").decode()},
        {"NEXUM_ENCRYPTION_PREVIOUS_KEYS": "hunter2-is-not-base64!!"},
        {"NEXUM_ENCRYPTION_PREVIOUS_KEYS": base64.b64encode(b"hunter2-16-bytes").decode()},
        {"NEXUM_ENCRYPTION_PREVIOUS_KEYS": f"{OTHER_KEY},hunter2-is-not-base64"},
        {"NEXUM_DATABASE_REPLICA_URLS": '["postgresql://u:hunter2@db/x", 5]'},
        {"NEXUM_JWT_SECRET": ""},
    ],
)
def test_secret_value_never_appears_in_errors(environ: dict[str, str]) -> None:
    error = _error(environ)
    text = str(error)
    assert "hunter2" not in text
    for value in environ.values():
        if value and value not in {"production", "staging"}:
            assert value not in text
    assert "(value hidden)" in text


def test_default_secret_is_not_echoed() -> None:
    text = str(_error({"NEXUM_ENVIRONMENT": "production"}))
    assert DEFAULT_JWT_SECRET not in text
    assert "(value hidden)" in text


def test_secret_is_masked_in_repr() -> None:
    settings = load_config(
        {
            "NEXUM_JWT_SECRET": STRONG_SECRET,
            "NEXUM_ENCRYPTION_MASTER_KEY": URLSAFE_KEY,
            "NEXUM_ENCRYPTION_PREVIOUS_KEYS": OTHER_KEY,
        }
    )
    assert STRONG_SECRET not in repr(settings)
    assert URLSAFE_KEY not in repr(settings)
    assert OTHER_KEY not in repr(settings)


# --- strict environments --------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_default_secret_refused_when_strict(environment: str) -> None:
    text = str(_error({"NEXUM_ENVIRONMENT": environment}))
    assert "NEXUM_JWT_SECRET" in text
    assert environment in text


@pytest.mark.parametrize("environment", ["development", "test"])
def test_default_secret_accepted_when_not_strict(environment: str) -> None:
    settings = load_config({"NEXUM_ENVIRONMENT": environment})
    assert settings.jwt_secret.get_secret_value() == DEFAULT_JWT_SECRET
    assert not settings.is_strict


def test_short_secret_refused_in_production() -> None:
    error = _error({"NEXUM_ENVIRONMENT": "production", "NEXUM_JWT_SECRET": "x" * 31})
    assert error.problems == (
        "NEXUM_JWT_SECRET: must be at least 32 characters when NEXUM_ENVIRONMENT is production "
        "(value hidden)",
    )


def test_32_character_secret_accepted_in_production() -> None:
    settings = load_config({"NEXUM_ENVIRONMENT": "production", "NEXUM_JWT_SECRET": "x" * 32})
    assert settings.is_strict


def test_short_secret_accepted_in_development() -> None:
    assert load_config({"NEXUM_JWT_SECRET": "dev"}).jwt_secret.get_secret_value() == "dev"


def test_empty_secret_refused_everywhere() -> None:
    assert "NEXUM_JWT_SECRET" in str(_error({"NEXUM_JWT_SECRET": ""}))


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_audit_logging_mandatory_when_strict(environment: str) -> None:
    error = _error(
        {
            "NEXUM_ENVIRONMENT": environment,
            "NEXUM_JWT_SECRET": STRONG_SECRET,
            "NEXUM_ENABLE_AUDIT_LOGGING": "false",
        }
    )
    assert error.problems == (
        f"NEXUM_ENABLE_AUDIT_LOGGING: must be true when NEXUM_ENVIRONMENT is {environment}",
    )


def test_audit_logging_optional_in_development() -> None:
    assert not load_config({"NEXUM_ENABLE_AUDIT_LOGGING": "false"}).enable_audit_logging


def test_strict_problems_are_all_reported() -> None:
    error = _error({"NEXUM_ENVIRONMENT": "production", "NEXUM_ENABLE_AUDIT_LOGGING": "false"})
    assert len(error.problems) == 2
    assert len(str(error).splitlines()) == 2


@pytest.mark.parametrize(
    ("environment", "strict"),
    [
        (Environment.DEVELOPMENT, False),
        (Environment.TEST, False),
        (Environment.STAGING, True),
        (Environment.PRODUCTION, True),
    ],
)
def test_is_strict(environment: Environment, strict: bool) -> None:
    settings = load_config(
        {"NEXUM_ENVIRONMENT": environment.value, "NEXUM_JWT_SECRET": STRONG_SECRET}
    )
    assert settings.environment is environment
    assert settings.is_strict is strict


def test_sqlite_and_many_workers_allowed_in_production() -> None:
    settings = load_config(
        {
            "NEXUM_ENVIRONMENT": "production",
            "NEXUM_JWT_SECRET": STRONG_SECRET,
            "NEXUM_DATABASE_URL": "sqlite:///prod.db",
            "NEXUM_API_WORKERS": "8",
        }
    )
    assert settings.database_url == "sqlite:///prod.db"
    assert settings.api_workers == 8


# --- encryption -----------------------------------------------------------------------------


@pytest.mark.parametrize("environment", list(Environment))
def test_encryption_without_key_refused_everywhere(environment: Environment) -> None:
    error = _error(
        {
            "NEXUM_ENVIRONMENT": environment.value,
            "NEXUM_JWT_SECRET": STRONG_SECRET,
            "NEXUM_ENCRYPTION_ENABLED": "true",
        }
    )
    assert error.problems == (
        "NEXUM_ENCRYPTION_MASTER_KEY: required when NEXUM_ENCRYPTION_ENABLED is true",
    )


# --- events ---------------------------------------------------------------------------------


def test_kafka_events_need_brokers_and_the_audit_trail() -> None:
    error = _error({"NEXUM_ENABLE_KAFKA_EVENTS": "true", "NEXUM_ENABLE_AUDIT_LOGGING": "false"})
    assert error.problems == (
        "NEXUM_KAFKA_BOOTSTRAP_SERVERS: required when NEXUM_ENABLE_KAFKA_EVENTS is true",
        "NEXUM_ENABLE_AUDIT_LOGGING: must be true when NEXUM_ENABLE_KAFKA_EVENTS is true",
    )
    settings = load_config(
        {"NEXUM_ENABLE_KAFKA_EVENTS": "true", "NEXUM_KAFKA_BOOTSTRAP_SERVERS": "k1:9092"}
    )
    assert settings.enable_kafka_events


@pytest.mark.parametrize("key", [STANDARD_KEY, URLSAFE_KEY, URLSAFE_KEY.rstrip("=")])
def test_master_key_decodes_to_32_bytes(key: str) -> None:
    settings = load_config({"NEXUM_ENCRYPTION_ENABLED": "true", "NEXUM_ENCRYPTION_MASTER_KEY": key})
    assert settings.encryption_enabled
    assert settings.master_key_bytes() == KEY_BYTES


@pytest.mark.parametrize(
    "key",
    [
        base64.b64encode(b"k" * 16).decode(),
        base64.b64encode(b"k" * 31).decode(),
        base64.b64encode(b"k" * 33).decode(),
        base64.b64encode(b"k" * 64).decode(),
        "not base64 at all!",
        STANDARD_KEY[:-2] + "é=",
    ],
)
def test_bad_master_key_refused(key: str) -> None:
    error = _error({"NEXUM_ENCRYPTION_MASTER_KEY": key})
    assert len(error.problems) == 1
    problem = error.problems[0]
    assert problem.startswith("NEXUM_ENCRYPTION_MASTER_KEY: ")
    assert "32 bytes" in problem
    assert problem.endswith("(value hidden)")
    assert key not in str(error)


def test_master_key_without_encryption_is_still_checked() -> None:
    assert "NEXUM_ENCRYPTION_MASTER_KEY" in str(
        _error({"NEXUM_ENCRYPTION_ENABLED": "false", "NEXUM_ENCRYPTION_MASTER_KEY": "short"})
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (STANDARD_KEY, [KEY_BYTES]),
        (URLSAFE_KEY.rstrip("="), [KEY_BYTES]),
        (f"{OTHER_KEY},{URLSAFE_KEY}", [OTHER_KEY_BYTES, KEY_BYTES]),
        (f" {URLSAFE_KEY} ,  {OTHER_KEY} ", [KEY_BYTES, OTHER_KEY_BYTES]),
        (f"{OTHER_KEY},{STANDARD_KEY},{OTHER_KEY}", [OTHER_KEY_BYTES, KEY_BYTES, OTHER_KEY_BYTES]),
    ],
)
def test_previous_keys_decode_to_32_bytes_each_in_order(raw: str, expected: list[bytes]) -> None:
    settings = load_config({"NEXUM_ENCRYPTION_PREVIOUS_KEYS": raw})
    assert settings.encryption_previous_keys == SecretStr(raw)
    assert settings.previous_key_bytes() == expected


def test_previous_keys_need_no_current_key_or_encryption() -> None:
    settings = load_config({"NEXUM_ENCRYPTION_PREVIOUS_KEYS": OTHER_KEY})
    assert not settings.encryption_enabled
    assert settings.master_key_bytes() is None
    assert settings.previous_key_bytes() == [OTHER_KEY_BYTES]


@pytest.mark.parametrize(
    "raw",
    [
        base64.b64encode(b"k" * 16).decode(),
        base64.b64encode(b"k" * 31).decode(),
        base64.b64encode(b"k" * 33).decode(),
        base64.b64encode(b"k" * 64).decode(),
        "not base64 at all!",
        STANDARD_KEY[:-2] + "é=",
        f"{OTHER_KEY},{base64.b64encode(b'k' * 16).decode()}",
        f"{base64.b64encode(b'k' * 31).decode()},{OTHER_KEY}",
    ],
)
def test_bad_previous_key_refused_without_echoing_any_key(raw: str) -> None:
    error = _error({"NEXUM_ENCRYPTION_PREVIOUS_KEYS": raw})
    assert len(error.problems) == 1
    problem = error.problems[0]
    assert problem.startswith("NEXUM_ENCRYPTION_PREVIOUS_KEYS: ")
    assert "32 bytes" in problem
    assert problem.endswith("(value hidden)")
    text = str(error)
    assert raw not in text
    for key in raw.split(","):
        assert key not in text


# --- get_config and the process environment -------------------------------------------------


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """os.environ without any NEXUM_* variable, and an empty get_config cache around the test."""
    for name in list(os.environ):
        if name.upper().startswith("NEXUM_"):
            monkeypatch.delenv(name)
    get_config.cache_clear()
    yield monkeypatch
    get_config.cache_clear()


def test_get_config_reads_the_environment_once(clean_environ: pytest.MonkeyPatch) -> None:
    clean_environ.setenv("NEXUM_API_PORT", "9100")
    clean_environ.setenv("NEXUM_CORS_ORIGINS", "https://a.example,https://b.example")
    first = get_config()
    assert first.api_port == 9100
    assert first.cors_origins == ["https://a.example", "https://b.example"]

    clean_environ.setenv("NEXUM_API_PORT", "9200")
    assert get_config() is first
    get_config.cache_clear()
    assert get_config().api_port == 9200


def test_get_config_raises_config_error(clean_environ: pytest.MonkeyPatch) -> None:
    clean_environ.setenv("NEXUM_API_WORKERS", "0")
    with pytest.raises(ConfigError, match="NEXUM_API_WORKERS"):
        get_config()


def test_load_config_without_mapping_reads_os_environ(clean_environ: pytest.MonkeyPatch) -> None:
    clean_environ.setenv("NEXUM_LOG_FORMAT", "text")
    assert load_config().log_format is LogFormat.TEXT


def test_explicit_mapping_ignores_os_environ(clean_environ: pytest.MonkeyPatch) -> None:
    clean_environ.setenv("NEXUM_API_PORT", "not-a-number")
    assert load_config({}).api_port == 8090
