"""django-ninja authentication: `Authorization: Bearer <api key>` or the browser session."""

from ninja.security import HttpBearer, SessionAuth

from accounts.keys import api_key_authenticate


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request, token: str):
        key = api_key_authenticate(secret=token)
        if key is None:
            return None
        request.user = key.user
        request.api_key = key
        return key.user


class BrowserSessionAuth(SessionAuth):
    """Session cookie with CSRF (django-ninja enforces CSRF for cookie auth)."""


# Machine clients first; a signed-in browser works too.
api_auth = [ApiKeyAuth(), BrowserSessionAuth()]
