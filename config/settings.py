"""Settings for Qwen Image Studio, read from the environment; no .env is needed to start."""

import datetime as dt
import importlib.util
import os
import secrets
import time
import tomllib
from pathlib import Path

import dj_database_url

from config.env import env_bool, env_int, env_list, env_str
from config.memory import limit_malloc_arenas
from config.paths import BASE_DIR, VAR_DIR

# Before any worker thread starts allocating (config/memory.py).
limit_malloc_arenas(env_int("QWEN_MALLOC_ARENAS", 2))

VAR_DIR.mkdir(parents=True, exist_ok=True)
# The version the C2PA claim generator names (pyproject.toml is the one place it is written).
STUDIO_VERSION = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]["version"]

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
# A site that answers only to loopback names is a local install (`make run`): it is reached over
# plain HTTP on this machine. Naming any other host makes it a deployment (docs/production.md).
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
LOCAL_INSTALL = all(host in LOOPBACK_HOSTS for host in ALLOWED_HOSTS)

# Off unless asked for: people using `make run` see the branded error pages, never Django's
# technical ones (URL pattern dumps, tracebacks). `make dev` / DJANGO_DEBUG=1 turns it on.
DEBUG = env_bool("DJANGO_DEBUG", default=False)


def _persisted_secret_key(path: Path) -> str:
    """A local install's signing key: made once (64 random URL-safe characters), kept in var/
    with mode 0600 so sessions and signed URLs survive restarts. O_EXCL: when the web server
    and the worker start together, one writes the key and the other reads it."""
    for _ in range(50):
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_text().strip()
            if len(key) >= 50:
                return key
            time.sleep(0.05)  # the other process is writing it
            continue
        key = secrets.token_urlsafe(48)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(key + "\n")
        return key
    raise RuntimeError(f"{path} holds no usable key: delete it and start again")


SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY and (DEBUG or LOCAL_INSTALL):
    SECRET_KEY = _persisted_secret_key(VAR_DIR / "secret_key")
if not SECRET_KEY:
    raise RuntimeError(
        "DJANGO_SECRET_KEY must be set when the site serves hosts other than 127.0.0.1/localhost"
        " (DJANGO_ALLOWED_HOSTS); every process needs the same key"
    )
# HTTPS hardening (secure cookies, redirect, HSTS) for every deployment; a local install is
# plain HTTP on loopback, where secure-only cookies would make signing in impossible.
HTTPS = env_bool("DJANGO_HTTPS", default=not DEBUG and not LOCAL_INSTALL)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "axes",
    "csp",
    "ninja",  # serves the API docs' Swagger UI from static files (no CDN)
    "accounts",
    "usage",
    "generation",
    "gallery",
]


def _fakes_present() -> bool:
    """tests/fakes comes with a checkout; a production image need not ship tests/."""
    try:
        return importlib.util.find_spec("tests.fakes") is not None
    except ImportError:
        return False


# Development tools (`manage.py fake_endpoint`, tests/fakes/): in DEBUG or a local install, or
# with QWEN_DEV_TOOLS=1 (the benchmarks run the fake endpoint beside production settings).
if (DEBUG or LOCAL_INSTALL or env_bool("QWEN_DEV_TOOLS")) and _fakes_present():
    INSTALLED_APPS.append("tests.fakes")

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "config.middleware.ApiErrorEnvelopeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.GoneMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "generation.context_processors.backend_info",
                "generation.context_processors.sensitive",
                "generation.context_processors.nav_jobs",
                "gallery.context_processors.trash_undo",
            ],
        },
    },
]

# --- Database: SQLite in WAL mode under var/ unless DATABASE_URL is set -------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    # e.g. postgres://user:password@host:5432/name (psycopg 3). Connections persist for
    # DATABASE_CONN_MAX_AGE seconds and are health-checked before reuse, so a restarted or
    # failed-over server costs one reconnect instead of a 500.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {
                # Web and worker share the file: IMMEDIATE transactions plus a busy timeout
                # avoid "database is locked"; WAL lets readers run beside the writer.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# django-axes checks every login for lockout first; ModelBackend then authenticates.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "generate"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media ---------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# A local install serves static files straight from static/ (no collectstatic needed, and a
# pulled change shows at once); deployments serve the collected, hashed copies.
WHITENOISE_USE_FINDERS = DEBUG or LOCAL_INSTALL
MEDIA_ROOT = VAR_DIR / "media"

AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
    AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME") or None
    AWS_DEFAULT_ACL = None  # objects stay private; pages hand out signed URLs
    AWS_QUERYSTRING_AUTH = True
    AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 3600)
    AWS_S3_SIGNATURE_VERSION = "s3v4"  # botocore signs URLs with SigV2 unless told otherwise
    # "path" suits most S3-compatible servers; empty lets botocore choose (virtual on AWS).
    AWS_S3_ADDRESSING_STYLE = env_str("AWS_S3_ADDRESSING_STYLE") or None
    AWS_S3_FILE_OVERWRITE = True  # image names are deterministic: a re-run rewrites the same key
    AWS_S3_OBJECT_PARAMETERS = {"CacheControl": "private, max-age=86400"}
    default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": AWS_STORAGE_BUCKET_NAME},
    }
else:
    default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "allow_overwrite": True},
    }


