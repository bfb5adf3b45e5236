"""/v1 endpoints owned by the accounts app."""

from ninja import Router

router = Router(tags=["accounts"])
