"""An HTTP/1.1 server with keep-alive connections for moto's WSGI application, for benchmarks.

moto's ThreadedMotoServer runs werkzeug's development server, which answers every request with
``Connection: close`` and starts a thread per connection: each API call then pays a TCP connect
and a socket on the client, and a thread start and a drain on the server, that no real endpoint
makes a client pay (a real EKS endpoint keeps its TLS connections alive). A fleet benchmark of
hundreds of calls measured that cost, not eksaddon's. This server keeps each client connection
open for as long as the client wants (one thread per connection, as botocore's pool opens them).

It also paces the answers for a benchmark's latency: each answer leaves ``latency()`` seconds
after its request arrived, moto's own processing included, as a real endpoint's latency would be
measured; with the latency added on top (werkzeug's server), the stand-in's CPU time, queued on its
one interpreter lock, was counted as the network's. Requests whose body is not given by
Content-Length (chunked uploads) are refused with 411: EKS's JSON calls never send one.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from typing import Any
from urllib.parse import unquote

# Which threads are serving a request this server paces: the stand-in adds no latency of its
# own to those (tests/standins/eks_addons.py asks :func:`paced`).
_serving = threading.local()


def paced() -> bool:
    """Whether the current thread serves a request whose answer this server paces."""
    return bool(getattr(_serving, "paced", False))


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class EksDispatch:
    """moto's DomainDispatcherApplication, with the application for signed EKS calls remembered.

    moto works out each request's service anew, listing its ~160 service packages on disk (about
    a third of its CPU time per EKS call); an EKS call's service and region are in its signature's
    credential scope, so the application found for the first one serves the next. Every other
    request is dispatched by moto as before.
    """

    def __init__(self, dispatcher: Any) -> None:
        self._dispatcher = dispatcher
        self._apps: dict[str, WsgiApp] = {}

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        scope = _eks_scope(environ.get("HTTP_AUTHORIZATION") or "")
        if scope is None:
            answer: Iterable[bytes] = self._dispatcher(environ, start_response)
            return answer
        app = self._apps.get(scope)
        if app is None:
            app = self._apps.setdefault(scope, self._dispatcher.get_application(environ))
        return app(environ, start_response)


def _eks_scope(authorization: str) -> str | None:
    """``region/eks`` from a SigV4 Authorization header of an EKS call, else None."""
    credential = authorization.split(",", 1)[0].split("Credential=", 1)
    parts = credential[1].split("/") if len(credential) == 2 else []
    if len(parts) == 5 and parts[3] == "eks" and parts[4] == "aws4_request":
        return f"{parts[2]}/eks"
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client says "Connection: close"
    # The headers and the body are two writes: with Nagle's algorithm the body would wait for
    # the client's delayed ACK (40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.counting:
            self.server.connections += 1

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a benchmark makes thousands of requests."""

    def _serve(self) -> None:
        arrived = time.perf_counter()
        with self.server.counting:
            self.server.in_flight += 1
            self.server.most_in_flight = max(self.server.most_in_flight, self.server.in_flight)
        try:
            self._answer(arrived)
        finally:
            with self.server.counting:
                self.server.in_flight -= 1

    def _answer(self, arrived: float) -> None:
        if self.headers.get("Transfer-Encoding"):
            self.send_error(411, "Content-Length required")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, data = self._call(body)
        remaining = self.server.latency() - (time.perf_counter() - arrived)
        if remaining > 0:
            self.server.sleep(remaining)
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "server", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def _call(self, body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
        path, _, query = self.path.partition("?")
        host, _, port = (self.headers.get("Host") or "").partition(":")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, "latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": self.path,
            "REQUEST_URI": self.path,
            "SERVER_NAME": host or self.server.server_address[0],
            "SERVER_PORT": port or str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ[key] = value
            elif key != "CONTENT_LENGTH":
                environ[f"HTTP_{key}"] = value
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            started[:] = [status, headers]
            return lambda chunk: None  # moto never writes through it

        _serving.paced = True
        try:
            answer = self.server.app(environ, start_response)
            try:
                data = b"".join(answer)
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()
        finally:
            _serving.paced = False
        return started[0], started[1], data


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a connection the client keeps open never holds up the end

    def __init__(
        self,
        address: tuple[str, int],
        app: WsgiApp,
        latency: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self.latency = latency
        self.sleep = sleep
        self.counting = threading.Lock()
        self.connections = 0  # accepted since the start
        self.in_flight = 0
        self.most_in_flight = 0  # requests being served at once, at most (a benchmark's shape)


class KeepAliveServer:
    """The interface of moto's ThreadedMotoServer (start, get_host_and_port, stop)."""

    def __init__(
        self,
        app: WsgiApp,
        *,
        host: str = "127.0.0.1",
        latency: Callable[[], float],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._server = _Server((host, 0), app, latency, sleep)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def connections(self) -> int:
        """Client connections accepted since the start."""
        return self._server.connections

    @property
    def most_in_flight(self) -> int:
        """The most requests served at once since the start or :meth:`reset_counts`."""
        return self._server.most_in_flight

    def reset_counts(self) -> None:
        with self._server.counting:
            self._server.most_in_flight = self._server.in_flight

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
