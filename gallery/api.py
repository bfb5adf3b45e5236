"""/v1 endpoints owned by the gallery app."""

from ninja import Router

router = Router(tags=["gallery"])
