"""The webhook signing secret of the caller: read it, rotate it."""

from ninja import Router

from generation.schemas import WebhookSecretOut
from generation.webhooks import webhook_secret_for, webhook_secret_rotate

router = Router(tags=["generation"])


# operation_id: the ones they had in generation/api.py (clients may know them).
@router.get(
    "/webhooks/secret",
    response=WebhookSecretOut,
    url_name="webhooks-secret",
    operation_id="generation_api_webhooks_secret",
    summary="Your webhook signing secret",
)
def webhooks_secret(request):
    return {"secret": webhook_secret_for(user=request.auth)}


@router.post(
    "/webhooks/secret/rotate",
    response=WebhookSecretOut,
    url_name="webhooks-secret-rotate",
    operation_id="generation_api_webhooks_secret_rotate",
    summary="Replace your webhook signing secret",
)
def webhooks_secret_rotate(request):
    return {"secret": webhook_secret_rotate(user=request.auth)}
