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
    """Session cookie with CSRF (django-ninja enforces CSRF for cookie auth).

    Only a signed-in session is checked for CSRF: a request with no session, or one that
    presents an Authorization header (a bad API key), is simply unauthenticated (401), not a
    CSRF failure (403).
    """

    def __call__(self, request):
        if request.headers.get("Authorization") or not request.user.is_authenticated:
            return None
        return super().__call__(request)


# Machine clients first; a signed-in browser works too.
api_auth = [ApiKeyAuth(), BrowserSessionAuth()]
