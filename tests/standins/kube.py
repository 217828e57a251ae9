"""A real kube-apiserver, with its own etcd, on 127.0.0.1 for the Kubernetes gateway's tests.

The binaries come from `.ci/kube-apiserver.sh` (Debian's kubernetes 1.20.2 source package and
etcd-server 3.4), found in `$KUBE_CACHE/bin` (default `~/.cache/eksaddon-kube/bin`). Without
them the tests that use these fixtures are skipped, or fail when `EKSADDON_REQUIRE_KUBE=1`.

There is an API server and etcd only: no controller manager, scheduler or kubelet. Nothing
creates pods for a DaemonSet, moves its status, schedules pods, deletes namespaces (they stay
Terminating) or collects garbage. Tests create Nodes and pods themselves and move a DaemonSet's
status through its `/status` subresource (`make_node`, `make_pod`, `set_daemonset_status`,
`set_pod_status`), or let a stand-in controller do it: tests/standins/controller.py for a
DaemonSet, tests/standins/deployment_controller.py for a Deployment (ReplicaSets, pods, status)
and its PodDisruptionBudgets' status. PodDisruptionBudgets are policy/v1beta1 on this 1.20
server (policy/v1 came with 1.21). The ServiceAccount admission plugin is off, because no controller creates
service accounts or their token secrets, so pods may name a service account that does not exist.

Fixtures (import them into a test module, or list this module in a conftest's imports):
  kube_apiserver  session-wide KubeApiServer (one etcd and one kube-apiserver for the whole run)
  kube_fresh      the same server with no DaemonSets, Deployments, ReplicaSets,
                  PodDisruptionBudgets or pods in kube-system and no Nodes
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import pytest
import yaml
from kubernetes import client as k8s

_Model = TypeVar("_Model", bound="_FromDict")


class _FromDict(Protocol):
    @classmethod
    def from_dict(cls, obj: dict[str, Any] | None) -> Any: ...


REQUIRE_ENV = "EKSADDON_REQUIRE_KUBE"
CONTEXT = "standin"
FORBIDDEN_CONTEXT = "standin-forbidden"
ADMIN_USER = "standin-admin"
FORBIDDEN_USER = "standin-nobody"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
AWS_NODE_IMAGE = "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.15.0-eksbuild.2"
STARTUP_TIMEOUT = 60.0
LOOPBACK = "127.0.0.1"

# The API groups the tests and eksaddon use, and those the server itself needs: apiregistration
# (the aggregator's APIService of every group), scheduling (the Priority admission plugin and its
# system priority classes), authentication and authorization (no storage; TokenReview and
# SubjectAccessReview). Every other group costs start-up CPU (storage, OpenAPI) and informers.
SERVED_GROUPS = (
    "api/v1",
    "apps/v1",
    "policy/v1beta1",  # PodDisruptionBudgets: policy/v1 came with 1.21
    "rbac.authorization.k8s.io/v1",
    "apiextensions.k8s.io/v1",  # the vpc-cni manifest's CustomResourceDefinition
    "apiregistration.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "authentication.k8s.io/v1",
    "authorization.k8s.io/v1",
)
# Off: ServiceAccount, because no controller creates service accounts or their token secrets (see
# the module doc); the others watch a group not served above (webhook configurations, storage,
# runtime and ingress classes) or act only on objects no test makes (quotas, limit ranges, volume
# claims, certificate requests). On, since they change the objects tests read: NamespaceLifecycle,
# TaintNodesByCondition (Nodes), Priority and DefaultTolerationSeconds (pods).
DISABLED_ADMISSION = (
    "ServiceAccount",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionWebhook",
    "DefaultStorageClass",
    "DefaultIngressClass",
    "RuntimeClass",
    "PersistentVolumeClaimResize",
    "StorageObjectInUseProtection",
    "CertificateApproval",
    "CertificateSigning",
    "CertificateSubjectRestriction",
    "ResourceQuota",
    "LimitRanger",
)
# What makes one server cost ~7 s of CPU in a 6-minute run instead of ~16 s (docs/performance.md):
# half the start-up (fewer groups) and a fifth of the idle CPU, which priority and fairness (its
# configuration controller and flow schemas) and the watch cache (a reflector on etcd for every
# resource) spent while the server waited between tests. Nothing reads through the watch cache:
# the client's reads and lists ask for the latest state, which the server then reads from etcd.
CHEAP_FLAGS = (
    f"--runtime-config=api/all=false,{','.join(f'{group}=true' for group in SERVED_GROUPS)}",
    f"--disable-admission-plugins={','.join(DISABLED_ADMISSION)}",
    "--enable-priority-and-fairness=false",
    "--watch-cache=false",
)


def kube_cache() -> Path:
    """Where `.ci/kube-apiserver.sh` puts its output: `$KUBE_CACHE`, else ~/.cache/eksaddon-kube."""
    configured = os.environ.get("KUBE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "eksaddon-kube"


@dataclass(frozen=True)
class KubeBinaries:
    kube_apiserver: Path
    etcd: Path


def find_binaries() -> KubeBinaries | str:
    """The two binaries, or the reason they cannot be used."""
    bin_dir = kube_cache() / "bin"
    found = KubeBinaries(kube_apiserver=bin_dir / "kube-apiserver", etcd=bin_dir / "etcd")
    for binary in (found.kube_apiserver, found.etcd):
        if not os.access(binary, os.X_OK):
            return (
                f"{binary} not found: run .ci/kube-apiserver.sh to build kube-apiserver and etcd "
                f"into {bin_dir} (set KUBE_CACHE to use another cache directory)"
            )
        try:
            subprocess.run([str(binary), "--version"], capture_output=True, check=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as error:
            return f"{binary} --version failed ({error}): rebuild it with .ci/kube-apiserver.sh"
    return found


@dataclass
class KubeApiServer:
    """A running kube-apiserver: where it listens and how to authenticate to it.

    url              https://127.0.0.1:<port>
    token            bearer token of a user in system:masters (cluster admin)
    forbidden_token  bearer token of an authenticated user with no RBAC permission at all
    ca_file          PEM CA bundle that verifies the serving certificate (SANs 127.0.0.1, localhost)
    kubeconfig_path  kubeconfig with contexts `standin` (admin, current) and `standin-forbidden`
    version          the server's gitVersion (v1.20.2 from Debian's package)
    work_dir         etcd.log, kube-apiserver.log, tokens.csv, pki/, kubeconfig
    """

    url: str
    token: str
    forbidden_token: str
    ca_file: str
    kubeconfig_path: str
    version: str
    work_dir: Path
    etcd_url: str
    context: str = CONTEXT
    forbidden_context: str = FORBIDDEN_CONTEXT
    _clients: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)
    _shared: k8s.ApiClient | None = field(default=None, repr=False)

    def configuration(self, *, token: str | None = None) -> k8s.Configuration:
        """A client Configuration for this server (admin token unless another is given)."""
        return k8s.Configuration(
            host=self.url,
            api_key={"BearerToken": self.token if token is None else token},
            api_key_prefix={"BearerToken": "Bearer"},
            ssl_ca_cert=self.ca_file,
            # Never through a proxy from the environment: the server is on the loopback.
            proxy="",
            no_proxy=f"{LOOPBACK},localhost",
        )

    def client(self, *, token: str | None = None) -> k8s.ApiClient:
        """A kubernetes ApiClient authenticated as the admin (or with the given token)."""
        # Closed at the end of the session at the latest (or use it as a context manager).
        api = k8s.ApiClient(self.configuration(token=token))
        self._clients.callback(api.__exit__, None, None, None)
        return api

    def shared_client(self) -> k8s.ApiClient:
        """One admin client for the whole session, its connections kept alive (do not close it:
        a new client costs a TLS handshake, which on a loaded machine takes longer than a test's
        requests)."""
        if self._shared is None:
            self._shared = self.client()
        return self._shared

    def forbidden_client(self) -> k8s.ApiClient:
        """A client authenticated as a user no RBAC rule grants anything (expect 403s)."""
        return self.client(token=self.forbidden_token)

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (the CLI) that should talk to this server."""
        loopback = f"{LOOPBACK},localhost"
        return {"KUBECONFIG": self.kubeconfig_path, "NO_PROXY": loopback, "no_proxy": loopback}

    def close_clients(self) -> None:
        self._clients.close()


