"""manage.py generate: run prompts through the same job service as the site and the API."""

import sys
import threading
import time

import pydantic
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from generation import lifecycle, runner
from generation.models import Job, PresetVersion
from generation.moderation import PromptBlocked
from generation.params import QUALITY, GenerationParams
from generation.presets.selectors import PresetNotFound, preset_usable
from generation.signed_urls import image_signed_urls
from usage.quotas import QuotaExceeded

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Generate images for one prompt or a file of prompts (one per line) as a user, wait "
        "for them with a progress bar, and print where the images were stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("prompt", nargs="?", help="The prompt (or use --file).")
        parser.add_argument(
            "--file",
            "-f",
            help="File of prompts, one per line ('-' reads stdin); blank lines and lines "
            "starting with # are skipped.",
        )
        parser.add_argument("--user", "-u", required=True, help="Username the jobs belong to.")
        parser.add_argument("--size", help='Preset name, "WIDTHxHEIGHT" (default landscape_4_3).')
        parser.add_argument("--n", "-n", type=int, help="Images per prompt.")
        parser.add_argument("--steps", type=int, dest="num_inference_steps")
        parser.add_argument("--guidance-scale", type=float, dest="guidance_scale")
        parser.add_argument("--seed", type=int)
        parser.add_argument("--negative-prompt", dest="negative_prompt")
        parser.add_argument("--acceleration", choices=["none", "regular", "high"])
        parser.add_argument(
            "--no-safety-checker",
            action="store_false",
            dest="enable_safety_checker",
            default=None,
        )
        parser.add_argument(
            "--visibility", choices=["private", "team", "public"], default="private"
        )
        parser.add_argument(
            "--preset",
            help="A preset's name or id: its settings apply where no option is given, and its "
            "template wraps each prompt.",
        )
        parser.add_argument(
            "--enhance",
            action="store_true",
            default=None,
            help="Rewrite each prompt with the prompt enhancer first (docs/prompts.md).",
        )
        parser.add_argument(
            "--quality",
            choices=list(QUALITY),
            help="OpenAI's quality, as steps and acceleration (options given win).",
        )
        parser.add_argument(
            "--run-here",
            action="store_true",
            help="Run the jobs in this process (when no Huey worker is running).",
        )
        parser.add_argument(
            "--timeout", type=float, default=900.0, help="Seconds to wait for each job."
        )

    def handle(self, *args, **options):
        user = self._user(options["user"])
        prompts = self._prompts(options)
        preset = self._preset(user, options["preset"])
        all_params = [self._params(prompt, options, preset) for prompt in prompts]
        failures = 0
        for number, params in enumerate(all_params, start=1):
            label = f"[{number}/{len(all_params)}]"
            try:
                job = lifecycle.job_create(
                    user=user,
                    params=params,
                    source=Job.Source.CLI,
                    visibility=options["visibility"],
                    preset=preset,
                )
            except QuotaExceeded as exc:
                raise CommandError(f"{label} {exc.message}") from None
            except PromptBlocked as exc:  # refuse this prompt, go on with the others
                self.stderr.write(f"{label} refused: {exc.message}")
                failures += 1
                continue
            self.stdout.write(f"{label} job {job.public_id}: {params.prompt[:70]}")
            if options["run_here"]:
                threading.Thread(
                    target=runner.job_run, kwargs={"job_id": job.pk}, daemon=True
                ).start()
            job = self._wait(job, options["timeout"])
            if not self._report(job):
                failures += 1
        if failures:
            raise CommandError(f"{failures} of {len(all_params)} jobs did not succeed.")

    def _user(self, username: str):
        try:
            return get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None

    def _prompts(self, options) -> list[str]:
        if bool(options["prompt"]) == bool(options["file"]):
            raise CommandError("Give one prompt, or --file with one prompt per line.")
        if options["prompt"]:
            return [options["prompt"]]
        try:
            if options["file"] == "-":
                lines = sys.stdin.read().splitlines()
            else:
                with open(options["file"], encoding="utf-8") as handle:
                    lines = handle.read().splitlines()
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc.strerror}") from None
        prompts = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        if not prompts:
            raise CommandError(f"No prompts in {options['file']}.")
        return prompts

    def _preset(self, user, ref: str | None) -> PresetVersion | None:
        if not ref:
            return None
        try:
            return preset_usable(user=user, ref=ref)
        except PresetNotFound as exc:
            raise CommandError(exc.message) from None

    def _params(self, prompt: str, options, preset: PresetVersion | None) -> GenerationParams:
        names = (
            "size",
            "n",
            "num_inference_steps",
            "guidance_scale",
            "seed",
            "negative_prompt",
            "acceleration",
            "enable_safety_checker",
            "enhance",
        )
        fields = {name: options[name] for name in names if options.get(name) is not None}
        try:
            return GenerationParams.build(
                {"prompt": prompt, **fields},
                preset=preset.values() if preset else None,
                quality=options.get("quality"),
            )
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, error['loc'])) or 'params'}: "
                + error["msg"].removeprefix("Value error, ")
                for error in exc.errors()
            )
            raise CommandError(f"Invalid parameters for {prompt[:40]!r}: {problems}") from None
        except ValueError as exc:
            raise CommandError(f"Invalid preset for {prompt[:40]!r}: {exc}") from None

    def _wait(self, job: Job, timeout: float) -> Job:
        deadline = time.monotonic() + timeout
        interactive = self.stderr.isatty()
        last = None
        while True:
            job.refresh_from_db()
            state = (job.status, round(job.progress, 2))
            if state != last:
                self._draw(job, interactive)
                last = state
            if not job.is_active:
                break
            if time.monotonic() > deadline:
                self.stderr.write("")
                raise CommandError(
                    f"Job {job.public_id} is still {job.status} after {timeout:g} s; it goes "
                    "on in the background (is a Huey worker running? try --run-here)."
                )
            time.sleep(0.2)
        if interactive:
            self.stderr.write("")
        return job

    def _draw(self, job: Job, interactive: bool) -> None:
        filled = int(BAR_WIDTH * job.progress)
        bar = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {job.progress:4.0%} {job.status}"
        if interactive:
            self.stderr.write(f"\r{bar:<60}", ending="")
            self.stderr.flush()
        else:
            self.stderr.write(bar)

    def _report(self, job: Job) -> bool:
        if job.enhancement_note:
            self.stdout.write(f"  prompt: {job.enhancement_note}")
        if job.revised_prompt:
            self.stdout.write(f"  revised prompt: {job.revised_prompt}")
        if job.status != Job.Status.SUCCEEDED:
            self.stdout.write(self.style.ERROR(f"  {job.status}: {job.error_message or '-'}"))
            return False
        for image in job.images.order_by("index"):
            try:
                where = default_storage.path(image.file.name)
            except NotImplementedError:  # S3 and other remote storages
                where = image.file.name
            self.stdout.write(
                f"  {where}  (seed {image.seed}, {image.width}x{image.height})\n"
                f"    {image_signed_urls(image, holder=job.user)['url']}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"  done in {job.duration_seconds or 0:.1f} s · "
                f"{settings.SITE_URL}{reverse('job-detail', args=[job.public_id])}"
            )
        )
        return True
