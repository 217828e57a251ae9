"""No credential or token reaches eksaddon's output, logs, journals, backups or error messages.

Recognisable secrets are planted where eksaddon's libraries read them: AWS keys and a session
token in the environment, other keys in a credentials-file profile, STS credentials of an assumed
role (fleet), the bearer tokens of a real kube-apiserver's kubeconfig (admin, forbidden, and one it
rejects), and a kubeconfig with client-certificate-data / client-key-data. The CLI then runs
in-process across success and failure paths, and every secret (as is, base64, and its first 16
characters) is searched for in stdout, stderr, every file of the state directory, report files,
$GITHUB_STEP_SUMMARY and every log record that reached a handler.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import logging
import re
import secrets
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.eks.models import eks_backends
from moto.sts.models import sts_backends

from eksaddon.nodeside.render import render
from eksaddon.versions import AddonVersion
from reliability_ledger import LEDGER
from standins.kube import KubeApiServer, kube_apiserver, kube_fresh
from standins.server import StandInServer, eks_server, eks_standin

__all__ = ["eks_server", "eks_standin", "kube_apiserver", "kube_fresh"]

_FRAME = re.compile(r"[\s\u2500-\u257f]+")
LIBRARY_LOGGERS = ("botocore", "boto3", "urllib3", "kubernetes", "s3transfer", "")


def forms(value: str) -> list[str]:
    """What a leak of ``value`` can look like: itself, base64, and its first 16 characters."""
    encoded = base64.b64encode(value.encode()).decode()
    return list(dict.fromkeys([value, encoded, encoded.rstrip("="), value[:16]]))


def find_leaks(planted: Mapping[str, str], outputs: Mapping[str, str]) -> list[str]:
    """(secret, output) pairs where a form of the secret appears, even wrapped across lines."""
    leaks = []
    for where, text in outputs.items():
        squeezed = _FRAME.sub("", text)  # a table may wrap a long value inside its borders
        for label, value in planted.items():
            for form in forms(value):
                if form in text or form in squeezed:
                    leaks.append(f"{label} in {where}")
                    break
    return leaks


class Capture(logging.Handler):
    """Every log record that reaches the root logger at the levels the run left configured."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter("%(name)s %(message)s").format(record))