# --- Keys and certificates ------------------------------------------------------------------------


def _write_pki(directory: Path) -> tuple[Path, Path, Path, Path]:
    """CA, serving certificate and key, service-account key: (ca, cert, key, sa_key)."""
    directory.mkdir(parents=True, exist_ok=True)
    if importlib.util.find_spec("cryptography") is not None:
        return _write_pki_cryptography(directory)
    return _write_pki_openssl(directory)


def _write_pki_cryptography(directory: Path) -> tuple[Path, Path, Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def new_key() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def pem_key(key: rsa.RSAPrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    now = datetime.datetime.now(datetime.timezone.utc)
    validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=7))

    ca_key = new_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eksaddon-standin-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    key = new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes.default.svc"),
                    x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_file, cert_file = directory / "ca.crt", directory / "apiserver.crt"
    key_file, sa_file = directory / "apiserver.key", directory / "service-account.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(pem_key(key))
    sa_file.write_bytes(pem_key(new_key()))
    for private in (key_file, sa_file):
        private.chmod(0o600)
    return ca_file, cert_file, key_file, sa_file


def _write_pki_openssl(directory: Path) -> tuple[Path, Path, Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("neither the cryptography package nor openssl is available to make keys")
    ca_file, ca_key = directory / "ca.crt", directory / "ca.key"
    cert_file, key_file = directory / "apiserver.crt", directory / "apiserver.key"
    csr_file, sa_file = directory / "apiserver.csr", directory / "service-account.key"
    extensions = directory / "apiserver.ext"
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName=DNS:localhost,DNS:kubernetes.default.svc,IP:{LOOPBACK}\n",
        encoding="utf-8",
    )

    binary: str = openssl

    def run(*args: str | Path) -> None:
        subprocess.run([binary, *map(str, args)], check=True, capture_output=True, timeout=60)

    run("genrsa", "-out", ca_key, "2048")
    run("req", "-x509", "-new", "-key", ca_key, "-out", ca_file, "-days", "7",
        "-subj", "/CN=eksaddon-standin-ca",
        "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext", "keyUsage=critical,digitalSignature,keyCertSign,cRLSign")  # fmt: skip
    run("genrsa", "-out", key_file, "2048")
    run("req", "-new", "-key", key_file, "-out", csr_file, "-subj", "/CN=kube-apiserver")
    run("x509", "-req", "-in", csr_file, "-CA", ca_file, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert_file, "-days", "7", "-extfile", extensions)  # fmt: skip
    run("genrsa", "-out", sa_file, "2048")
    return ca_file, cert_file, key_file, sa_file


