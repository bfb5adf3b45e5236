"""/v1 endpoints owned by the generation app."""

from ninja import Router

router = Router(tags=["generation"])