def _storage_origins() -> list[str]:
    """Where signed media URLs point when images live on S3 (pages load them from there)."""
    if not AWS_STORAGE_BUCKET_NAME:
        return []
    endpoint = AWS_S3_ENDPOINT_URL
    if not endpoint:
        return ["https://*.amazonaws.com"]
    scheme, _, rest = endpoint.partition("://")
    host = rest.split("/", 1)[0]
    return [f"{scheme}://{host}", f"{scheme}://*.{host}"]  # path and virtual-hosted styles


STORAGES = {
    "default": default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or LOCAL_INSTALL
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Huey: SqliteHuey under var/ unless REDIS_URL is set ----------------------------------
REDIS_URL = env_str("REDIS_URL")
HUEY_WORKERS = env_int("HUEY_WORKERS", 2)
if REDIS_URL:
    from huey.serializer import SignedSerializer

    # Tasks are pickled: sign them with SECRET_KEY so nothing else that can write to this Redis
    # can make a consumer unpickle its payload. Every web and worker process needs the same
    # DJANGO_SECRET_KEY (a consumer with another key drops the tasks it cannot verify).
    # Run any number of consumers (`manage.py run_huey -n`) and exactly one without `-n`:
    # that one also runs the periodic scheduler (the reaper).
    HUEY = {
        # The priority variant: the fair-use ordering (generation.tasks enqueues with
        # generation.selectors.job_fair_priority) needs it.
        "huey_class": "huey.PriorityRedisHuey",
        "name": env_str("HUEY_NAME", "qwen-image-studio"),
        "url": REDIS_URL,
        "immediate": False,
        "serializer": SignedSerializer(secret=SECRET_KEY),
        "consumer": {"workers": HUEY_WORKERS, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "qwen-image-studio",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": False,
        # SqliteHuey is polled: an idle consumer backs off to max_delay between polls (huey's
        # default is 10 s, a long wait before a new job starts).
        "consumer": {"workers": HUEY_WORKERS, "worker_type": "thread", "max_delay": 0.25},
    }

# --- Features ------------------------------------------------------------------------------
# Generation, prompts, provenance, retention, editing, safety, quotas, usage, the gallery, the
# API's waits and pages, webhooks: config/settings_features.py, every name included here.
from config.settings_features import *  # noqa: E402, F403

# --- Accounts -----------------------------------------------------------------------------
# Who may create an account: "open" (anyone), "invite" (only with a team invite link) or
# "closed" (admins create users). Open in development, closed in production by default.
ACCOUNTS_SIGNUP = env_str("ACCOUNTS_SIGNUP", "open" if DEBUG or LOCAL_INSTALL else "closed")
if ACCOUNTS_SIGNUP not in {"open", "invite", "closed"}:
    raise RuntimeError("ACCOUNTS_SIGNUP must be open, invite or closed")
ACCOUNTS_INVITE_DAYS = env_int("ACCOUNTS_INVITE_DAYS", 7)
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "Qwen Image Studio <noreply@localhost>")

# Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username
# from one address, that pair is locked out for the cool-off. Keying on the pair means a
# reverse proxy that hides client addresses still cannot lock everybody out at once.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.login_locked_out"  # 429 page with Retry-After


# /metrics (core/metrics.py) answers staff sessions and `Authorization: Bearer METRICS_TOKEN`.
METRICS_TOKEN = env_str("METRICS_TOKEN")
# Processes of one host (web workers, consumers) add up their counters in this folder
# (prometheus_client's multiprocess mode); it must be set before prometheus_client is
# imported, which settings are. Empty: each process counts for itself.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "prometheus"))
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR
else:
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

# --- REST API and webhooks ----------------------------------------------------------------
# Absolute base URL of the portal, for links made outside a request (webhooks, the CLI).
# Unset: the address `make run` last served on (it writes var/site-url), so the CLI's links
# point at the running server whatever its port.
_SITE_URL_FILE = VAR_DIR / "site-url"
SITE_URL = (
    env_str("SITE_URL")
    or (_SITE_URL_FILE.read_text().strip() if _SITE_URL_FILE.exists() else "")
    or "http://127.0.0.1:8000"
).rstrip("/")

# --- Security -----------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Content-Security-Policy (django-csp 4): every script and stylesheet is a file of ours (no
# inline code: tests/reliability/test_headers.py checks the templates), images may also be
# data: URIs (Swagger UI's icons) or come from the S3 origin that signed media URLs point to.
# The share embed (/s/<token>/embed/) replaces frame-ancestors with * so any site may frame it.
CSP_IMG_SRC_EXTRA = env_list("CSP_IMG_SRC_EXTRA", _storage_origins())
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *CSP_IMG_SRC_EXTRA],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    # Load balancers and Prometheus probe the processes directly over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

# Log lines: "json" (one object per line, with the request id; the default in production) or
# "plain" (the default with DJANGO_DEBUG, easier to read in a terminal).
LOG_FORMAT = env_str("DJANGO_LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise RuntimeError("DJANGO_LOG_FORMAT must be json or plain")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every handler redacts share/invite/signed-URL tokens and API keys (config/logging.py).
    "filters": {
        "redact": {"()": "config.logging.RedactSecrets"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # One JSON object per line with the request id (config/logging.py).
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact"],
        },
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's defaults give these their own unfiltered handlers: replace them.
        "django": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # A handler here stops run_huey from adding its own (which doubled every line).
        "huey": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "httpx": {"level": "WARNING"},  # one line per request; the backends log their own
        "httpcore": {"level": "WARNING"},
    },
}
