"""The one NinjaAPI at /v1/: routers from the apps, one error envelope for every failure."""

from ninja import NinjaAPI

from accounts.api import router as accounts_router
from gallery.api import router as gallery_router
from generation.api import router as generation_router

api = NinjaAPI(
    title="Qwen Image Studio API",
    version="1.0.0",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("", generation_router)
api.add_router("", gallery_router)
api.add_router("", accounts_router)
