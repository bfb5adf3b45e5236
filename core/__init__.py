"""The small shared base every app may import: the API error envelope, HTTP and time helpers.

It imports no app of ours.
"""
