"""What happens after a job reaches a final state (webhooks attach here)."""


def job_finished(job_pk: int) -> None:
    """Called after a job succeeded or failed. The API's webhooks plug in here."""
    return None