# --- Processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _opener(ca_file: Path | None = None) -> urllib.request.OpenerDirector:
    """urllib without environment proxies (the servers are on the loopback)."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if ca_file is not None:
        context = ssl.create_default_context(cafile=str(ca_file))
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class _Process:
    def __init__(self, name: str, command: Sequence[str], log_path: Path) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.popen = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal reaches pytest only
        )

    def failure(self, what: str) -> str:
        return f"{self.name} {what}; last lines of {self.log_path}:\n{_tail(self.log_path)}"

    def check_alive(self) -> None:
        code = self.popen.poll()
        if code is not None:
            pytest.fail(self.failure(f"exited with status {code}"), pytrace=False)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=15)
        self._log.close()


def _wait_until(process: _Process, probe: Callable[[], bool], what: str) -> None:
    """Call probe() until it returns True, the process dies, or STARTUP_TIMEOUT passes."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error = ""
    while time.monotonic() < deadline:
        process.check_alive()
        try:
            if probe():
                return
        except (OSError, urllib.error.URLError, ValueError) as error:
            last_error = str(error)
        time.sleep(0.1)
    pytest.fail(
        process.failure(f"not {what} after {STARTUP_TIMEOUT:.0f} s (last error: {last_error})"),
        pytrace=False,
    )


