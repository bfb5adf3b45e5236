"""Subprocess helper of the worker-fault suite: makes jobs in a throwaway var dir.

Runs with the suite's settings (tests/reliability/worker_settings.py: the real ones plus the
crashing demo backend) against the SQLite database and SqliteHuey queue of
QWEN_STUDIO_VAR_DIR, like the web process would:

    python -m tests.reliability.worker_harness create --count 3 --prompt "..." [--lose-enqueue]

prints the new jobs' public ids as JSON. `--lose-enqueue` commits the job but drops its
queue message, as when the web process dies between the commit and the enqueue.
"""

import argparse
import json
import os
import sys
from unittest import mock


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.reliability.worker_settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from accounts.models import Profile
    from generation import lifecycle
    from generation.params import GenerationParams

    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["create"])
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--prompt", default="worker fault")
    parser.add_argument("--size", default="64x64")
    parser.add_argument("--lose-enqueue", action="store_true")
    args = parser.parse_args(argv)

    user, _ = get_user_model().objects.get_or_create(username="worker-owner")
    Profile.objects.get_or_create(user=user)
    ids = []
    with mock.patch.object(lifecycle, "job_enqueue") if args.lose_enqueue else _nothing():
        for index in range(args.count):
            params = GenerationParams(prompt=args.prompt, size=args.size, seed=1000 + index)
            ids.append(str(lifecycle.job_create(user=user, params=params).public_id))
    print(json.dumps(ids))
    return 0


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
