"""Dashboard pages, one module per stage or role (see flexplatform/web/routes.py)."""
