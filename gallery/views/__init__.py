"""Gallery pages, one module per concern; gallery/urls.py names the module of every view.

access (fetch an object for the request's user or 404), grid (the grid, filters, compare),
images (one image and its actions), collections, shares (links and the anonymous /s/ pages),
bulk (the grid's selection), reports and params (request helpers the pages share).
"""