def etcd_data_dir(work: Path) -> Path:
    """Where etcd keeps its data: in memory (/dev/shm) where there is such a file system.

    etcd fsyncs its write-ahead log at every write (3.4 has no --unsafe-no-fsync), so on a disk
    each write a test makes waits for the disk; a stand-in's data need not outlive its session."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return Path(tempfile.mkdtemp(prefix="eksaddon-etcd-", dir=shm))
    return work / "etcd"


def _start_etcd(binary: Path, work: Path, data_dir: Path) -> tuple[_Process, str]:
    client_url = f"http://{LOOPBACK}:{free_port()}"
    peer_url = f"http://{LOOPBACK}:{free_port()}"
    etcd = _Process(
        "etcd",
        [
            str(binary),
            "--name=standin",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=standin={peer_url}",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-outputs=stderr",
        ],
        work / "etcd.log",
    )
    opener = _opener()

    def healthy() -> bool:
        with opener.open(f"{client_url}/health", timeout=2) as response:
            return bool(json.load(response).get("health") == "true")

    try:
        _wait_until(etcd, healthy, "healthy")
    except BaseException:
        etcd.stop()
        raise
    return etcd, client_url


def _write_kubeconfig(path: Path, url: str, ca_file: Path, token: str, forbidden: str) -> None:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": CONTEXT, "cluster": {"server": url, "certificate-authority": str(ca_file)}}
        ],
        "users": [
            {"name": ADMIN_USER, "user": {"token": token}},
            {"name": FORBIDDEN_USER, "user": {"token": forbidden}},
        ],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": ADMIN_USER}},
            {"name": FORBIDDEN_CONTEXT, "context": {"cluster": CONTEXT, "user": FORBIDDEN_USER}},
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)


@contextlib.contextmanager
def run_kube_apiserver(binaries: KubeBinaries, work: Path) -> Iterator[KubeApiServer]:
    """etcd and kube-apiserver under `work`, ready; both stopped on exit."""
    ca_file, cert_file, key_file, sa_key = _write_pki(work / "pki")
    token, forbidden = secrets.token_hex(24), secrets.token_hex(24)
    tokens = work / "tokens.csv"
    tokens.write_text(
        f'{token},{ADMIN_USER},uid-admin,"system:masters"\n{forbidden},{FORBIDDEN_USER},uid-nobody\n',
        encoding="utf-8",
    )
    tokens.chmod(0o600)

    with contextlib.ExitStack() as stack:
        # Last: the etcd data (64 MB of preallocated WAL) goes; the logs stay for post-mortems.
        data_dir = etcd_data_dir(work)
        stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
        etcd, etcd_url = _start_etcd(binaries.etcd, work, data_dir)
        stack.callback(etcd.stop)

        port = free_port()
        url = f"https://{LOOPBACK}:{port}"
        apiserver = _Process(
            "kube-apiserver",
            [
                str(binaries.kube_apiserver),
                f"--etcd-servers={etcd_url}",
                f"--bind-address={LOOPBACK}",
                f"--advertise-address={LOOPBACK}",
                f"--secure-port={port}",
                "--insecure-port=0",  # 1.20 would otherwise also listen on 127.0.0.1:8080
                f"--cert-dir={work / 'certs'}",
                f"--tls-cert-file={cert_file}",
                f"--tls-private-key-file={key_file}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={sa_key}",
                f"--service-account-signing-key-file={sa_key}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--allow-privileged=true",
                *CHEAP_FLAGS,
                # A loopback address is no valid endpoint for the `kubernetes` service.
                "--endpoint-reconciler-type=none",
                "--profiling=false",
                "--v=1",
            ],
            work / "kube-apiserver.log",
        )
        stack.callback(apiserver.stop)

        opener = _opener(ca_file)

        def ready() -> bool:
            request = urllib.request.Request(
                f"{url}/readyz", headers={"Authorization": f"Bearer {token}"}
            )
            try:
                with opener.open(request, timeout=5) as response:
                    return bool(response.status == 200)
            except urllib.error.HTTPError:
                return False  # 500 while post-start hooks (RBAC bootstrap...) are running

        _wait_until(apiserver, ready, "ready")
        version_request = urllib.request.Request(
            f"{url}/version", headers={"Authorization": f"Bearer {token}"}
        )
        with opener.open(version_request, timeout=5) as response:
            version = str(json.load(response).get("gitVersion", ""))

        kubeconfig = work / "kubeconfig"
        _write_kubeconfig(kubeconfig, url, ca_file, token, forbidden)
        server = KubeApiServer(
            url=url,
            token=token,
            forbidden_token=forbidden,
            ca_file=str(ca_file),
            kubeconfig_path=str(kubeconfig),
            version=version,
            work_dir=work,
            etcd_url=etcd_url,
        )
        stack.callback(server.close_clients)
        yield server


_RUNNING: list[KubeApiServer] = []  # the server of this session, once started


@pytest.fixture(scope="session")
def kube_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    """A real kube-apiserver and etcd for the whole session (skipped when not built).

    pytest makes one session fixture per place that imports it (each conftest or test module);
    they all share the first server started, which stops when its own fixture is torn down.
    """
    if _RUNNING:
        yield _RUNNING[0]
        return
    found = find_binaries()
    if isinstance(found, str):
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{found} ({REQUIRE_ENV}=1)", pytrace=False)
        pytest.skip(found)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(_started(found, tmp_path_factory))
        _RUNNING.append(server)
        try:
            yield server
        finally:
            _RUNNING.remove(server)


@contextlib.contextmanager
def _started(found: KubeBinaries, factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    """run_kube_apiserver in a directory of this worker's, again if a port was taken meanwhile.

    Ports come from free_port(), which lets the port go before etcd or kube-apiserver binds it:
    another pytest-xdist worker, starting its own server at the same moment, may take it first.
    """
    for attempt in range(1, 4):
        stack = contextlib.ExitStack()
        try:
            server = stack.enter_context(run_kube_apiserver(found, factory.mktemp("kube")))
        except pytest.fail.Exception as error:
            stack.close()
            if attempt < 3 and "address already in use" in str(error):
                continue
            raise
        with stack:
            yield server
        return


@pytest.fixture
def kube_fresh(kube_apiserver: KubeApiServer) -> KubeApiServer:
    """The session's server with no workload, budget or pod in kube-system and no Node."""
    reset_cluster(kube_apiserver.shared_client())
    return kube_apiserver


