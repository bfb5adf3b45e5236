from django.contrib import admin
from django.urls import include, path

from config.api import api
from core.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("usage.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("v1/", api.urls),
    path("metrics", metrics_view, name="metrics"),
    path("", include("gallery.urls")),
    path("", include("generation.urls")),
]

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
