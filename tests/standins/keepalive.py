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

For a benchmark's measured run it can replay recorded answers (:meth:`KeepAliveServer.
record_answers`, then :meth:`~KeepAliveServer.replay_answers`): a real endpoint's CPU is not on the
client's machine, but moto's ~2 ms a request is, on the same cores as the client and queued on
the benchmark process's one interpreter lock, which delays answers past their latency. A read
of a stand-in at rest (no fault pending, nothing in progress) answers the same bytes every time,
so the answer recorded in a priming run is the one moto would give again; the stand-in still
counts each replayed request as a call.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from typing import Any, NamedTuple
from urllib.parse import unquote

# Which threads are serving a request this server paces: the stand-in adds no latency of its
# own to those (tests/standins/eks_addons.py asks :func:`paced`).
_serving = threading.local()


def paced() -> bool:
    """Whether the current thread serves a request whose answer this server paces."""
    return bool(getattr(_serving, "paced", False))


def serving(operation: str) -> None:
    """The stand-in names the operation of the request this thread serves, when moto's answer is
    served as it is (no fault, no rewrite): only such an answer is recorded, and it keeps the name,
    so that its replays are counted as calls of that operation."""
    _serving.operation = operation


# (access key and region of the signature, path with query): a signed EKS read, as recorded.
ReadKey = tuple[str, str, str]


class _Recorded(NamedTuple):
    status: str
    headers: list[tuple[str, str]]
    data: bytes
    operation: str  # the stand-in's name for it


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
    parts = _credential(authorization)
    return f"{parts[2]}/eks" if parts else None


def _credential(authorization: str) -> list[str]:
    """access key, date, region, "eks", "aws4_request" of an EKS call's SigV4 header, else []."""
    credential = authorization.split(",", 1)[0].split("Credential=", 1)
    parts = credential[1].split("/") if len(credential) == 2 else []
    if len(parts) == 5 and parts[3] == "eks" and parts[4] == "aws4_request":
        return parts
    return []


def read_key(method: str, path: str, authorization: str) -> ReadKey | None:
    """What identifies a signed EKS read (EKS reads are GETs; the account and region come from
    the signature, the cluster and the query from the path), else None."""
    parts = _credential(authorization) if method == "GET" else []
    return (parts[0], parts[2], path) if parts else None


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
        status, headers, data = self._answered(body)
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

    def _answered(self, body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
        """moto's answer, or, while replaying, the recorded answer of the same read."""
        server = self.server
        if not (server.recording or server.replaying):
            return self._call(body)
        if self.command != "GET":
            return self._written(body)
        key = read_key(self.command, self.path, self.headers.get("Authorization") or "")
        recorded = server.answers.get(key) if key is not None and server.replaying else None
        if recorded is not None and server.count_replayed(recorded.operation):
            with server.counting:
                server.replayed += 1
            return recorded.status, recorded.headers, recorded.data
        return self._read(key, body)

    def _read(self, key: ReadKey | None, body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
        """moto's answer to a read, recorded while recording (a signed EKS read's, as it is)."""
        server = self.server
        with server.counting:
            quiet = server.writing == 0
            writes = server.writes
        _serving.operation = None
        status, headers, data = self._call(body)
        operation = getattr(_serving, "operation", None)
        if key is not None and server.recording and operation is not None:
            with server.counting:
                # Only an answer no write overlapped: one made before a write and sent after it
                # would be replayed as if the write had not happened.
                if quiet and server.writes == writes:
                    server.answers[key] = _Recorded(status, headers, data, operation)
        return status, headers, data

    def _written(self, body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
        """A write (any request but a read): what was recorded may no longer be the answer."""
        server = self.server
        with server.counting:
            server.writes += 1
            server.writing += 1
            server.answers.clear()
        try:
            return self._call(body)
        finally:
            with server.counting:
                server.writing -= 1

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
        count_replayed: Callable[[str], bool],
    ) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self.latency = latency
        self.sleep = sleep
        self.count_replayed = count_replayed
        self.counting = threading.Lock()
        self.connections = 0  # accepted since the start
        self.in_flight = 0
        self.most_in_flight = 0  # requests being served at once, at most (a benchmark's shape)
        self.recording = False
        self.replaying = False
        self.answers: dict[ReadKey, _Recorded] = {}
        self.replayed = 0  # requests answered from the record
        self.writes = 0  # writes begun while recording or replaying (a read's answer spans none)
        self.writing = 0  # writes being served


class KeepAliveServer:
    """The interface of moto's ThreadedMotoServer (start, get_host_and_port, stop)."""

    def __init__(
        self,
        app: WsgiApp,
        *,
        host: str = "127.0.0.1",
        latency: Callable[[], float],
        sleep: Callable[[float], None] = time.sleep,
        count_replayed: Callable[[str], bool] = lambda operation: False,
    ) -> None:
        """``count_replayed(operation)``: count a request answered from the record as a call of
        ``operation``; False when it must be served instead (say, a fault is pending for it)."""
        self._server = _Server((host, 0), app, latency, sleep, count_replayed)
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

    @property
    def replayed(self) -> int:
        """Requests answered from the record since the start or :meth:`reset_counts`."""
        return self._server.replayed

    def reset_counts(self) -> None:
        with self._server.counting:
            self._server.most_in_flight = self._server.in_flight
            self._server.replayed = 0

    def record_answers(self) -> None:
        """From now on, remember the answer of every signed EKS read (what was recorded before
        is dropped); any other request than a read drops the record."""
        self._server.answers = {}
        self._server.replaying = False
        self._server.recording = True

    def replay_answers(self) -> None:
        """From now on, answer each recorded read from the record, paced as moto's answers; other
        requests are served by moto (a write still drops the record). Only for a stand-in at rest
        (no fault pending, no update or creation in progress): its reads' answers cannot change."""
        self._server.recording = False
        self._server.replaying = True

    def forget_answers(self) -> None:
        """Serve every request by moto again, and drop the record."""
        self._server.recording = self._server.replaying = False
        self._server.answers = {}

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
