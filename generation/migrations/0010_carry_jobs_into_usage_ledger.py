"""Carry existing jobs and images into the usage ledger (usage/), marked as estimated, so quotas,
usage pages and /v1/me are right on the day of the upgrade.

Per job: a reservation (open while the job is queued or running, so it holds a concurrency
slot; closed with how the job ended). Per unit of work we know was started: one ledger entry,
priced with the price table of usage 0002 — `succeeded` for every image of a job that
succeeded, `failed` or `canceled` (counted) for jobs that ended after their work began,
`rejected` (not counted, no cost) when the job's error says the service refused it, `started`
for jobs running now. Queued jobs have no work yet. How many calls earlier attempts made is
not known: one unit per image is recorded, and the entries say they are estimates.

Every job row is carried, trashed ones too (their `deleted_at` is set, the work was still
spent); a job whose prompt was revised (enhanced, accepted or edited) is priced at the size
it ran at, which is the size on its row. A local job that failed before its pipeline ran (the
model missing, a prompt too long for the encoder, a GPU without room) did no work: recorded
as `rejected`, like a refusal by the service.

Written here, in generation, because generation is what records work in usage (the allowed
direction); usage's own migrations know nothing of jobs. The rules are frozen in this file.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.db import migrations

FINISHED = {"succeeded", "failed", "canceled"}
# Job errors that mean the service answered with a refusal (not billed) or was never reached.
REFUSED = {
    "rate_limited",
    "upstream_error",
    "upstream_redirect",
    "content_policy",
    "upstream_auth",
    "bad_request",
    "upstream_not_found",
    "upstream_rejected",
    "upstream_unreachable",
    "not_configured",
    # The local backend refused before its pipeline ran (main's issue 21).
    "prompt_too_long",
    "local_model_unavailable",
    "local_model_invalid",
    "lightning_unavailable",
    "invalid_size",
    "gpu_busy",
}
BATCH = 1000


def _unit_micros(prices, backend, model, width, height, steps) -> int:
    price = prices.get((backend, model)) or prices.get((backend, ""))
    if price is None:
        return 0
    megapixels = Decimal(width * height) / Decimal(1_000_000)
    cost = price.per_image + price.per_megapixel * megapixels + price.per_step * Decimal(steps)
    return int((cost * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def carry(apps, schema_editor):
    Job = apps.get_model("generation", "Job")
    Price = apps.get_model("usage", "Price")
    Reservation = apps.get_model("usage", "Reservation")
    LedgerEntry = apps.get_model("usage", "LedgerEntry")
    prices = {(p.backend, p.model): p for p in Price.objects.all()}
    holds, entries = [], []

    def flush():
        Reservation.objects.bulk_create(holds, batch_size=BATCH)
        LedgerEntry.objects.bulk_create(entries, batch_size=BATCH)
        holds.clear()
        entries.clear()

    jobs = Job.objects.order_by("pk").values(
        "public_id",
        "user_id",
        "team_id",
        "backend",
        "model",
        "width",
        "height",
        "num_inference_steps",
        "n",
        "status",
        "attempts",
        "error_code",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
    )
    for job in jobs.iterator(chunk_size=BATCH):
        if len(entries) >= BATCH or len(holds) >= BATCH:
            flush()
        unit = _unit_micros(
            prices,
            job["backend"],
            job["model"],
            job["width"],
            job["height"],
            job["num_inference_steps"],
        )
        finished = job["status"] in FINISHED
        began = job["started_at"] is not None or job["status"] == "succeeded"
        holds.append(
            Reservation(
                kind="job",
                user_id=job["user_id"],
                team_id=job["team_id"],
                job_ref=job["public_id"],
                images=job["n"],
                images_started=job["n"] if began else 0,
                unit_micros=unit,
                estimated=True,
                opened_at=job["created_at"],
                first_started_at=job["started_at"],
                closed_at=(job["finished_at"] or job["updated_at"]) if finished else None,
                outcome=job["status"] if finished else "",
            )
        )
        status = {
            "succeeded": "succeeded",
            "failed": "failed",
            "canceled": "canceled",
            "running": "started",
        }.get(job["status"])
        if status is None or not began:
            continue  # queued, or ended before any work started: nothing was done
        code = job["error_code"] if status == "failed" else ""
        counted = not (status == "failed" and code in REFUSED)
        if not counted:
            status = "rejected"
        started = job["started_at"] or job["created_at"]
        for index in range(job["n"]):
            entries.append(
                LedgerEntry(
                    kind="work",
                    user_id=job["user_id"],
                    team_id=job["team_id"],
                    job_ref=job["public_id"],
                    attempt=max(1, job["attempts"]),
                    index=index,
                    backend=job["backend"],
                    model=job["model"],
                    width=job["width"],
                    height=job["height"],
                    steps=job["num_inference_steps"],
                    status=status,
                    error_code=code[:64],
                    counted=counted,
                    cost_micros=unit if counted else 0,
                    estimated=True,
                    reason="Carried over from before the usage ledger.",
                    started_at=started,
                    settled_at=(job["finished_at"] or job["updated_at"]) if finished else None,
                )
            )
    flush()


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0009_image_team_shared_index"),
        ("usage", "0002_default_prices"),
    ]

    operations = [migrations.RunPython(carry, migrations.RunPython.noop)]
