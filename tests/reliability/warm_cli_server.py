"""The warm CLI's server (see ``warm_cli.py``): run as a script, never imported by the tests.

It imports eksaddon, the CLI and both SDKs once, as the console script would on its way to the
first request, then, for each request that arrives on the socket (file descriptor ``argv[1]``),
forks a child that becomes one ``eksaddon`` process: its own session, the given stdin, stdout
and stderr, environment and arguments, and the console script's entry point. The server starts
no thread, so forking it is safe; it runs one child at a time and reports its wait status.
"""

from __future__ import annotations

import json
import os
import socket
import sys

# As the console script names itself: eksaddon then installs its early signal handlers here,
# and every child inherits them, as a freshly started ``eksaddon`` would have them.
sys.argv[0] = "eksaddon"

import importlib  # noqa: E402
import pkgutil  # noqa: E402

import boto3  # noqa: E402, F401 - for its import's cost
import kubernetes.client  # noqa: E402
import kubernetes.config  # noqa: E402 - for its import's cost

import eksaddon  # noqa: E402
import eksaddon.cli  # noqa: E402

# The API classes eksaddon's Kubernetes gateway uses.
APIS = ("CoreV1Api", "AppsV1Api", "PolicyV1Api", "RbacAuthorizationV1Api", "ApiextensionsV1Api")


def warm_up() -> None:
    """What a run would import on its way: every eksaddon module (the CLI imports most lazily)
    and the Kubernetes client's API classes, which the client loads only when first named (its
    models with them: over a second of CPU under load, more than all the other imports)."""
    for module in pkgutil.walk_packages(eksaddon.__path__, "eksaddon."):
        importlib.import_module(module.name)
    for api in APIS:
        getattr(kubernetes.client, api)


MAX_MESSAGE = 1 << 20


def become_the_cli(argv: list[str], env: dict[str, str], fds: list[int]) -> None:
    """In the child: the process the console script would be, then its exit."""
    code = 1
    try:
        os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["eksaddon", *argv]
        eksaddon.cli.main()  # argv None: the console script's path, to its sys.exit
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(channel: socket.socket) -> None:
    while True:
        message, fds, _, _ = socket.recv_fds(channel, MAX_MESSAGE, 3)
        if not message:  # the test process closed its end
            return
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            channel.close()
            become_the_cli(request["argv"], request["env"], fds)
        for fd in fds:
            os.close(fd)
        channel.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        channel.sendall(json.dumps({"status": status}).encode() + b"\n")


if __name__ == "__main__":
    warm_up()
    serve(socket.socket(fileno=int(sys.argv[1])))
