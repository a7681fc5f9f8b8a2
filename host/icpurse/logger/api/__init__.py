"""The logger's HTTP API: the Starlette application around a LoggerService (app.py), its
routes grouped by what they serve, and the OpenAPI description. No SQL here."""

from icpurse.logger.api.app import build_app

__all__ = ["build_app"]
