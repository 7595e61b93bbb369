"""A recording HTTP proxy in front of moto: who signed each AWS request, and when.

Providers and the worker's STS client talk to it as their AWS endpoint; it forwards
every request to moto unchanged (Host header included, so SigV4 signatures still
verify where moto enforces IAM) and records the access key id that signed it, whether
a session token came with it, and the time. ``delay`` slows every forwarded request
down, to stretch an apply over credential renewals; ``sts_error`` answers every STS
call with that error code instead of forwarding it (what STS says when the caller's
own credentials have expired).
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["AwsProxy", "Signed", "aws_proxy"]

_CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/\d+/[^/]+/([a-z0-9-]+)/")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


@dataclass(frozen=True)
class Signed:
    at: float
    method: str
    path: str
    service: str
    access_key_id: str
    session_token: bool


class AwsProxy:
    def __init__(self, upstream: str) -> None:
        target = urlsplit(upstream)
        self.upstream = (target.hostname or "127.0.0.1", target.port or 80)
        self.records: list[Signed] = []
        self.delay = 0.0
        self.sts_error: str | None = None
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

            def _forward(self) -> None:
                body = self._body()
                signed = proxy._record(
                    self.command,
                    self.path,
                    self.headers.get("Authorization", ""),
                    "X-Amz-Security-Token" in self.headers,
                )
                if proxy.delay:
                    time.sleep(proxy.delay)
                if signed is not None and signed.service == "sts" and proxy.sts_error:
                    self._refuse(proxy.sts_error)
                    return
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if body is not None:
                    headers["Content-Length"] = str(len(body))
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                head = self.command == "HEAD"  # keeps the length of the body it omits
                for key, value in answer.getheaders():
                    if key.lower() not in _HOP_BY_HOP and (head or key.lower() != "content-length"):
                        self.send_header(key, value)
                if not head:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if not head:
                    self.wfile.write(payload)
                upstream.close()

            def _refuse(self, code: str) -> None:
                payload = (
                    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
                    f"<Type>Sender</Type><Code>{code}</Code><Message>{code} (test)</Message>"
                    "</Error><RequestId>test</RequestId></ErrorResponse>"
                ).encode()
                self.send_response(400)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _body(self) -> bytes | None:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        chunk = self.rfile.read(size)
                        self.rfile.readline()
                        if size == 0:
                            break
                        chunks.append(chunk)
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else None

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _record(self, method: str, path: str, authorization: str, token: bool) -> Signed | None:
        match = _CREDENTIAL.search(authorization)
        if match is None:
            return None
        signed = Signed(time.time(), method, path, match.group(2), match.group(1), token)
        with self._lock:
            self.records.append(signed)
        return signed

    def signed(self, service: str | None = None, since: float = 0.0) -> list[Signed]:
        with self._lock:
            return [
                r
                for r in self.records
                if r.at >= since and (service is None or r.service == service)
            ]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def aws_proxy(upstream: str) -> Iterator[AwsProxy]:
    proxy = AwsProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()
