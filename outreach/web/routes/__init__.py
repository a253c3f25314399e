"""The console's pages and endpoints, one module per page; each has a ``ROUTES`` list."""
