"""Remote backend: the hosted `POST /v1/images/generations` endpoint (generation/spec/).

client.py holds RemoteBackend (the shared httpx.Client per process, the request body),
deadline.py the wall-clock budget of one call (request plus downloads), download.py the
download guard (allowed origins, redirects, private addresses, the byte cap), errors.py the
tables that turn HTTP statuses, provider messages and transport faults into BackendErrors.

Faults become `BackendError`s; the runner (generation/runner.py) retries the retryable ones
with backoff up to GENERATION_MAX_ATTEMPTS and fails the others at once with the message shown
here:

| code                      | retry | when                                                        |
|---------------------------|-------|-------------------------------------------------------------|
| not_configured            | no    | no QWEN_IMAGE_API_KEY, or a malformed QWEN_IMAGE_* setting   |
| rate_limited              | yes   | HTTP 429; Retry-After (seconds or a date) sets the delay     |
| upstream_error            | yes   | HTTP 5xx (Retry-After honoured on 503), 408                  |
| upstream_timeout          | yes   | connect/read/write/pool timeout, or the call budget ran out |
| upstream_unreachable      | yes   | connection refused, DNS failure, connection dropped         |
| upstream_bad_json         | yes   | a 2xx body that is not valid JSON                            |
| upstream_bad_content_type | yes   | a 2xx answer that is not `application/json`                  |
| upstream_no_data          | yes   | JSON without a non-empty `data` list                         |
| upstream_bad_item         | yes   | an item with neither `url` nor valid base64 `b64_json`       |
| bad_request               | no    | HTTP 400 or 422: the provider's own message is shown         |
| content_policy            | no    | a 4xx whose message or code names a content/safety policy    |
| upstream_auth             | no    | HTTP 401 or 403: the API key is wrong or not allowed         |
| upstream_not_found        | no    | HTTP 404: wrong QWEN_IMAGE_API_BASE or model                 |
| upstream_rejected         | no    | any other 4xx                                               |
| upstream_redirect         | no    | the generation call itself answered with a redirect         |
| download_refused          | no    | image URL outside the allowed origins, a private/loopback/   |
|                           |       | link-local address, a redirect off them, or > 3 redirects   |
| download_failed           | yes   | the image URL answered non-2xx or not an image content type |
| image_too_large           | no    | image or body over QWEN_IMAGE_MAX_DOWNLOAD_BYTES            |

Undecodable images (truncated PNG, decompression bombs) are refused later by
generation.imaging (`invalid_image`). The API key is sent only in the Authorization header, to
the API's own origin, and never appears in a log line or an error message.
"""

from generation.backends.remote.client import RemoteBackend

__all__ = ["RemoteBackend"]
