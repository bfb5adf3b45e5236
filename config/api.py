"""The one NinjaAPI at /v1/: routers from the apps, one error envelope for every failure."""

from ninja import NinjaAPI

api = NinjaAPI(
    title="Qwen Image Studio API",
    version="1.0.0",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
