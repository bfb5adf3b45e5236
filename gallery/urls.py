"""Gallery pages: grid, detail, compare, collections, share links."""

urlpatterns: list = []
