"""One structured log line per job event. Never logs keys, tokens or prompts."""

import logging

logger = logging.getLogger("qwen.jobs")


def log_job_event(event: str, job, **fields) -> None:
    parts = {
        "event": event,
        "job": str(job.public_id),
        "backend": job.backend,
        "attempt": job.attempts,
        **fields,
    }
    logger.info(" ".join(f"{key}={_fmt(value)}" for key, value in parts.items()))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    return f'"{text}"' if " " in text else text
