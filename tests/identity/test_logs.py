"""One-time secrets in URLs stay out of the access log."""

from __future__ import annotations

import logging

from api.logs import RedactQueries


def _logged(path: str) -> str:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )
    RedactQueries().filter(record)
    return record.getMessage()


def test_setup_tokens_and_upstream_codes_are_redacted() -> None:
    assert "s3cret" not in _logged("/ui/setup?token=s3cret")
    assert "/ui/setup?[redacted]" in _logged("/ui/setup?token=s3cret")
    assert "c0de" not in _logged("/oauth/upstream/callback?code=c0de&state=x")
    assert "/ui/projects?tab=history" in _logged("/ui/projects?tab=history")
