"""Keeping one-time secrets that travel in URLs out of the access log.

A password link (``/ui/setup?token=…``) and an upstream provider's authorization code
(``/oauth/upstream/callback?code=…``) arrive in a query string, which the HTTP server's
access log would otherwise write down in clear.
"""

from __future__ import annotations

import logging

__all__ = ["RedactQueries", "install"]

# Paths whose query carries a secret; their query is never logged.
SECRET_QUERY_PATHS = ("/ui/setup", "/oauth/upstream/callback")


class RedactQueries(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.access: (client, method, path with query, http version, status)
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, _, query = args[2].partition("?")
            if query and path in SECRET_QUERY_PATHS:
                record.args = (*args[:2], f"{path}?[redacted]", *args[3:])
        return True


def install() -> None:
    logging.getLogger("uvicorn.access").addFilter(RedactQueries())
