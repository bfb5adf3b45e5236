"""The one error an enhancer raises."""


class EnhancerError(Exception):
    """The model could not give a revision; `message` is a sentence for the user."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.timed_out = timed_out
