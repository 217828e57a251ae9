"""A fault-injecting HTTP front for a stand-in: the EKS stand-in (moto) or the kube-apiserver.

The stand-ins answer correctly; the network between eksaddon and them does not always. This proxy
listens on plain HTTP on 127.0.0.1, forwards every request to its upstream (http, or https with
the stand-in's CA) and, for requests matching a rule, misbehaves the way networks and servers do:

  reset          close the connection without an answer (TCP RST): a connection reset
  lose-response  forward the request (the upstream acts on it), then reset: a lost answer
  hang           answer nothing until the client gives up (its read timeout) or ``seconds``
                 pass, then close: a client read timeout
  status         answer ``status`` with ``body`` instead of forwarding (a 5xx, a 429)
  gate           hold the request until the test opens the gate, then forward it: a request
                 in flight at a moment the test chooses (to send a signal, or kill the process)
  away           reset, and stop listening for ``seconds`` (then listen again): an API server
                 that went away and came back

``down()`` stops listening (connections are refused: an API server that went away) and ``up()``
listens again on the same port. Rules fire ``times`` times, then let requests through.

``later`` (a test's :meth:`virtual_clock.FastForwardClock.call_later`) decides when an ``away``
API server comes back: by default after ``seconds`` of real time; on a fast-forwarded clock after
``seconds`` of the clock's time, so that the code under test, whose waits then take no time,
still sees the server gone for as long as its backoff says. ``held`` (a test's
:meth:`virtual_clock.FastForwardClock.count_in_full`) is told how many real seconds each hung
request was held: the client's read timeout, which the clock then counts in full.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import urlsplit

Action = Literal["reset", "lose-response", "hang", "status", "gate", "away"]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host"}
SHUTDOWN_POLL = 0.02  # seconds: how soon the serving thread sees down() (see up())
_IDLE: dict[tuple[str, int, str | None], list[http.client.HTTPConnection]] = {}
_IDLE_LOCK = threading.Lock()
# Run an action after this many seconds (of real time, or of a test's clock).
Later = Callable[[float, Callable[[], None]], object]
# Told how many real seconds a hung request was held (until its client gave up).
Held = Callable[[float], None]


@dataclass
class Rule:
    """Requests whose method matches and whose path (with query) matches ``path`` misbehave."""

    method: str
    path: str  # a regular expression, searched in the request target
    action: Action
    times: int = 1
    skip: int = 0  # let this many matching requests through first
    status: int = 500
    body: bytes = b'{"message": "injected by the fault proxy"}'
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 5.0
    hits: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)  # a matching request came
    gate: threading.Event = field(default_factory=threading.Event)  # set: let gated requests go

    def matches(self, method: str, target: str) -> bool:
        return self.times > 0 and method == self.method and re.search(self.path, target) is not None

    def spend(self) -> bool:
        """Count a matching request; True when this one must misbehave."""
        if self.skip > 0:
            self.skip -= 1
            return False
        self.times -= 1
        self.hits += 1
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.open: set[socket.socket] = set()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.open.discard(request)
        super().shutdown_request(request)

    def cut_all(self) -> None:
        """Cut kept-alive connections too: a server that went away answers on none of them."""
        for connection in list(self.open):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: object, client_address: object) -> None:
        """Connections the proxy cuts on purpose raise in the handler: not worth a traceback."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # The answer goes out as two writes (headers, then body). With Nagle's algorithm the body
    # waits for the client's delayed ACK of the headers: 40 ms on every proxied request, which
    # was most of a fault-matrix case's time.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads ``FaultProxy.requests`` instead."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        rule = proxy.take(self.command, self.path)
        if rule is None:
            self._answer(*proxy.forward(self.command, self.path, self.headers.items(), body))
            return
        rule.arrived.set()
        if rule.action == "reset":
            self._reset()
        elif rule.action == "lose-response":
            proxy.forward(self.command, self.path, self.headers.items(), body)
            self._reset()
        elif rule.action == "hang":
            proxy.held(self._hold(rule.seconds))
            self._reset()
        elif rule.action == "away":
            self._reset()
            proxy.away(rule.seconds)
        elif rule.action == "status":
            headers = {"Content-Type": "application/json", **rule.headers}
            self._answer(rule.status, list(headers.items()), rule.body)
        else:  # gate
            rule.gate.wait(60)
            self._answer(*proxy.forward(self.command, self.path, self.headers.items(), body))

    def _hold(self, seconds: float) -> float:
        """Answer nothing until the client closes the connection (its read timeout ran out),
        ``seconds`` pass or the proxy closes; the real seconds the request was held."""
        started = time.monotonic()
        proxy = self.server.proxy
        while not proxy.closing.is_set():
            left = started + seconds - time.monotonic()
            if left <= 0:
                break
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.01))
            if not readable:
                continue
            try:
                gave_up = self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                gave_up = True
            if gave_up:
                break
            proxy.closing.wait(left)  # it sent more (it may pipeline): hold for the rest
            break
        return time.monotonic() - started

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST: the client sees a reset, not EOF.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        *,
        ca_file: str | None = None,
        later: Later | None = None,
        held: Held | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or (443 if parts.scheme == "https" else 80)
        self.context = (
            ssl.create_default_context(cafile=ca_file) if parts.scheme == "https" else None
        )
        self.rules: list[Rule] = []
        self.requests: list[tuple[str, str]] = []  # (method, target) of every request seen
        self.closing = threading.Event()
        # Kept-alive upstream connections, shared by the proxies of one upstream in this process.
        self._idle = _IDLE.setdefault((self.upstream_host, self.upstream_port, ca_file), [])
        self._later: Later = later or self._after_real_seconds
        self.held: Held = held or (lambda seconds: None)
        self._lock = threading.Lock()
        self._cycle = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.up()
        self.warm()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- faults --------------------------------------------------------------------------------

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            for rule in self.rules:
                rule.gate.set()
            self.rules.clear()

    def take(self, method: str, target: str) -> Rule | None:
        """The first live rule matching this request, its count spent; None to forward."""
        with self._lock:
            self.requests.append((method, target))
            for rule in self.rules:
                if rule.matches(method, target):
                    return rule if rule.spend() else None
        return None

    def count(self, method: str, path: str) -> int:
        with self._lock:
            return sum(1 for m, t in self.requests if m == method and re.search(path, t))

    def down(self) -> None:
        """Stop listening: new connections are refused until :meth:`up`."""
        with self._cycle:
            server, self._server = self._server, None
            if server is not None:
                server.shutdown()
                server.server_close()
                server.cut_all()
            if self._thread is not None:
                self._thread.join(timeout=10)

    def up(self) -> None:
        """Listen (again, on the same port once one was chosen); nothing if listening already."""
        with self._cycle:
            if self._server is not None:
                return
            self._server = _Server(self.port, self)
            self.port = self._server.server_address[1]
            # serve_forever looks for shutdown() between polls: at its default 0.5 s, closing
            # a proxy waited 0.25 s on average (a world has two: every fault case paid it).
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": SHUTDOWN_POLL},
                daemon=True,
            )
            self._thread.start()

    def away(self, seconds: float) -> None:
        """Stop listening now and listen again after ``seconds`` (from another thread: a handler
        cannot wait for its own server to shut down). ``closing`` cancels the comeback."""

        def cycle() -> None:
            self.down()
            self._later(seconds, self._come_back)

        threading.Thread(target=cycle, daemon=True).start()

    def _come_back(self) -> None:
        if not self.closing.is_set():
            self.up()

    def _after_real_seconds(self, seconds: float, action: Callable[[], None]) -> None:
        def wait() -> None:
            if not self.closing.wait(seconds):
                action()

        threading.Thread(target=wait, daemon=True).start()

    def close(self) -> None:
        self.closing.set()
        self.clear()
        self.down()

    # --- forwarding ----------------------------------------------------------------------------

    def forward(
        self, method: str, target: str, headers: object, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        sent = {
            name: value
            for name, value in headers  # type: ignore[attr-defined]
            if name.lower() not in HOP_BY_HOP
        }
        sent["Host"] = f"{self.upstream_host}:{self.upstream_port}"
        connection, reused = self._connection()
        try:
            try:
                connection.request(method, target, body=body or None, headers=sent)
                response = connection.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused:
                    raise
                # The upstream closed a kept-alive connection while it was idle: the request
                # never reached it, so send it once more on a new one.
                connection.close()
                connection, reused = self._connection(fresh=True)
                connection.request(method, target, body=body or None, headers=sent)
                response = connection.getresponse()
            answer = response.status, response.getheaders(), response.read()
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            with _IDLE_LOCK:
                self._idle.append(connection)
        return answer

    def _connection(self, *, fresh: bool = False) -> tuple[http.client.HTTPConnection, bool]:
        """A kept-alive upstream connection, or a new one: a TLS handshake with the API server
        for every request would cost more than the request (and load the machine)."""
        if not fresh:
            with _IDLE_LOCK:
                if self._idle:
                    return self._idle.pop(), True
        if self.context is not None:
            return http.client.HTTPSConnection(
                self.upstream_host, self.upstream_port, context=self.context, timeout=60
            ), False
        return http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60), False

    def warm(self) -> None:
        """Open one upstream connection now (its TLS handshake, which on a loaded machine takes a
        good part of a second, is then not paid inside a request eksaddon times out)."""
        with _IDLE_LOCK:
            if self._idle:
                return
        connection, _ = self._connection(fresh=True)
        try:
            connection.connect()
        except OSError:
            connection.close()
            return
        with _IDLE_LOCK:
            self._idle.append(connection)


@contextmanager
def fault_proxy(
    upstream: str,
    *,
    ca_file: str | None = None,
    later: Later | None = None,
    held: Held | None = None,
) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream, ca_file=ca_file, later=later, held=held)
    try:
        yield proxy
    finally:
        proxy.close()
