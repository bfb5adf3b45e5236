"""Signals of the job lifecycle: how services hand work to the queue and to webhooks without
importing them. generation/tasks.py and generation/webhooks.py connect to these; the app's
ready() imports both, so every process that sends also has the receivers. And what apps above
generation lend its pages: the gallery answers `favorites_wanted` (connected in its ready())."""

from django.dispatch import Signal

# A worker should run the job: sent after commit with job_pk, delay (seconds) and priority.
job_ready = Signal()
# The job reached `succeeded`, `failed` or `canceled`: sent with job_pk. A failing receiver is
# logged and never undoes the job's result (send_robust).
job_finished = Signal()
# A webhook delivery is due: sent with delivery_pk and delay (seconds).
webhook_ready = Signal()
# A page of generation (the Create feed) shows stars: sent with user and images; each receiver
# returns the pks of those images the user starred (gallery.apps connects the gallery's answer).
favorites_wanted = Signal()


def favorite_ids(*, user, images: list) -> set[int]:
    """Pks of `images` the user starred (empty while no app answers favorites_wanted)."""
    if not images:
        return set()
    starred: set[int] = set()
    for _receiver, answer in favorites_wanted.send(sender=None, user=user, images=images):
        starred |= answer or set()
    return starred
