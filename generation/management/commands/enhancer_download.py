"""manage.py enhancer_download: fetch the small local prompt model once, when an operator asks.

Nothing else in the portal downloads it: the local enhancer only reads this folder.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation.prompts.local import WEIGHT_FILES


class Command(BaseCommand):
    help = (
        "Download the local prompt-enhancement model (PROMPT_ENHANCER_LOCAL_MODEL, default "
        "Qwen/Qwen2.5-0.5B-Instruct) into PROMPT_ENHANCER_LOCAL_DIR. Needs the local extra "
        '(pip install -e ".[local]") and network access to the Hugging Face hub.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", help="Hub id (default PROMPT_ENHANCER_LOCAL_MODEL).")
        parser.add_argument("--dir", help="Target folder (default PROMPT_ENHANCER_LOCAL_DIR).")
        parser.add_argument("--revision", help="A branch, tag or commit of the model repo.")

    def handle(self, *args, **options):
        model = options["model"] or settings.PROMPT_ENHANCER_LOCAL_MODEL
        target = Path(options["dir"] or settings.PROMPT_ENHANCER_LOCAL_DIR)
        try:
            from huggingface_hub import snapshot_download
        except ImportError:
            raise CommandError(
                'huggingface_hub is missing: install the local extra (pip install -e ".[local]").'
            ) from None
        target.mkdir(parents=True, exist_ok=True)
        self.stdout.write(f"Downloading {model} into {target} …")
        try:
            snapshot_download(
                repo_id=model,
                revision=options["revision"],
                local_dir=str(target),
                allow_patterns=WEIGHT_FILES,
            )
        except Exception as exc:
            raise CommandError(f"Could not download {model}: {exc}") from None
        if not (target / "config.json").exists():
            raise CommandError(f"{target} has no config.json: is {model} a transformers model?")
        self.stdout.write(
            self.style.SUCCESS(
                f"Done. Set PROMPT_ENHANCER=local (and PROMPT_ENHANCER_LOCAL_DIR={target} if "
                "you chose another folder), then restart the web and worker processes."
            )
        )
