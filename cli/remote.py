"""How CLI commands reach a running server: its REST API with a bearer token."""

from __future__ import annotations

import json
import os
from typing import Any, NoReturn

import httpx
import typer

from settings import Settings

__all__ = ["Remote", "fail", "print_json"]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


class Remote:
    """A REST client for the CLI; the server records the actor as acting ``via: cli``."""

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.url = (url or os.environ.get("INTENT_URL") or Settings().base_url).rstrip("/")
        self.token = token or os.environ.get("INTENT_TOKEN")
        if not self.token:
            fail(
                "no token: set INTENT_TOKEN or pass --token (make your own key on the web "
                "UI's Access page, or `intent tokens create --name ci --role space-writer` "
                "prints one for a machine identity)"
            )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "X-Intent-Via": "cli"}
        try:
            response = httpx.request(
                method, f"{self.url}/api/v1{path}", headers=headers, timeout=120, **kwargs
            )
        except httpx.HTTPError as exc:
            fail(f"cannot reach intent at {self.url}: {exc}; is it running (`intent up`)?")
        if response.status_code >= 400:
            try:
                body = response.json()
                message = body.get("message") or body.get("detail") or response.text
            except ValueError:
                message = response.text
            fail(f"{response.status_code}: {message}")
        if response.status_code == 204:
            return None
        return response.json()
