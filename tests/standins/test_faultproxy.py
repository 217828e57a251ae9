"""The fault proxy's own contract: what it forwards arrives whole, without a delay of its own."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .faultproxy import FaultProxy, fault_proxy


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        body = f"you asked for {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        with fault_proxy(f"http://127.0.0.1:{upstream.server_address[1]}") as running:
            yield running
    finally:
        upstream.shutdown()
        upstream.server_close()


def test_an_answer_is_forwarded_whole_on_a_kept_connection(proxy: FaultProxy) -> None:
    host, port = proxy.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        for path in ("/first", "/second"):
            connection.request("GET", path)
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, f"you asked for {path}".encode())
    finally:
        connection.close()


def test_the_proxy_sends_without_nagles_delay(proxy: FaultProxy) -> None:
    """An answer is two writes (headers, body): with Nagle's algorithm on the proxy's side of the
    connection the body waited for the client's delayed ACK, 40 ms on every proxied request."""
    host, port = proxy.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
        accepted = list(proxy._server.open) if proxy._server is not None else []
        assert accepted, "the proxy holds the kept-alive connection open"
        for sock in accepted:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        connection.close()