# --- Helpers for tests ----------------------------------------------------------------------------


def _model(cls: type[_Model], body: Mapping[str, Any]) -> _Model:
    """A client model from the API's JSON form (the models are strict pydantic classes)."""
    model: _Model | None = cls.from_dict(dict(body))
    assert model is not None
    return model


def _camel(name: str) -> str:
    """number_ready -> numberReady; camelCase names pass through unchanged."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _camel_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {_camel(str(key)): _camel_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel_keys(item) for item in value]
    return value


def reset_cluster(api: k8s.ApiClient, namespace: str = "kube-system") -> None:
    """Delete every DaemonSet, Deployment, ReplicaSet, PodDisruptionBudget and pod in `namespace`,
    the add-ons' ConfigMaps there, and every Node, at once (no grace period; there is no garbage
    collector).

    One DELETE of each collection, not one per object: every test of the fault matrix starts
    from here.
    """
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    ensure_namespace(api, namespace)
    apps.delete_collection_namespaced_daemon_set(namespace)
    apps.delete_collection_namespaced_deployment(namespace)
    apps.delete_collection_namespaced_replica_set(namespace)
    # policy/v1beta1, the only PodDisruptionBudget API of this 1.20 server (no client method).
    request = api.param_serialize(
        method="DELETE",
        resource_path=f"/apis/policy/v1beta1/namespaces/{namespace}/poddisruptionbudgets",
        auth_settings=["BearerToken"],
    )
    response: Any = api.call_api(*request)
    response.read()
    core.delete_collection_namespaced_pod(namespace, grace_period_seconds=0)
    core.delete_collection_node()
    # The add-ons' own ConfigMaps (a test that left one would change what the next one reads);
    # not the API server's own (extension-apiserver-authentication, kube-root-ca.crt).
    for name in ADDON_CONFIG_MAPS:
        try:
            core.delete_namespaced_config_map(name, namespace)
        except k8s.ApiException as error:
            if error.status != 404:
                raise


ADDON_CONFIG_MAPS = ("amazon-vpc-cni", "coredns", "kube-proxy", "kube-proxy-config")


def ensure_namespace(api: k8s.ApiClient, name: str) -> None:
    """Create the namespace unless it exists (the server itself makes kube-system and default)."""
    core = k8s.CoreV1Api(api)
    try:
        core.read_namespace(name)
    except k8s.ApiException as error:
        if error.status != 404:
            raise
        try:
            core.create_namespace(_model(k8s.V1Namespace, {"metadata": {"name": name}}))
        except k8s.ApiException as conflict:
            if conflict.status != 409:
                raise


def make_node(
    api: k8s.ApiClient,
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    ready: bool = True,
    kubelet_version: str = "v1.29.0-eks-5e0fdde",
    os_image: str = "Amazon Linux 2",
    architecture: str = "amd64",
    annotations: Mapping[str, str] | None = None,
) -> k8s.V1Node:
    """Create a Node, with a kubelet-like status (nodeInfo and a Ready condition), and return it.

    Fargate nodes: labels={"eks.amazonaws.com/compute-type": "fargate"}. Every node carries the
    labels a kubelet registers (kubernetes.io/os, arch, hostname): the aws-node DaemonSet's node
    affinity selects on them, and eksaddon's rollout check follows that affinity.
    """
    core = k8s.CoreV1Api(api)
    kubelet = {
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": architecture,
        "kubernetes.io/hostname": name,
    }
    metadata: dict[str, Any] = {"name": name, "labels": {**kubelet, **(labels or {})}}
    if annotations:
        metadata["annotations"] = dict(annotations)
    core.create_node(_model(k8s.V1Node, {"metadata": metadata}))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {
        "nodeInfo": {
            "architecture": architecture,
            "bootID": f"boot-{name}",
            "containerRuntimeVersion": "containerd://1.7.11",
            "kernelVersion": "5.10.205-195.807.amzn2.x86_64",
            "kubeProxyVersion": kubelet_version,
            "kubeletVersion": kubelet_version,
            "machineID": f"machine-{name}",
            "operatingSystem": "linux",
            "osImage": os_image,
            "systemUUID": f"uuid-{name}",
        },
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": "KubeletReady" if ready else "KubeletNotReady",
                "message": "kubelet is posting ready status" if ready else "kubelet stopped",
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }
        ],
    }
    return core.patch_node_status(
        name, {"status": status}, _content_type="application/merge-patch+json"
    )


def set_daemonset_status(
    api: k8s.ApiClient, namespace: str, name: str, **status: Any
) -> k8s.V1DaemonSet:
    """Merge-patch the DaemonSet's /status subresource, as its controller would.

    Keys may be snake_case (number_ready=2, observed_generation=3) or the API's camelCase;
    nested mappings are converted too. observed_generation="current" means the DaemonSet's
    metadata.generation. Returns the DaemonSet after the patch.
    """
    apps = k8s.AppsV1Api(api)
    body = _camel_keys(status)
    if body.get("observedGeneration") == "current":
        daemonset = apps.read_namespaced_daemon_set(name, namespace)
        assert daemonset.metadata is not None
        body["observedGeneration"] = daemonset.metadata.generation
    return apps.patch_namespaced_daemon_set_status(
        name, namespace, {"status": body}, _content_type="application/merge-patch+json"
    )


def make_pod(
    api: k8s.ApiClient,
    namespace: str,
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    node_name: str | None = None,
    image: str = AWS_NODE_IMAGE,
    container: str = "aws-node",
    daemonset: str | None = None,
    phase: str = "Running",
    ready: bool = True,
    restart_count: int = 0,
    waiting_reason: str | None = None,
) -> k8s.V1Pod:
    """Create a pod (bound to node_name if given) and give it a kubelet-like status.

    daemonset: the name of a DaemonSet in the namespace that controls the pod (ownerReference).
    waiting_reason: e.g. "CrashLoopBackOff" (the container is then waiting, not running).
    """
    core = k8s.CoreV1Api(api)
    metadata: dict[str, Any] = {"name": name, "labels": dict(labels or {})}
    if daemonset is not None:
        owner = k8s.AppsV1Api(api).read_namespaced_daemon_set(daemonset, namespace)
        assert owner.metadata is not None
        metadata["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "name": daemonset,
                "uid": owner.metadata.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    spec: dict[str, Any] = {"containers": [{"name": container, "image": image}]}
    if node_name is not None:
        spec["nodeName"] = node_name
    core.create_namespaced_pod(namespace, _model(k8s.V1Pod, {"metadata": metadata, "spec": spec}))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    state: dict[str, Any]
    if waiting_reason is not None:
        state = {
            "waiting": {"reason": waiting_reason, "message": f"{container} is {waiting_reason}"}
        }
    elif phase == "Running":
        state = {"running": {"startedAt": now}}
    else:
        state = {"waiting": {"reason": "ContainerCreating"}}
    container_ready = ready and waiting_reason is None and phase == "Running"
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [
            {"type": "Ready", "status": "True" if container_ready else "False"},
            {"type": "ContainersReady", "status": "True" if container_ready else "False"},
        ],
        "containerStatuses": [
            {
                "name": container,
                "image": image,
                "imageID": f"{image.split(':')[0]}@sha256:{'0' * 64}",
                "ready": container_ready,
                "restartCount": restart_count,
                "started": container_ready,
                "state": state,
            }
        ],
    }
    if node_name is not None:
        status["hostIP"] = "10.0.0.10"
    return set_pod_status(api, namespace, name, **status)


def set_pod_status(api: k8s.ApiClient, namespace: str, name: str, **status: Any) -> k8s.V1Pod:
    """Merge-patch a pod's /status subresource (snake_case or camelCase keys, as above).

    A merge patch replaces lists whole: pass every container status you want to keep.
    """
    return k8s.CoreV1Api(api).patch_namespaced_pod_status(
        name,
        namespace,
        {"status": _camel_keys(status)},
        _content_type="application/merge-patch+json",
    )


def managed_fields_by(obj: Any, manager: str) -> list[k8s.V1ManagedFieldsEntry]:
    """The managedFields entries of `obj` (a model with metadata) written by `manager`."""
    entries = obj.metadata.managed_fields or []
    return [entry for entry in entries if entry.manager == manager]