def _pem_pair() -> tuple[str, str]:
    """A self-signed client certificate and its key (PEM); it authenticates nobody."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "planted")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pem_key


class Planted:
    """The secrets, where they were planted, and the searches made so far."""

    def __init__(self, tmp_path: Path, eks: StandInServer, kube: KubeApiServer) -> None:
        tag = secrets.token_hex(6)
        self.tmp_path = tmp_path
        self.eks = eks
        self.kube = kube
        self.secrets: dict[str, str] = {
            "env AWS_ACCESS_KEY_ID": f"AKIAPLANTENV{tag.upper()}"[:20],
            "env AWS_SECRET_ACCESS_KEY": f"PlantedEnvSecret{tag}/{secrets.token_urlsafe(18)}",
            "env AWS_SESSION_TOKEN": f"PlantedSessionToken{tag}{secrets.token_urlsafe(60)}",
            "profile aws_access_key_id": f"AKIAPLANTPRO{tag.upper()}"[:20],
            "profile aws_secret_access_key": f"PlantedProfileKey{tag}/{secrets.token_urlsafe(18)}",
            "profile aws_session_token": f"PlantedProfileToken{tag}{secrets.token_urlsafe(60)}",
            "kubeconfig admin token": kube.token,
            "kubeconfig forbidden token": kube.forbidden_token,
            "kubeconfig rejected token": f"planted-kube-token-{tag}-{secrets.token_hex(16)}",
        }
        cert, key = _pem_pair()
        key_body = key.splitlines()[1:-1]
        self.secrets["client key PEM"] = key
        self.secrets["client key PEM line"] = key_body[len(key_body) // 2]
        credentials = tmp_path / "aws-credentials"
        credentials.write_text(
            "[planted]\n"
            f"aws_access_key_id = {self.secrets['profile aws_access_key_id']}\n"
            f"aws_secret_access_key = {self.secrets['profile aws_secret_access_key']}\n"
            f"aws_session_token = {self.secrets['profile aws_session_token']}\n",
            encoding="utf-8",
        )
        config = tmp_path / "aws-config"
        config.write_text(f"[profile planted]\nregion = {eks.region}\n", encoding="utf-8")
        self.kubeconfig = tmp_path / "kubeconfig"
        users = {
            "admin": {"token": kube.token},
            "forbidden": {"token": kube.forbidden_token},
            "rejected": {"token": self.secrets["kubeconfig rejected token"]},
            "cert": {
                "client-certificate-data": base64.b64encode(cert.encode()).decode(),
                "client-key-data": base64.b64encode(key.encode()).decode(),
            },
        }
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "standin",
                    "cluster": {"server": kube.url, "certificate-authority": kube.ca_file},
                }
            ],
            "users": [{"name": name, "user": user} for name, user in users.items()],
            "contexts": [
                {"name": name, "context": {"cluster": "standin", "user": name}} for name in users
            ],
            "current-context": "admin",
        }
        self.kubeconfig.write_text(yaml.safe_dump(document), encoding="utf-8")
        self.env = {
            **eks.env({}),
            "AWS_ACCESS_KEY_ID": self.secrets["env AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": self.secrets["env AWS_SECRET_ACCESS_KEY"],
            "AWS_SESSION_TOKEN": self.secrets["env AWS_SESSION_TOKEN"],
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
            "AWS_CONFIG_FILE": str(config),
            "AWS_ENDPOINT_URL_STS": eks.url,
            "KUBECONFIG": str(self.kubeconfig),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        self.state = tmp_path / "state"
        self.reports: list[Path] = []

    def kube_args(self, context: str) -> tuple[str, ...]:
        return ("--kubeconfig", str(self.kubeconfig), "--context", context)

    def assumed_credentials(self) -> dict[str, str]:
        found = {}
        for role in sts_backends[DEFAULT_ACCOUNT_ID]["aws"].assumed_roles:
            found[f"assumed {role.access_key_id} key id"] = role.access_key_id
            found[f"assumed {role.access_key_id} secret"] = role.secret_access_key
            found[f"assumed {role.access_key_id} token"] = role.session_token
        return found

    def outputs(self, out: str, err: str, logs: list[str]) -> dict[str, str]:
        found = {"stdout": out, "stderr": err, "logging": "\n".join(logs)}
        for path in sorted(p for p in self.tmp_path.rglob("*") if p.is_file()):
            inside_state = self.state in path.parents
            if inside_state or path in self.reports or path.name == "step-summary.md":
                found[str(path.relative_to(self.tmp_path))] = path.read_text(errors="replace")
        return found

    def search(self, out: str, err: str, logs: list[str], *, debug: bool = False) -> list[str]:
        planted = {**self.secrets, **self.assumed_credentials()}
        outputs = self.outputs(out, err, logs)
        if not debug:  # --debug prints tracebacks on purpose
            LEDGER.saw_output(out, err)
        LEDGER.secrets_searched += len(planted) * len(outputs)
        leaks = find_leaks(planted, outputs)
        LEDGER.leaks += len(leaks)
        return leaks


def _levels() -> dict[str, tuple[int, int]]:
    return {
        name: (logging.getLogger(name).level, len(logging.getLogger(name).handlers))
        for name in LIBRARY_LOGGERS
    }


@pytest.fixture
def planted(
    tmp_path: Path,
    eks_standin: StandInServer,
    kube_fresh: KubeApiServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Planted:
    # The STS stand-in keeps every role assumed in this process (moto's backends outlive a test,
    # and eks_standin empties only EKS's): emptied here, each test searches for the credentials
    # of its own assumed roles only, so the summary's count of searches is the same in every run
    # whichever worker ran which test before (it was 1817 under one distribution, 1703 under
    # another).
    for account in list(sts_backends.values()):
        account.reset()
    setup = Planted(tmp_path, eks_standin, kube_fresh)
    for name, value in setup.env.items():
        monkeypatch.setenv(name, value)
    for cluster in ("prod", "legacy"):
        eks_standin.create_cluster(cluster, "1.29")
        backend = eks_backends[eks_standin.account_id][eks_standin.region].clusters[cluster]
        backend.endpoint = kube_fresh.url  # the kubeconfig must point at this cluster
    eks_standin.put_addon(
        "prod", "v1.16.4-eksbuild.2", configuration_values='{"env":{"WARM_IP_TARGET":"5"}}'
    )
    from eksaddon.gateways.kube import KubeGateway

    admin = KubeGateway(kubeconfig=str(setup.kubeconfig), context="admin")
    for document in render(AddonVersion.parse("v1.16.4"), eks_standin.region):
        admin.apply(document)
    # No botocore retry sleeps (an unreachable endpoint would back off for seconds).
    import botocore.endpoint

    class _NoSleep:
        def __getattr__(self, name: str) -> Any:
            import time

            return getattr(time, name)

        def sleep(self, seconds: float) -> None:
            return None

    monkeypatch.setattr(botocore.endpoint, "time", _NoSleep())
    return setup


Run = Callable[..., Any]


@pytest.fixture
def cli(planted: Planted, run: Run) -> Callable[..., tuple[int, str, str]]:
    """Run the CLI in-process, capturing logs, and search every output for every secret."""
    before = _levels()
    debuglevel = http.client.HTTPConnection.debuglevel

    def invoke(*args: str, codes: tuple[int, ...] = (0,)) -> tuple[int, str, str]:
        capture = Capture()
        root = logging.getLogger()
        root.addHandler(capture)
        try:
            result = run(*args)
        finally:
            root.removeHandler(capture)
        assert result.code in codes, (args, result.code, result.err)
        # eksaddon never turns on the libraries' debug logging (botocore's prints headers).
        assert _levels() == before, f"{args} changed logging: {_levels()} vs {before}"
        assert http.client.HTTPConnection.debuglevel == debuglevel
        leaks = planted.search(result.out, result.err, capture.lines, debug="--debug" in args)
        assert not leaks, f"{args}: {leaks}"
        return result.code, result.out, result.err

    return invoke


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


UPGRADE = ("upgrade", "--cluster", "prod", "--yes", "--poll-interval", "0.05", "--timeout", "20")


def test_the_search_finds_a_planted_secret(planted: Planted) -> None:
    """Self-check: each form of each secret is found wherever it is printed."""
    for label, value in planted.secrets.items():
        for form in forms(value):
            wrapped = "│ " + "\n│ ".join(form[i : i + 30] for i in range(0, len(form), 30))
            assert find_leaks({label: value}, {"stdout": f"x {wrapped} y"}) == [
                f"{label} in stdout"
            ]
    assert find_leaks(planted.secrets, {"stdout": "nothing here"}) == []
    (planted.state / "journals").mkdir(parents=True)
    token = planted.secrets["kubeconfig rejected token"]
    (planted.state / "journals" / "x.json").write_text(base64.b64encode(token.encode()).decode())
    leaks = planted.search("", "", [f"botocore {planted.secrets['env AWS_SESSION_TOKEN']}"])
    assert "kubeconfig rejected token in state/journals/x.json" in leaks
    assert "env AWS_SESSION_TOKEN in logging" in leaks
    LEDGER.leaks -= len(leaks)  # planted on purpose: not a leak of eksaddon's


def test_a_usage_error_echoing_a_secret_is_caught(planted: Planted, run: Run) -> None:
    """Self-check end to end: a value the CLI echoes back is found in its stderr."""
    secret = planted.secrets["env AWS_SECRET_ACCESS_KEY"]
    result = run("check-compat", "-k", "1.29", "--addon-version", secret)
    assert result.code == 2
    leaks = planted.search(result.out, result.err, [])
    assert "env AWS_SECRET_ACCESS_KEY in stderr" in leaks
    LEDGER.leaks -= len(leaks)


def test_reads_with_every_kube_identity_and_format(
    planted: Planted, cli: Callable[..., tuple[int, str, str]]
) -> None:
    for output in ("table", "json", "yaml"):
        _, out, _ = cli("status", "--cluster", "prod", *planted.kube_args("admin"), "-o", output)
        assert "v1.16.4" in out
    _, out, _ = cli("status", "--cluster", "prod", *planted.kube_args("rejected"), "-o", "json")
    assert "rejected the credentials" in out  # a 401 from the real API server
    _, out, _ = cli("status", "--cluster", "prod", *planted.kube_args("forbidden"), "-o", "json")
    assert "forbids" in out  # a 403
    cli("status", "--cluster", "prod", *planted.kube_args("cert"), "-o", "json")
    report = planted.tmp_path / "report.md"
    planted.reports.append(report)
    cli(
        "check-compat", "--cluster", "prod", *planted.kube_args("admin"), "-o", "markdown", "--report-file", str(report),
        "--annotations", "github", codes=(0, 1),
    )  # fmt: skip
    assert Path(planted.env["GITHUB_STEP_SUMMARY"]).read_text()
    cli(
        "check-compat",
        "--cluster",
        "prod",
        *planted.kube_args("rejected"),
        "-o",
        "junit",
        codes=(0, 1),
    )
    cli("--debug", "status", "--cluster", "prod", "--profile", "planted", "--skip-node-side")


def test_upgrades_dry_run_success_and_stopped(
    planted: Planted, cli: Callable[..., tuple[int, str, str]]
) -> None:
    cli(*UPGRADE, "--dry-run", "-o", "yaml")
    cli("upgrade", "--cluster", "legacy", "--dry-run", *planted.kube_args("admin"), "-o", "json")
    planted.eks.standin.fail_next_update()
    _, _, err = cli("--debug", *UPGRADE, "--skip-rollout-check", codes=(4,))
    assert "journal is kept" in err
    cli(*UPGRADE, "--skip-rollout-check", "-o", "json")  # resumed to the end
    cli(*UPGRADE, "--skip-rollout-check", "-o", "json")  # archives the finished journal
    assert list((planted.state / "journals").glob("*.finished.json"))
    assert list((planted.state / "backups").glob("*.json"))
    cli("install", "--cluster", "legacy", "--dry-run", "-o", "json")


def test_failures_denied_unreachable_and_kube_refusals(
    planted: Planted, cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    standin = planted.eks.standin
    standin.inject_error(
        "DescribeCluster",
        code="AccessDeniedException",
        status=403,
        message="User is not authorized",
    )
    _, _, err = cli("--debug", "status", "--cluster", "prod", codes=(3,))
    assert "access denied to eks:DescribeCluster" in err and "Traceback" in err
    standin.inject_error(
        "UpdateAddon", code="AccessDeniedException", status=403, message="not authorized"
    )
    cli("--debug", *UPGRADE, "--skip-rollout-check", codes=(4,))
    standin.inject_error(
        "DescribeCluster",
        code="UnrecognizedClientException",
        status=403,
        message="The security token included in the request is invalid",
    )
    cli("--debug", "check-compat", "--cluster", "prod", codes=(3,))
    # The node side refuses before anything changes: 401 and 403 from the real API server.
    cli("--debug", *UPGRADE, "--discard-journal", *planted.kube_args("rejected"), codes=(3,))
    cli("--debug", *UPGRADE, "--discard-journal", *planted.kube_args("forbidden"), codes=(3,))
    cli(
        "--debug",
        "migrate",
        "--cluster",
        "legacy",
        *planted.kube_args("forbidden"),
        "--yes",
        codes=(3,),
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_EKS", f"http://127.0.0.1:{_closed_port()}")
    _, _, err = cli("--debug", "status", "--cluster", "prod", codes=(3,))
    assert "cannot reach the EKS endpoint" in err
    cli("check-compat", "--cluster", "prod", "-o", "json", codes=(3,))


def test_a_fleet_with_a_profile_and_an_assumed_role(
    planted: Planted, cli: Callable[..., tuple[int, str, str]]
) -> None:
    fleet = planted.tmp_path / "fleet.yaml"
    role = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/eksaddon-fleet"
    fleet.write_text(
        yaml.safe_dump(
            [
                {"name": "prod", "profile": "planted"},
                {"name": "prod", "region": planted.eks.region, "role_arn": role},
                {"name": "legacy"},
            ]
        )
    )
    report = planted.tmp_path / "fleet.json"
    planted.reports.append(report)
    cli(
        "check-compat",
        "--clusters",
        str(fleet),
        "--profile",
        "planted",
        "-o",
        "json",
        "--report-file",
        str(report),
        codes=(0, 1, 3),
    )
    assert planted.assumed_credentials(), "no role was assumed: the STS path did not run"
    document = json.loads(report.read_text())
    assert len(document["clusters"]) == 3
    cli("--debug", "check-compat", "--clusters", str(fleet), "-o", "markdown", codes=(0, 1, 3))


def test_an_endpoint_echoing_the_credentials_is_redacted(
    planted: Planted, cli: Callable[..., tuple[int, str, str]]
) -> None:
    """EKS's own error text, and text inside its answers, can echo what signed the request."""
    token = planted.secrets["env AWS_SESSION_TOKEN"]
    secret = planted.secrets["env AWS_SECRET_ACCESS_KEY"]
    key_id = planted.secrets["env AWS_ACCESS_KEY_ID"]
    standin = planted.eks.standin
    standin.inject_error(
        "DescribeCluster",
        code="InvalidRequestException",
        status=400,
        message=f"bad request https://eks/?X-Amz-Security-Token={token}&X-Amz-Credential={key_id}"
        f"%2F20261201 signed with {secret}",
    )
    _, _, err = cli("status", "--cluster", "prod", "--skip-node-side", codes=(3,))
    assert "[redacted]" in err and "X-Amz-Security-Token=[redacted]" in err

    def echo(document: Any) -> Any:
        document["addon"]["health"] = {
            "issues": [{"code": "Other", "message": f"token {token} key {secret}"}]
        }
        return document

    standin.rewrite_answer("DescribeAddon", echo)
    for output in ("table", "json", "yaml"):
        _, out, _ = cli("status", "--cluster", "prod", "--skip-node-side", "-o", output)
        assert "[redacted]" in out
    cli("check-compat", "--cluster", "prod", "--skip-node-side", "-o", "junit", codes=(0, 1))
    cli("check-compat", "--cluster", "prod", "--skip-node-side", "-o", "markdown", codes=(0, 1))


def test_the_kube_gateway_remembers_its_tokens_and_client_key(planted: Planted) -> None:
    from eksaddon.gateways.kube import KubeGateway
    from eksaddon.textsafety import redact

    for context, label in (
        ("rejected", "kubeconfig rejected token"),
        ("cert", "client key PEM line"),
    ):
        KubeGateway(kubeconfig=str(planted.kubeconfig), context=context)
        value = planted.secrets[label]
        assert value not in redact(f"the server said: {value}!"), label
