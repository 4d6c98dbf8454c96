"""The Python client and its CLI: the twin of client_web/app/ (docs/ARCHITECTURE.md)."""
