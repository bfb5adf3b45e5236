"""python -m tests.integration [pytest args]: the integration suite against live services.

Start PostgreSQL, Redis and S3 first (`.ci/services up DIR && source DIR/env`), or point
QWEN_INTEGRATION_DATABASE_URL / _REDIS_URL / _S3_ENDPOINT_URL at your own (the database is
dropped and recreated; the bucket is emptied). Every process of the suite (this pytest,
gunicorn, the consumers) runs the production settings with the environment built here.
"""

import os
import sys

REQUIRED = (
    "QWEN_INTEGRATION_DATABASE_URL",
    "QWEN_INTEGRATION_REDIS_URL",
    "QWEN_INTEGRATION_S3_ENDPOINT_URL",
)


def integration_env() -> dict[str, str]:
    base = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return {
        "QWEN_INTEGRATION_RUN": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "integration-only-secret-3f9a1c7e5b2d8046a1e9c3b7d5f2a8e6",
        # A deployment, not a local install (which serves static files unhashed, from the
        # finders): one non-loopback name makes it one; it is plain HTTP on loopback here.
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,studio.integration.test",
        "DJANGO_HTTPS": "0",
        "QWEN_STUDIO_VAR_DIR": os.path.join(base, "var", "integration"),
        "DATABASE_URL": os.environ["QWEN_INTEGRATION_DATABASE_URL"],
        "REDIS_URL": os.environ["QWEN_INTEGRATION_REDIS_URL"],
        "HUEY_NAME": "qwen-integration",
        "AWS_STORAGE_BUCKET_NAME": "qwen-integration",
        "AWS_S3_ENDPOINT_URL": os.environ["QWEN_INTEGRATION_S3_ENDPOINT_URL"],
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_S3_ADDRESSING_STYLE": "path",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "QWEN_IMAGE_BACKEND": "demo",
        "QWEN_IMAGE_API_KEY": "",
        # Jobs take ~3 s (10 steps), so a consumer can be killed mid-job; a short lease lets
        # the reaper recover the job within the suite's time.
        "QWEN_IMAGE_DEMO_STEP_DELAY": "0.3",
        "GENERATION_LEASE_SECONDS": "10",
        "GENERATION_REQUEUE_AFTER_SECONDS": "30",
        "QUOTA_CONCURRENT_JOBS": "1000",
        "QUOTA_IMAGES_PER_DAY": "10000",
        "HUEY_WORKERS": "2",
    }


def main(argv: list[str]) -> int:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        print(
            f"Missing {', '.join(missing)}: start the services with "
            "`.ci/services up DIR && source DIR/env`.",
            file=sys.stderr,
        )
        return 2
    env = {**os.environ, **integration_env()}
    args = [sys.executable, "-m", "pytest", "tests/integration", "-m", "integration"]
    args += ["--ds=config.settings", "-v", "-rfEs", *argv]
    os.execve(sys.executable, args, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
