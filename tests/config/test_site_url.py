"""CLI links follow SITE_URL, else the address `make run` last served on (var/site-url)."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
PROBE = "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"


def _site_url(tmp_path, **env) -> str:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SITE_URL"))}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=BASE_DIR,
        env={
            **keep,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "QWEN_STUDIO_VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_links_point_at_the_port_make_run_serves(tmp_path):
    assert _site_url(tmp_path) == "http://127.0.0.1:8000"
    (tmp_path / "site-url").write_text("http://127.0.0.1:8123\n")
    assert _site_url(tmp_path) == "http://127.0.0.1:8123"
    assert (
        _site_url(tmp_path, SITE_URL="https://images.example.com/") == "https://images.example.com"
    )
