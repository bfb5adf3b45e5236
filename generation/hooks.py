"""What happens after a job reaches a final state (webhooks attach here)."""

import logging

logger = logging.getLogger("qwen.jobs")


def job_finished(job_pk: int) -> None:
    """Called after a job succeeded or failed. A failing hook never undoes the job's result."""
    from generation.webhooks import webhook_job_finished

    try:
        webhook_job_finished(job_pk=job_pk)
    except Exception:
        logger.exception("event=hook_failed hook=webhook job_pk=%s", job_pk)
