"""Settings for the welfare service: everything comes from the environment.

A bare checkout runs in development mode with safe defaults and the embedded
PostgreSQL; production (DJANGO_ENV=production) differs only in environment
variables and refuses to start without a secret key, database and hosts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from backend.env import (
    ConfigurationError,
    database_from_url,
    env_bool,
    env_choice,
    env_choices_list,
    env_date_list,
    env_float,
    env_int,
    env_int_list,
    env_list,
    env_optional,
    env_str,
    env_time_range,
    env_weekdays,
    parse_group_roles,
    replica_database_from_url,
)

_ROLES = ("officer", "supervisor", "oh", "hr", "admin")

BASE_DIR = Path(__file__).resolve().parent.parent

ENVIRONMENT = env_choice("DJANGO_ENV", "development", ("development", "production"))
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ConfigurationError("DJANGO_DEBUG must be false when DJANGO_ENV=production.")

_secret = env_optional("DJANGO_SECRET_KEY")
if PRODUCTION and (not _secret or len(_secret) < 50):
    raise ConfigurationError(
        "DJANGO_SECRET_KEY must be set to a random string of at least 50 characters "
        "when DJANGO_ENV=production."
    )
SECRET_KEY = _secret or "development-only-key-not-for-production-0123456789abcdefghij"

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ConfigurationError("ALLOWED_HOSTS must be set when DJANGO_ENV=production.")

_database_url = env_optional("DATABASE_URL")
if _database_url is None:
    if PRODUCTION:
        raise ConfigurationError("DATABASE_URL must be set when DJANGO_ENV=production.")
    from backend.embedded_db import ensure_running

    _database_url = ensure_running()[0]
DATABASES = {"default": database_from_url(_database_url)}
# Least privilege (backend/db_roles.py): the owner runs migrations and `db_roles`, the
# retention job alone connects as the role that may delete; without these URLs everything
# uses DATABASE_URL (a development database).
DATABASE_OWNER = database_from_url(env_optional("DATABASE_OWNER_URL") or _database_url)
DATABASES["retention"] = database_from_url(env_optional("DATABASE_RETENTION_URL") or _database_url)
DATABASES["retention"]["CONN_MAX_AGE"] = 0
DATABASES["retention"]["TEST"] = {"MIRROR": "default"}  # one database, another role
# The application's and retention's connections are refused if they reach PostgreSQL as a
# superuser (who could switch the triggers off), in production always.
DATABASE_REFUSE_SUPERUSER = env_bool("DATABASE_REFUSE_SUPERUSER", PRODUCTION)
if PRODUCTION and not DATABASE_REFUSE_SUPERUSER:
    raise ConfigurationError("DATABASE_REFUSE_SUPERUSER must be true when DJANGO_ENV=production.")
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_MAX_AGE"] = DATABASE_CONN_MAX_AGE
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Lets welfare.core.db.prepared_cursor() prepare the hottest statements, planned once
# (a generic plan: for the daily totals' upsert a custom plan each time cost more than
# running it). Django's own cursors bind on the client and are never prepared, so the
# plan cache mode reaches only those statements (and PL/pgSQL triggers' simple queries).
_options: dict[str, Any] = DATABASES["default"].setdefault("OPTIONS", {})  # type: ignore[assignment]
_options["prepare_threshold"] = 5
_options["options"] = f"{_options.get('options', '')} -c plan_cache_mode=force_generic_plan".strip()
# No JIT compilation. PostgreSQL compiles a statement once its estimated cost passes
# jit_above_cost, and estimates grow with the population: the retention job's last-entry
# read (15 ms to run at 8,000 officers) cost 1.9 s more to compile there, a step that makes
# a job's cost jump with size. The jobs and requests run short statements.
for _alias in ("default", "retention"):
    _jit: dict[str, Any] = DATABASES[_alias].setdefault("OPTIONS", {})  # type: ignore[assignment]
    _jit["options"] = f"{_jit.get('options', '')} -c jit=off".strip()

# --- Read replica for the statistics (welfare.core.db.reporting_alias) ---------------------
# A PostgreSQL streaming standby of the primary, reached as the application's role. The HR
# statistics and the stats packs read it while it streams and is at most
# DATABASE_REPLICA_MAX_LAG_SECONDS behind (checked at most every DATABASE_REPLICA_CHECK_SECONDS);
# otherwise, and without it (no `replica` alias at all), they read the primary. Nothing else
# ever reads it: every other read must see the request's own writes. Its sessions are
# read-only, give up connecting after 3 seconds, and are refused as a superuser like the
# application's (backend/apps.py).
_replica_url = env_optional("DATABASE_REPLICA_URL")
if _replica_url is not None:
    DATABASES["replica"] = replica_database_from_url(
        _replica_url, conn_max_age=DATABASE_CONN_MAX_AGE
    )
DATABASE_REPLICA_MAX_LAG_SECONDS = env_int("DATABASE_REPLICA_MAX_LAG_SECONDS", 30, minimum=0)
DATABASE_REPLICA_CHECK_SECONDS = env_int("DATABASE_REPLICA_CHECK_SECONDS", 5, minimum=0)

INSTALLED_APPS = [
    "backend.apps.WelfareAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp_webauthn",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "backend",
    "welfare.core",
    "welfare.audit",
    "welfare.accounts",
    "welfare.people",
    "welfare.exposure",
    "welfare.checkins",
    "welfare.alerts",
    "welfare.casework",
    "welfare.stats",
    "welfare.records",
    "welfare.directory",
    "welfare.web",
    "schedules",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "welfare.web.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "welfare.core.middleware.RequestContextMiddleware",
    "welfare.web.middleware.ContentSecurityPolicyMiddleware",
    "welfare.web.middleware.MethodNotAllowedPageMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "backend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "welfare.web.context.header",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["welfare.accounts.backends.RoleBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 12, minimum=8)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # A common password with digits or symbols around it, or one character (or a few)
    # repeated: as guessable as the bare word. No composition rules (ASVS 5.0 V6.2).
    {"NAME": "welfare.accounts.passwords.PredictablePasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
# The pages in English, and the officer's pages in Welsh too (welfare/locale); each person
# chooses (User.language), applied by welfare.web.middleware.UserLanguageMiddleware.
LANGUAGES = [("en-gb", "English"), ("cy", "Cymraeg")]
LOCALE_PATHS = [BASE_DIR / "welfare" / "locale"]
# The force's local time zone: days, limits and due dates are counted in it.
TIME_ZONE = env_str("TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / ".data" / "static")))
# WhiteNoise serves static files from gunicorn; in development straight from the apps.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Sessions are for the web app and the Django admin; API clients carry bearer tokens.
LOGIN_URL = "web:login"
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 15 * 60, minimum=60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# --- Authentication and two-factor -------------------------------------------------
TOKEN_IDLE_SECONDS = env_int("TOKEN_IDLE_SECONDS", 15 * 60, minimum=60)
TOKEN_ABSOLUTE_SECONDS = env_int("TOKEN_ABSOLUTE_SECONDS", 12 * 60 * 60, minimum=300)
# Last-use is written at most this often, so a busy client does not write on every call.
TOKEN_TOUCH_SECONDS = env_int("TOKEN_TOUCH_SECONDS", 30, minimum=0)
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60, minimum=1)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Welfare")
OTP_TOTP_THROTTLE_FACTOR = env_int("OTP_TOTP_THROTTLE_FACTOR", 1, minimum=0)
# Codes are checked by SealedTOTPDevice (its own step and one either side, each once); the
# library's drift, which followed a code a step ahead and then took codes two ahead, is off.
OTP_TOTP_SYNC = False
# Log-in spraying: failures from one address (any user names, known or not) in a window
# that restarts after a quiet spell; at the limit the address is refused for the lock-out.
LOGIN_ADDRESS_MAX_FAILURES = env_int("LOGIN_ADDRESS_MAX_FAILURES", 50, minimum=1)
LOGIN_ADDRESS_WINDOW_SECONDS = env_int("LOGIN_ADDRESS_WINDOW_SECONDS", 15 * 60, minimum=1)
# Unknown user names share this many lock-out counters, so made-up names cannot add rows.
LOGIN_UNKNOWN_NAME_BUCKETS = env_int("LOGIN_UNKNOWN_NAME_BUCKETS", 1024, minimum=1)
# Wrong current passwords on a password change, per user, before it is refused for a while.
PASSWORD_CHANGE_MAX_FAILURES = env_int("PASSWORD_CHANGE_MAX_FAILURES", 5, minimum=1)
# Request bodies: larger ones answer 413; JSON nested deeper answers 400 (every parser).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("REQUEST_MAX_BYTES", 2 * 1024 * 1024, minimum=1024)
REQUEST_MAX_DEPTH = env_int("REQUEST_MAX_DEPTH", 32, minimum=2)
# The exposure import (CSV or JSON) may be larger; one CSV field may not.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 8 * 1024 * 1024, minimum=1024)
IMPORT_MAX_FIELD_CHARS = env_int("IMPORT_MAX_FIELD_CHARS", 4096, minimum=64)
# Number of reverse proxies in front of the service whose X-Forwarded-For is trusted.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

# --- Single sign-on (OpenID Connect: Entra ID, ADFS) and password log-in per role -------------
# Off unless OIDC_ISSUER and OIDC_RP_CLIENT_ID are set. The endpoints and the signing keys
# come from the issuer's discovery document (fetched at first use) unless given here.
# Sign-in only matches an existing active account by User.directory_id; it never creates one.
OIDC_ISSUER = env_str("OIDC_ISSUER", "").rstrip("/")
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT", "")
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid profile")
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_NONCE = True
OIDC_USE_PKCE = env_bool("OIDC_USE_PKCE", True)
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_SECONDS", 10, minimum=1)
OIDC_AUTHENTICATION_CALLBACK_URL = "web:sso-callback"
OIDC_REDIRECT_FIELD_NAME = "next"
LOGIN_REDIRECT_URL_FAILURE = "/login"
# The id_token claim compared with User.directory_id (Entra ID: "oid"; ADFS: "sub" or a
# configured one). Never the e-mail.
OIDC_SUBJECT_CLAIM = env_str("OIDC_SUBJECT_CLAIM", "sub")
# Optional: a claim listing the person's groups and a JSON object mapping a group id to a
# role. Off unless both are set. It never grants nor removes "oh" (clinical access keeps
# the two-person grant) and never makes a superuser.
OIDC_ROLE_CLAIM = env_str("OIDC_ROLE_CLAIM", "")
OIDC_GROUP_ROLES = parse_group_roles(env_str("OIDC_GROUP_ROLES", "{}"), "OIDC_GROUP_ROLES")
# Accept the directory's multi-factor sign-in (id_token "amr" containing "mfa") instead of
# the service's own code. Off: roles that need a second factor still enter the code.
OIDC_TRUST_IDP_MFA = env_bool("OIDC_TRUST_IDP_MFA", False)
# Audiences the API's id_token exchange (POST /api/v1/auth/sso) accepts: by default the
# web app's client id; add a native or mobile client's own registration here.
OIDC_API_CLIENT_IDS = env_list(
    "OIDC_API_CLIENT_IDS", [OIDC_RP_CLIENT_ID] if OIDC_RP_CLIENT_ID else []
)
# What the log-in page's button says: "Sign in with <this>".
OIDC_DISPLAY_NAME = env_str("OIDC_DISPLAY_NAME", "your force directory")
# Clock skew allowed on the id_token's exp, iat and nbf.
OIDC_LEEWAY_SECONDS = env_int("OIDC_LEEWAY_SECONDS", 60, minimum=0, maximum=300)
# How long the service's own code may take to be entered after the directory's sign-in.
OIDC_CODE_STEP_SECONDS = env_int("OIDC_CODE_STEP_SECONDS", 300, minimum=30)
# Roles that may still sign in with a password (web and API). Default: every role; e.g.
# "admin" alone keeps passwords for break-glass access once single sign-on works.
PASSWORD_LOGIN_ROLES = frozenset(env_choices_list("PASSWORD_LOGIN_ROLES", list(_ROLES), _ROLES))
AUTHENTICATION_BACKENDS = [*AUTHENTICATION_BACKENDS, "welfare.accounts.sso.DirectoryBackend"]

# --- Exposure -------------------------------------------------------------------------------
# The contract's ceiling is 24 hours; a force may set a shorter maximum session.
EXPOSURE_MAX_SESSION_HOURS = env_int("EXPOSURE_MAX_SESSION_HOURS", 24, minimum=1, maximum=24)
# A start this far ahead of the server's clock is tolerated as clock skew.
EXPOSURE_FUTURE_SKEW_SECONDS = env_int("EXPOSURE_FUTURE_SKEW_SECONDS", 300, minimum=0)
# Officers may amend or void their own sessions for this long; later, a supervisor.
EXPOSURE_OFFICER_CHANGE_DAYS = env_int("EXPOSURE_OFFICER_CHANGE_DAYS", 14, minimum=0)

# --- Statistics -----------------------------------------------------------------------------
# People per published figure, per audience (never below 5, the rules' minimum; DOMAIN.md):
# HR inside the force, and packs that leave HR (board reports). Not a query parameter.
STATS_K_HR = env_int("STATS_K_HR", 5, minimum=5)
STATS_K_BOARD = env_int("STATS_K_BOARD", 10, minimum=STATS_K_HR)

# --- Check-ins, alerts and the scheduler ----------------------------------------------------
# Links in notifications point here (the web app's address as people reach it).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
CHECKIN_REMINDER_DAYS = tuple(
    sorted(set(env_int_list("CHECKIN_REMINDER_DAYS", [14, 3], minimum=1)))
)
CHECKIN_ESCALATE_AFTER_DAYS = env_int("CHECKIN_ESCALATE_AFTER_DAYS", 14, minimum=1)
CHECKIN_TRIGGERED_WITHIN_DAYS = env_int("CHECKIN_TRIGGERED_WITHIN_DAYS", 7, minimum=0)
# A triggered check-in follows dose-limit breaches that repeat: this many, on different days,
# within this many days (or one 28-day breach). DOMAIN.md.
CHECKIN_TRIGGER_REPEAT = env_int("CHECKIN_TRIGGER_REPEAT", 2, minimum=1)
CHECKIN_TRIGGER_WITHIN_DAYS = env_int("CHECKIN_TRIGGER_WITHIN_DAYS", 28, minimum=1)
# A limit gone past again less than this many days after its unresolved alert's latest
# occurrence is another occurrence of that alert, not a new one.
ALERT_GROUP_DAYS = env_int("ALERT_GROUP_DAYS", 28, minimum=1)
CHECKIN_MISSED_AFTER_HOURS = env_int("CHECKIN_MISSED_AFTER_HOURS", 24, minimum=1)
CHECKIN_SELF_REFERRAL_DAYS = env_int("CHECKIN_SELF_REFERRAL_DAYS", 7, minimum=0)
# Postings in a row are one spell in the work (time in the work, the periodic clock and
# rotation tenure go on; no exit or new baseline) when their units are of the same kind
# ("specialist": or both of any specialist kind) and the next starts at most this many days
# after the day the previous one ended (DOMAIN.md: a weekend, a bank holiday, a week's leave).
POSTING_CONTINUITY = env_choice("POSTING_CONTINUITY", "same_kind", ("same_kind", "specialist"))
POSTING_CONTINUITY_GAP_DAYS = env_int("POSTING_CONTINUITY_GAP_DAYS", 7, minimum=0, maximum=90)
# A distressing piece of work schedules follow-ups this many days after it (TRiM: about 72
# hours, then about a month); it may be recorded up to INCIDENT_MAX_AGE_DAYS after the day.
INCIDENT_FOLLOW_UP_DAYS = tuple(
    sorted(set(env_int_list("INCIDENT_FOLLOW_UP_DAYS", [3, 28], minimum=1)))
)
if not INCIDENT_FOLLOW_UP_DAYS:
    raise ConfigurationError("INCIDENT_FOLLOW_UP_DAYS needs at least one number of days.")
INCIDENT_MAX_AGE_DAYS = env_int("INCIDENT_MAX_AGE_DAYS", 90, minimum=1)
EXPOSURE_ALERT_LOOKBACK_DAYS = env_int("EXPOSURE_ALERT_LOOKBACK_DAYS", 28, minimum=0)
# Incremental sweeps re-read this much before their last mark (late commits).
SWEEP_MARGIN_SECONDS = env_int("SWEEP_MARGIN_SECONDS", 300, minimum=0)

# Backups: where pg_dump and pg_restore of the server's version live, when not on PATH.
PG_BIN_DIR = env_optional("PG_BIN_DIR")

# Retention in years, per record type (DOMAIN.md): the health surveillance record is kept
# at least 40 years from its last entry (HSE); other records 6 years (Limitation Act).
RETENTION_YEARS = {
    "health_record": env_int("RETENTION_HEALTH_RECORD_YEARS", 40, minimum=40),
    "alerts": env_int("RETENTION_ALERTS_YEARS", 6, minimum=1),
    "notifications": env_int("RETENTION_NOTIFICATIONS_YEARS", 6, minimum=1),
    "webhook_deliveries": env_int("RETENTION_WEBHOOK_DELIVERIES_YEARS", 6, minimum=1),
    "sign_in": env_int("RETENTION_SIGN_IN_YEARS", 6, minimum=1),
    "audit": env_int("RETENTION_AUDIT_YEARS", 6, minimum=1),
}

# --- Audit trail: keyed hashes and anchors outside the database ----------------------------
# HMAC keys for the audit chain's hashes, newest first (the first hashes new events, all
# verify). Kept outside the database and its backups: whoever owns the database but not the
# key cannot rewrite the chain unnoticed.
_audit_keys = env_list("AUDIT_HMAC_KEYS", [])
if PRODUCTION and (not _audit_keys or any(len(key) < 32 for key in _audit_keys)):
    raise ConfigurationError(
        "AUDIT_HMAC_KEYS must be set when DJANGO_ENV=production, each key at least 32 "
        "characters: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
    )
if not _audit_keys:  # development only: derived from the development secret
    import hashlib
    import hmac

    _audit_keys = [hmac.new(SECRET_KEY.encode(), b"audit-hmac", hashlib.sha256).hexdigest()]
AUDIT_HMAC_KEYS = _audit_keys
# The `audit_anchor` job writes the chain's head (newest id and hash, count) to the log
# (logger welfare.audit.anchor) and appends it as a JSON line to this file (created 0600),
# every AUDIT_ANCHOR_MINUTES; keep the file where the database's owners cannot write.
AUDIT_ANCHOR_FILE = env_optional("AUDIT_ANCHOR_FILE")
AUDIT_ANCHOR_MINUTES = env_int("AUDIT_ANCHOR_MINUTES", 60, minimum=1, maximum=24 * 60)


# --- Passkeys (WebAuthn) as a second factor --------------------------------------------------
# The relying party is the site's host as people's browsers reach it (a loopback address,
# which WebAuthn refuses, becomes `localhost`); a passkey answers only there. Passkeys are
# a second factor after the password, never a way in on their own.
_SITE = urlsplit(SITE_URL)
_SITE_HOST = "localhost" if _SITE.hostname in {"127.0.0.1", "::1", None} else _SITE.hostname
_SITE_PORT = f":{_SITE.port}" if _SITE.port else ""
OTP_WEBAUTHN_RP_ID = env_str("PASSKEY_RP_ID", _SITE_HOST)
OTP_WEBAUTHN_RP_NAME = env_str("PASSKEY_RP_NAME", "Welfare service")
OTP_WEBAUTHN_ALLOWED_ORIGINS = env_list(
    "PASSKEY_ALLOWED_ORIGINS", [f"{_SITE.scheme}://{_SITE_HOST}{_SITE_PORT}"]
)
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
OTP_WEBAUTHN_TIMEOUT_SECONDS = env_int("PASSKEY_TIMEOUT_SECONDS", 5 * 60, minimum=30)
# Roles for whom only a passkey completes the second factor (TOTP, phishable, does not):
# comma-separated, e.g. `oh,admin`. Only roles that need a second factor at all.
PASSKEY_REQUIRED_ROLES = frozenset(env_list("PASSKEY_REQUIRED_ROLES", []))
_PASSKEY_ROLES = {"supervisor", "oh", "hr", "admin"}  # welfare.core.roles.TWO_FACTOR_ROLES
if not PASSKEY_REQUIRED_ROLES <= _PASSKEY_ROLES:
    raise ConfigurationError(
        "PASSKEY_REQUIRED_ROLES must name only roles that need a second factor "
        f"({', '.join(sorted(_PASSKEY_ROLES))}), got {', '.join(sorted(PASSKEY_REQUIRED_ROLES))}."
    )

# `make bench` mounts a bare insert view as its floor; refused in production.
BENCH_BARE_VIEW = env_bool("BENCH_BARE_VIEW", False)
if PRODUCTION and BENCH_BARE_VIEW:
    raise ConfigurationError("BENCH_BARE_VIEW is for benchmarks only, never in production.")
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
# Hosts a webhook may reach over plain http, and whose addresses may be internal (an
# in-force chat server): the operator's trust, never the admin's. Everyone else: https to a
# public address.
WEBHOOK_HTTP_ALLOWED_HOSTS = env_list("WEBHOOK_HTTP_ALLOWED_HOSTS", [])
SCHEDULER_HEARTBEAT_SECONDS = env_int("SCHEDULER_HEARTBEAT_SECONDS", 15, minimum=1)
SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS = env_int("SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS", 120, minimum=5)
SCHEDULER_LOCK_POLL_SECONDS = env_float("SCHEDULER_LOCK_POLL_SECONDS", 5.0, minimum=0.1)

# --- Scheduled jobs in bounded batches, and the e-mail delivery queue (Part 15) -------------
# Each job reads its due work JOB_BATCH_SIZE rows at a time (keyset order), so its memory
# stays flat and its queries grow with the number of batches, not with history. E-mails are
# queued as rows and sent by the `emails` job (every minute) EMAIL_BATCH_SIZE at a time, at
# most EMAIL_BATCHES_PER_RUN batches a run; a failed one is retried with back-off, given up
# after EMAIL_MAX_ATTEMPTS attempts.
JOB_BATCH_SIZE = env_int("JOB_BATCH_SIZE", 2000, minimum=1, maximum=100_000)
EMAIL_BATCH_SIZE = env_int("EMAIL_BATCH_SIZE", 100, minimum=1, maximum=10_000)
EMAIL_BATCHES_PER_RUN = env_int("EMAIL_BATCHES_PER_RUN", 50, minimum=1)
EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 8, minimum=1)

# --- Occupational health -------------------------------------------------------------------
# Keys (Fernet format: 32 bytes, url-safe base64) for clinical text and secrets at rest,
# newest first: all decrypt, the first seals (AES-256-GCM keys are derived from them by HKDF).
_encryption_keys = env_list("FIELD_ENCRYPTION_KEYS", [])
if PRODUCTION and not _encryption_keys:
    raise ConfigurationError(
        "FIELD_ENCRYPTION_KEYS must be set when DJANGO_ENV=production: generate one with "
        "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
    )
if not _encryption_keys:  # development only: derived from the development secret
    import base64
    import hashlib

    _encryption_keys = [
        base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
    ]
FIELD_ENCRYPTION_KEYS = _encryption_keys
SCREENING_INSTRUMENTS = env_list("SCREENING_INSTRUMENTS", ["phq9", "gad7", "pcl5"])
SCREENING_CUTOFFS = {
    "phq9": env_int("SCREENING_PHQ9_CUTOFF", 10, minimum=1, maximum=27),
    "gad7": env_int("SCREENING_GAD7_CUTOFF", 10, minimum=1, maximum=21),
    "pcl5": env_int("SCREENING_PCL5_CUTOFF", 33, minimum=31, maximum=38),
}
SCREENING_MEANINGFUL_CHANGE = {"pcl5": env_int("SCREENING_PCL5_CHANGE", 10, minimum=1)}
# "Who opened my record" shows OH readers by name unless a force prefers the role alone.
ACCESS_LOG_SHOWS_OH_NAMES = env_bool("ACCESS_LOG_SHOWS_OH_NAMES", True)

# --- Urgent work: the deadline to acknowledge, working hours, who is told past it -----------
# Urgent alerts (a critical screening answer, a check-in escalated to OH) must be acknowledged
# within this many working hours; past it, the OH leads (and the out-of-hours contact) are told.
URGENT_ACK_WORKING_HOURS = env_float("URGENT_ACK_WORKING_HOURS", 4.0, minimum=0.25)
# Occupational health's working hours, in the force's time zone.
WORKING_HOURS = env_time_range("WORKING_HOURS", "08:00-18:00")
WORKING_DAYS = env_weekdays("WORKING_DAYS", ["mon", "tue", "wed", "thu", "fri"])
WORKING_HOLIDAYS = env_date_list("WORKING_HOLIDAYS")
# An address (a duty clinician's, a control room's) e-mailed when an urgent alert is raised
# outside working hours and when one is not acknowledged in time. Empty: nobody.
OH_OUT_OF_HOURS_EMAIL = env_str("OH_OUT_OF_HOURS_EMAIL", "")
if OH_OUT_OF_HOURS_EMAIL and "@" not in OH_OUT_OF_HOURS_EMAIL:
    raise ConfigurationError("OH_OUT_OF_HOURS_EMAIL must be an e-mail address.")

# --- Notifications: the daily digest ---------------------------------------------------------
# Supervisors and clinicians who chose the digest (the default) get their non-urgent
# notifications e-mailed in one summary a day, from this hour on the force's local clock;
# urgent ones are e-mailed at once. The inbox has every notification as soon as it is written.
NOTIFICATION_DIGEST_HOUR = env_int("NOTIFICATION_DIGEST_HOUR", 8, minimum=0, maximum=23)

# --- Bulk import of units, people and postings (CSV/XLSX, admin) ----------------------------
# A larger file answers 413, more rows 400. The apply runs in one transaction that holds the
# audit chain's lock while it writes: the row cap bounds how long other writers wait.
PEOPLE_IMPORT_MAX_BYTES = env_int("PEOPLE_IMPORT_MAX_BYTES", 1024 * 1024, minimum=1024)
PEOPLE_IMPORT_MAX_ROWS = env_int("PEOPLE_IMPORT_MAX_ROWS", 1000, minimum=1, maximum=10000)

# --- Crisis support: what an officer is shown with a critical answer, and on "get help now" --
# The contacts themselves are the SupportContact rows an administrator keeps.
SUPPORT_INTRO = env_str(
    "SUPPORT_INTRO",
    "Thank you for answering honestly. Some of your answers tell us you may be going "
    "through a very hard time. You do not have to deal with this on your own.",
)
SUPPORT_PAGE_INTRO = env_str(
    "SUPPORT_PAGE_INTRO",
    "If you are struggling, or something you have seen is staying with you, help is there "
    "now. You do not need a reason to use it.",
)
SUPPORT_DANGER = env_str(
    "SUPPORT_DANGER",
    "If you think you might act on thoughts of harming yourself, or you are in danger now, "
    "call 999 or go to A&E.",
)
# {by}: when occupational health will have been in touch (the acknowledgement deadline).
SUPPORT_PROMISE = env_str(
    "SUPPORT_PROMISE",
    "Occupational health has been told and will contact you by {by}. "
    "If you need to talk before then, use one of the contacts below.",
)
SUPPORT_WHO_SEES = env_str(
    "SUPPORT_WHO_SEES",
    "Your answers go to occupational health only. Your supervisor and managers are not told "
    "your answers or your scores, and they are not told that you asked for help.",
)
try:
    SUPPORT_PROMISE.format(by="")
except (KeyError, IndexError, ValueError) as _bad:
    raise ConfigurationError("SUPPORT_PROMISE may use {by} and no other placeholder.") from _bad

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["welfare.accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["welfare.core.permissions.RolePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["welfare.core.parsers.JsonParser"],
    "DEFAULT_PAGINATION_CLASS": "welfare.core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "welfare.core.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "welfare.core.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Welfare service API",
    "DESCRIPTION": (
        "Exposure logging, psychological check-ins and confidential occupational health "
        "for staff who review distressing material. Contract: API.md, version 1. "
        "Each path has the one form listed here (with its trailing slash toggled it answers "
        "404); every error is JSON with a `code` (`not_found`, `method_not_allowed`, "
        "`not_acceptable`, `too_large`, `server_error`, ...), so the operations list only "
        "the errors particular to them."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "welfare.core.schema.declare_parameters",
        "welfare.core.schema.declare_error_bodies",
        "welfare.core.schema.declare_defaults_on_choices",
    ],
    # Swagger UI served by the app itself: no CDN, so a strict CSP can hold.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "welfare.accounts.models.Role",
        "UnitKindEnum": "welfare.people.models.UnitKind",
        "MaterialEnum": "welfare.exposure.models.Material",
        "CategoryEnum": "welfare.exposure.models.Category",
        "ActivityEnum": "welfare.exposure.models.Activity",
        "CheckinKindEnum": "welfare.checkins.models.Kind",
        "CheckinShownKindEnum": "welfare.checkins.models.SHOWN_KINDS",
        "CheckinStatusEnum": "welfare.checkins.models.Status",
        "AlertKindEnum": "welfare.alerts.models.AlertKind",
        "AlertStatusEnum": "welfare.alerts.models.AlertStatus",
        "SessionStatusEnum": "welfare.exposure.models.SessionState",
        "OutcomeEnum": "welfare.checkins.models.Outcome",
        "IncidentCategoryEnum": "welfare.checkins.models.IncidentCategory",
        "RoleGrantKindEnum": "welfare.accounts.models.GrantKind",
        "RoleGrantStateEnum": "welfare.accounts.models.GrantState",
    },
}

# JSON lines on standard output (LOG_FORMAT=plain for a terminal): request id, user id
# and role on every line; never names, health data or note text.
LOG_FORMAT = env_choice("LOG_FORMAT", "json" if PRODUCTION else "plain", ("json", "plain"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "welfare.core.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "pgserver": {"level": "WARNING"},
        "matplotlib": {"level": "WARNING"},
        "apscheduler": {"level": "WARNING"},
        # One line per request from welfare.access already; Django's own adds nothing.
        "django.request": {"level": "ERROR"},
        "welfare.access": {
            "level": env_str("ACCESS_LOG_LEVEL", "INFO" if PRODUCTION else "WARNING")
        },
    },
}

# --- Provisioning from the directory (SCIM 2.0, welfare.directory) ------------------------
# The secret the force's directory sends as a bearer token (Entra ID's "Secret Token"); only
# its SHA-256 is kept here. Unset: provisioning is off and everything under /scim/v2 is 404.
_scim_token = env_optional("SCIM_BEARER_TOKEN")
if _scim_token is not None and len(_scim_token) < 32:
    raise ConfigurationError("SCIM_BEARER_TOKEN must be at least 32 characters (a random secret).")
SCIM_BEARER_TOKEN_SHA256 = (
    hashlib.sha256(_scim_token.encode()).hexdigest() if _scim_token is not None else ""
)
del _scim_token
# The role of a provisioned account: never `oh` (clinical access is two people's decision)
# nor `admin`. Officers get an officer record (staff number: the enterprise employeeNumber).
SCIM_USER_ROLE = env_choice("SCIM_USER_ROLE", "officer", ("officer", "supervisor", "hr"))
# How a directory group finds its unit: the unit's `directory_group` (the group's externalId,
# set by an administrator), or the unit's name (the group's displayName, on the first POST).
SCIM_GROUP_MATCH = env_choice("SCIM_GROUP_MATCH", "directory_group", ("directory_group", "name"))
# The most resources one list or search answers (a client pages with startIndex and count).
SCIM_MAX_RESULTS = env_int("SCIM_MAX_RESULTS", 100, minimum=1, maximum=1000)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "welfare@localhost")

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading commits the whole domain to HTTPS in browsers for good: a force's own
        # decision, so off by default and the check's reminder silenced.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    # Probes reach the container over plain HTTP from inside it.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
