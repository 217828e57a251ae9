"""The bad-input corpus of the reliability campaign (issue #5): malformed inputs through the CLI.

Every input here is wrong: an add-on or Kubernetes version, a matrix file, a DaemonSet backup,
configuration values, a journal, a clusters file, a flag or a combination of flags. Each goes
through the real entry point in-process (the ``run`` fixture), and each must give its documented
exit code (2: docs/exit-codes.md) and one line ``eksaddon: error: <what>; <what to do>`` naming the
problem, nothing on stdout and never a traceback. The live commands run against the EKS stand-in
(and, for the self-managed side, a real kube-apiserver) and must change nothing there: no
UpdateAddon, CreateAddon or DeleteAddon request, the add-on record as it was, the aws-node
DaemonSet at the same resourceVersion.

`upgrade` and `install` may write progress lines (the ``plan:`` line) before the error line, as
docs/exit-codes.md allows; everything else must write exactly one line. Every input tried is
counted in the campaign's ledger (``LEDGER.input``) and every output looked at is searched for
tracebacks (``LEDGER.saw_output``).
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.core.models import DEFAULT_ACCOUNT_ID

from eksaddon.engine.journal import fingerprint
from reliability_ledger import LEDGER
from standins.kube import KubeApiServer, kube_apiserver, kube_fresh
from standins.server import StandInServer, eks_server
from tests_support import Result, daemonset

__all__ = ["eks_server", "kube_apiserver", "kube_fresh"]

if TYPE_CHECKING:
    Run = Callable[..., Result]

ERROR = "eksaddon: error: "
# Lines `upgrade` and `install` may write before their error line (docs/exit-codes.md).
PROGRESS_PREFIXES = ("plan: ", "resuming: ", "previous journal moved to ", "backup written: ")
MUTATING = ("UpdateAddon", "CreateAddon", "DeleteAddon")

CLUSTER = "prod"  # Kubernetes 1.29, vpc-cni v1.16.4-eksbuild.2 with custom values
BARE = "staging"  # Kubernetes 1.30, no EKS add-on (for install)
INSTALLED = "v1.16.4-eksbuild.2"
VALUES = '{"env":{"WARM_IP_TARGET":"5"}}'
JOURNAL = "journals/us-west-2_prod_vpc-cni.json"

HYPOTHESIS = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- assertions ------------------------------------------------------------------------------


def refused(result: Result, expected: str, *, family: str, code: int = 2) -> str:
    """Assert the documented refusal: ``code``, empty stdout, one error line naming the problem."""
    LEDGER.input(family)
    LEDGER.saw_output(result.out, result.err)
    assert "Traceback" not in result.err, result.err
    assert result.code == code, (result.code, result.err)
    assert result.out == "", result.out[:500]
    assert result.err.startswith(ERROR), result.err[:500]
    assert result.err.endswith("\n"), result.err[-200:]
    assert result.err.count("\n") == 1, result.err[:2000]
    assert expected in result.err, result.err[:2000]
    return result.err


def refused_after_progress(result: Result, expected: str, *, family: str, code: int = 2) -> str:
    """The same for `upgrade`/`install`: progress lines may come first, the error line is last."""
    LEDGER.input(family)
    LEDGER.saw_output(result.out, result.err)
    assert "Traceback" not in result.err, result.err
    assert result.code == code, (result.code, result.err)
    assert result.out == "", result.out[:500]
    assert result.err.endswith("\n"), result.err[-200:]
    *before, last = result.err.rstrip("\n").split("\n")
    assert last.startswith(ERROR), result.err[:2000]
    assert expected in last, result.err[:2000]
    for line in before:
        assert line.startswith(PROGRESS_PREFIXES), result.err[:2000]
    return last


# --- the EKS stand-in, shared by the module ----------------------------------------------------


def _prepare(server: StandInServer) -> None:
    server.fresh()
    server.create_cluster(CLUSTER, "1.29")
    server.put_addon(CLUSTER, INSTALLED, configuration_values=VALUES)
    server.create_cluster(BARE, "1.30")


@pytest.fixture(scope="module")
def clusters(eks_server: StandInServer) -> StandInServer:
    _prepare(eks_server)
    return eks_server


@dataclass
class Live:
    server: StandInServer
    state: Path
    before: dict[str, Any]

    @property
    def history(self) -> list[str]:
        return list(self.server.standin.history)

    def addon(self) -> dict[str, Any]:
        record = self.server.standin.addon(CLUSTER)
        assert record is not None
        return record.to_api()

    def assert_unchanged(self) -> None:
        """No mutating request reached the stand-in, and both clusters are as they were."""
        history = self.history
        assert not [op for op in history if op in MUTATING], history
        assert self.addon() == self.before
        assert self.server.standin.addon(BARE) is None
        assert not self.server.standin.updates()

    def assert_no_call(self) -> None:
        """Refused before any API call at all."""
        assert self.history == [], self.history
        self.assert_unchanged()


@pytest.fixture
def live(clusters: StandInServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Live:
    """The CLI in this process talks to the stand-in; counters start at zero."""
    record = clusters.standin.addon(CLUSTER)
    if (
        record is None
        or record.addon_version != INSTALLED
        or record.configuration_values != VALUES
        or record.status != "ACTIVE"
        or clusters.standin.addon(BARE) is not None
        or clusters.standin.updates()
    ):
        _prepare(clusters)  # an earlier (failed or xfail) case changed it: start clean
    clusters.standin.clear_faults()
    clusters.standin.reset_counters()
    for name, value in clusters.env({}).items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    state = tmp_path / "state"
    monkeypatch.setenv("EKSADDON_STATE_DIR", str(state))
    live = Live(clusters, state, {})
    live.before = live.addon()
    return live


UPGRADE = (
    "upgrade",
    "--cluster",
    CLUSTER,
    "--yes",
    "--skip-rollout-check",
    "--poll-interval",
    "0.05",
    "--timeout",
    "5",
)
INSTALL = ("install", "--cluster", BARE, "--yes", "--poll-interval", "0.05", "--timeout", "5")


# === Add-on versions ===========================================================================

BAD_ADDON_VERSIONS: list[str] = [
    "",
    " ",
    "1",
    "1.18",
    "v1.18",
    "v1",
    "v",
    "vv1.18.3",
    "V1.18.3",
    "v1.18.3.4",
    "v1.18.3-",
    "v1.18.3-eksbuild",
    "v1.18.3-eksbuild.",
    "v1.18.3-eksbuild.x",
    "v1.18.3-eksbuild.-1",
    "v1.18.3-eksbuild.1.2",
    "v1.18.3-EKSBUILD.3",
    "v1.18.3+eksbuild.3",
    "v1.18.3-rc1",
    "v1.18.3-eksbuild.03",
    "v01.18.3",
    "v1.018.3",
    "v-1.18.3",
    "v1.-18.3",
    "v1..3",
    "v1.18.",
    ".1.18.3",
    "1.18.3.",
    "v1,18,3",
    "v1 18 3",
    "v1.18.3 v1.18.4",
    "v１.１８.３",  # fullwidth digits
    "v1.18.3\x00",
    "\x00",
    "v1.18.3\x1b[31m",
    "v1.18\n.3",
    "v1.18.3\r\nv1.17.1",
    "v1.9999999999.0",
    "v" + "9" * 5000,
    "v1.18.3-eksbuild." + "1" * 70,
    "x" * 100_000,
    "\u202ev1.18.3",  # right-to-left override
    "v1.18.3\u200b",  # zero-width space
    "😀",
    "latest-ish",
    "newest",
    "null",
    "None",
    "[v1.18.3]",
    '{"version": "v1.18.3"}',
    "v1.18.3; rm -rf /",
    "$(id)",
    "--to",
    "-1.18.3",
]


@pytest.mark.parametrize("version", BAD_ADDON_VERSIONS, ids=lambda v: repr(v)[:40])
def test_bad_addon_versions(run: Run, version: str) -> None:
    refused(
        run("plan", "-k", "1.30", "--from", version),
        "invalid add-on version",
        family="add-on versions",
    )
    err = refused(
        run("check-compat", "-k", "1.29", "--addon-version", version),
        "Invalid value for '--addon-version'",
        family="add-on versions",
    )
    assert "(see 'eksaddon check-compat --help')" in err
    assert len(err) < 1000  # a huge value is shortened, never echoed whole


BAD_TARGETS: list[str] = [
    "",
    "lateset",
    "latest latest",
    "defaults",
    "LATEST!",
    "v1.18",
    "1.18.3.0",
    "v1.18.3-eksbuild",
    "\x00latest",
    "la\ntest",
    "*",
    "~",
    "v1.18.3-eksbuild.3,v1.17.1-eksbuild.1",
]


@pytest.mark.parametrize("target", BAD_TARGETS, ids=lambda v: repr(v)[:40])
def test_bad_plan_targets(run: Run, target: str) -> None:
    refused(
        run("plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "--to", target),
        "Invalid value for '--to'",
        family="add-on versions",
    )


@pytest.mark.parametrize("version", ["1.18", "v1.18.3-eksbuild", "", "\x00", "v" + "1" * 200])
def test_bad_render_versions(run: Run, version: str) -> None:
    refused(
        run("render", "--version", version, "--region", "us-west-2"),
        "Invalid value for '--version'",
        family="add-on versions",
    )


_ADDON_RE = re.compile(
    r"v?(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})"
    r"(?:-eksbuild\.(0|[1-9][0-9]{0,8}))?"
)


def _not_an_addon_version(text: str) -> bool:
    return _ADDON_RE.fullmatch(text.strip()) is None and text.strip().lower() not in (
        "latest",
        "default",
    )


@settings(HYPOTHESIS, max_examples=60)
@given(
    version=st.one_of(
        st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
        st.from_regex(
            r"v?[0-9]{1,3}(\.[0-9]{1,3}){0,4}(-[a-z]{0,8}(\.[0-9a-z]{0,3})?)?", fullmatch=True
        ),
    ).filter(_not_an_addon_version)
)
def test_generated_addon_versions(run: Run, version: str) -> None:
    refused(
        run("plan", "-k", "1.29", "--to", version, "--from", "v1.16.0-eksbuild.1"),
        "Invalid value for '--to'",
        family="add-on versions",
    )


# === Kubernetes versions =======================================================================

BAD_KUBERNETES_VERSIONS: list[tuple[str, str]] = [
    ("", "invalid Kubernetes version"),
    ("1", "invalid Kubernetes version"),
    ("1.", "invalid Kubernetes version"),
    (".30", "invalid Kubernetes version"),
    ("1.30.", "invalid Kubernetes version"),
    ("1.30.4.1", "invalid Kubernetes version"),
    ("1.30-eks", "invalid Kubernetes version"),
    ("1.30-eks-1", "invalid Kubernetes version"),
    ("v1.30.4-eks-a1b2c3", "invalid Kubernetes version"),
    ("1,30", "invalid Kubernetes version"),
    ("1.3o", "invalid Kubernetes version"),
    ("01.30", "invalid Kubernetes version"),
    ("1.030", "invalid Kubernetes version"),
    ("-1.30", "invalid Kubernetes version"),
    ("1.-30", "invalid Kubernetes version"),
    ("1.30\x00", "invalid Kubernetes version"),
    ("1.3\u0660", "invalid Kubernetes version"),  # Arabic-Indic zero
    ("1.30\n1.29", "invalid Kubernetes version"),
    ("1e1", "invalid Kubernetes version"),
    ("nan", "invalid Kubernetes version"),
    ("inf", "invalid Kubernetes version"),
    ("1.30" * 1000, "invalid Kubernetes version"),
    ("9" * 30 + ".1", "invalid Kubernetes version"),
    ("latest", "invalid Kubernetes version"),
    ("1.31", "Kubernetes 1.31 is not in the vpc-cni matrix"),
    ("1.22", "Kubernetes 1.22 is not in the vpc-cni matrix"),
    ("0.0", "Kubernetes 0.0 is not in the vpc-cni matrix"),
    ("2.29", "Kubernetes 2.29 is not in the vpc-cni matrix"),
    ("1.999999999", "Kubernetes 1.999999999 is not in the vpc-cni matrix"),
    ("v1.3", "Kubernetes 1.3 is not in the vpc-cni matrix"),
]


@pytest.mark.parametrize(
    ("version", "expected"), BAD_KUBERNETES_VERSIONS, ids=lambda v: repr(v)[:40]
)
def test_bad_kubernetes_versions(run: Run, version: str, expected: str) -> None:
    refused(
        run("check-compat", "-k", version, "--addon-version", "v1.18.3-eksbuild.3"),
        expected,
        family="Kubernetes versions",
    )
    refused(run("matrix", "show", "-k", version), expected, family="Kubernetes versions")
    refused(
        run(
            "check-compat",
            "-k",
            "1.28",
            "--addon-version",
            "v1.18.3-eksbuild.3",
            "--target-kubernetes-version",
            version,
        ),
        expected,
        family="Kubernetes versions",
    )


_KUBERNETES_RE = re.compile(r"v?(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})(?:\.(0|[1-9][0-9]{0,8}))?")


@settings(HYPOTHESIS, max_examples=60)
@given(
    version=st.one_of(
        st.text(st.characters(exclude_categories=["Cs"]), max_size=16),
        st.from_regex(r"v?[0-9]{0,3}([.,][0-9]{0,3}){0,3}[a-z-]{0,3}", fullmatch=True),
    ).filter(lambda text: _KUBERNETES_RE.fullmatch(text.strip()) is None)
)
def test_generated_kubernetes_versions(run: Run, version: str) -> None:
    refused(
        run("plan", "-k", version, "--from", "v1.16.0-eksbuild.1"),
        "invalid Kubernetes version",
        family="Kubernetes versions",
    )


def test_target_kubernetes_below_the_cluster(run: Run) -> None:
    for low in ("1.23", "1.28", "v1.28.9"):
        refused(
            run(
                "check-compat",
                "-k",
                "1.29",
                "--addon-version",
                "v1.18.3-eksbuild.3",
                "--target-kubernetes-version",
                low,
            ),
            "EKS clusters cannot be downgraded",
            family="Kubernetes versions",
        )


# === Matrix files ==============================================================================


def _matrix(raw: dict[str, Any], change: Callable[[dict[str, Any]], object]) -> bytes:
    change(raw)
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True).encode()


def _deep(levels: int, *, json_form: bool) -> bytes:
    if json_form:
        return b'{"a":' * levels + b"1" + b"}" * levels
    return "".join(f"{'  ' * i}a:\n" for i in range(levels)).encode() + b"  " * levels + b"1\n"


MATRIX_EDITS: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("no-format", lambda m: m.pop("format_version"), "format_version"),
    ("format-string", lambda m: m.update(format_version="1"), "format_version"),
    ("format-99", lambda m: m.update(format_version=99), "format_version"),
    ("no-addon", lambda m: m.pop("addon"), "matrix file"),
    ("addon-int", lambda m: m.update(addon=5), "matrix file"),
    ("addon-other", lambda m: m.update(addon="kube-proxy"), "describes add-on 'kube-proxy'"),
    ("no-kubernetes", lambda m: m.pop("kubernetes_versions"), "matrix file"),
    ("kubernetes-list", lambda m: m.update(kubernetes_versions=["1.30"]), "matrix file"),
    ("kubernetes-empty", lambda m: m.update(kubernetes_versions={}), "matrix file"),
    ("kubernetes-null", lambda m: m.update(kubernetes_versions=None), "matrix file"),
    (
        "latest-not-version",
        lambda m: m["kubernetes_versions"]["1.30"].update(latest="newest"),
        "matrix file",
    ),
    (
        "latest-int",
        lambda m: m["kubernetes_versions"]["1.30"].update(latest=18),
        "matrix file",
    ),
    (
        "latest-not-offered",
        lambda m: m["kubernetes_versions"]["1.30"].update(latest="v1.6.3-eksbuild.2"),
        "matrix file",
    ),
    ("key-not-version", lambda m: m["kubernetes_versions"].update({"one.thirty": {}}), "matrix"),
    ("builds-dict", lambda m: m.update(builds={"v1.18.3-eksbuild.3": {}}), "matrix file"),
    ("builds-strings", lambda m: m.update(builds=["v1.18.3-eksbuild.3"]), "matrix file"),
    ("build-version-bad", lambda m: m["builds"][0].update(version="v1.18"), "matrix file"),
    ("build-no-version", lambda m: m["builds"][0].pop("version"), "matrix file"),
    (
        "build-k8s-not-list",
        lambda m: m["builds"][0].update(kubernetes_versions="1.30"),
        "matrix file",
    ),
    ("policy-string", lambda m: m.update(upgrade_policy="one at a time"), "matrix file"),
    (
        "max-step-string",
        lambda m: m["upgrade_policy"].update(max_minor_step="one"),
        "max_minor_step",
    ),
    ("max-step-negative", lambda m: m["upgrade_policy"].update(max_minor_step=-1), "matrix file"),
    ("max-step-float", lambda m: m["upgrade_policy"].update(max_minor_step=1.5), "matrix file"),
    ("features-list", lambda m: m.update(features=["ipv6"]), "matrix file"),
    ("unknown-top-key", lambda m: m.update(surprise=True), "matrix file"),
    ("as-of-int", lambda m: m.update(as_of=20240912), "matrix file"),
    ("self-managed-null", lambda m: m.update(self_managed=None), "matrix file"),
    ("daemonset-list", lambda m: m.update(daemonset=[1, 2]), "matrix file"),
]


@pytest.mark.parametrize(
    ("name", "edit", "expected"), MATRIX_EDITS, ids=[e[0] for e in MATRIX_EDITS]
)
def test_matrix_files_that_break_the_format(
    run: Run,
    write: Callable[[str, str | bytes], Path],
    raw_matrix: dict[str, Any],
    name: str,
    edit: Callable[[dict[str, Any]], object],
    expected: str,
) -> None:
    path = write(f"{name}.yaml", _matrix(raw_matrix, edit))
    refused(run("--matrix", str(path), "matrix", "show"), expected, family="matrix files")


def _matrix_bytes(bundled_raw: dict[str, Any]) -> bytes:
    return yaml.safe_dump(bundled_raw, sort_keys=False, allow_unicode=True).encode()


MATRIX_BYTES: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("whitespace", lambda _: b" \n\t\n", "is empty"),
    ("comment-only", lambda _: b"# nothing here\n", "holds no YAML or JSON document"),
    ("nul-inside", lambda good: good[:200] + b"\x00" + good[200:], "is binary"),
    ("elf", lambda _: b"\x7fELF\x02\x01\x01" + bytes(500), "is binary"),
    ("gzip", lambda good: b"\x1f\x8b\x08\x00" + good[:100], "is binary"),
    ("latin-1", lambda _: "addon: vpc-cni\nnote: caf\u00e9\n".encode("latin-1"), "UTF-8"),
    (
        "utf-16-broken",
        lambda good: codecs.BOM_UTF16_LE + good[:101],
        "is not valid UTF-16",
    ),
    ("utf-16-no-bom", lambda good: good.decode().encode("utf-16-le"), "is binary"),
    ("control-chars", lambda _: b"addon: vpc\x07cni\x1b[0m\n", "is not valid YAML"),
    ("tab-indent", lambda _: b"addon: vpc-cni\nkubernetes_versions:\n\t'1.30': {}\n", "YAML"),
    ("scalar", lambda _: b"vpc-cni\n", "expected a mapping at the top level"),
    ("null", lambda _: b"null\n", "matrix file"),
    ("json-list", lambda _: b"[1, 2, 3]", "expected a mapping at the top level"),
    ("two-documents", lambda good: good + b"\n---\n" + good, "more than one YAML document"),
    ("deep-json", lambda _: _deep(10_000, json_form=True), "matrix file"),
    ("deep-yaml", lambda _: _deep(10_000, json_form=False), "matrix file"),
    ("deep-flow", lambda _: b"[" * 10_000 + b"]" * 10_000, "is not valid YAML"),
    ("truncated-half", lambda good: good[: len(good) // 2] + b"\n  - {", "is not valid YAML"),
    ("truncated-json", lambda good: json.dumps(yaml.safe_load(good)).encode()[:-3], "YAML"),
    ("python-tag", lambda _: b"addon: !!python/name:os.system\n", "matrix file"),
    ("recursive-alias", lambda _: b"addon: &a [*a]\n", "recursive YAML alias"),
    ("duplicate-keys", lambda good: good + b"\naddon: coredns\n", "matrix file"),
    ("binary-tag", lambda _: b"addon: !!binary aGVsbG8=\n", "matrix file"),
    (
        "unquoted-date",
        lambda good: good.replace(b"as_of: '2024-09-12'", b"as_of: 2024-09-12"),
        "is a date",
    ),
]


@pytest.mark.parametrize(
    ("name", "make", "expected"), MATRIX_BYTES, ids=[m[0] for m in MATRIX_BYTES]
)
def test_matrix_files_that_are_not_matrices(
    run: Run,
    write: Callable[[str, str | bytes], Path],
    bundled_raw: dict[str, Any],
    name: str,
    make: Callable[[bytes], bytes],
    expected: str,
) -> None:
    path = write(f"{name}.yaml", make(_matrix_bytes(bundled_raw)))
    refused(
        run("--matrix", str(path), "plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1"),
        expected,
        family="matrix files",
    )


def test_huge_and_missing_matrix_files(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as handle:
        handle.truncate(20 * 1024 * 1024)
    refused(
        run("--matrix", str(huge), "matrix", "show"), "larger than 16 MiB", family="matrix files"
    )
    padded = tmp_path / "padded.yaml"  # 3 MB of comments, then no matrix at all
    padded.write_bytes(b"# padding\n" * 300_000 + b"addon: vpc-cni\n")
    refused(run("--matrix", str(padded), "matrix", "show"), "matrix file", family="matrix files")
    refused(
        run("--matrix", str(tmp_path / "absent.yaml"), "matrix", "show"),
        "No such file or directory",
        family="matrix files",
    )
    refused(run("--matrix", str(tmp_path), "matrix", "show"), "directory", family="matrix files")
    refused(run("--matrix", "", "matrix", "show"), "matrix", family="matrix files")
    # The same file named through the environment instead of --matrix.
    monkeypatch.setenv("EKSADDON_MATRIX", str(padded))
    refused(run("matrix", "show"), "matrix file", family="matrix files")


_MATRIX_FIELDS: dict[str, Callable[[dict[str, Any], object], None]] = {
    "latest": lambda m, v: m["kubernetes_versions"]["1.29"].__setitem__("latest", v),
    "format_version": lambda m, v: m.__setitem__("format_version", v),
    "max_minor_step": lambda m, v: m["upgrade_policy"].__setitem__("max_minor_step", v),
    "build version": lambda m, v: m["builds"][3].__setitem__("version", v),
    "kubernetes_versions": lambda m, v: m.__setitem__("kubernetes_versions", v),
    "builds": lambda m, v: m.__setitem__("builds", v),
}

_WRONG = st.one_of(
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), min_size=1, max_size=3),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
    st.booleans(),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12).filter(
        lambda t: _ADDON_RE.fullmatch(t) is None and not t.isdigit()
    ),
)


@settings(HYPOTHESIS, max_examples=20)
@given(field=st.sampled_from(sorted(_MATRIX_FIELDS)), value=_WRONG)
def test_generated_matrix_fields_of_the_wrong_kind(
    run: Run,
    tmp_path_factory: pytest.TempPathFactory,
    bundled_raw: dict[str, Any],
    field: str,
    value: object,
) -> None:
    raw = json.loads(json.dumps(bundled_raw))
    _MATRIX_FIELDS[field](raw, value)
    path = tmp_path_factory.mktemp("matrix") / "generated.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    refused(run("--matrix", str(path), "matrix", "show"), "matrix file", family="matrix files")


# === DaemonSet backups =========================================================================


def _ds(change: Callable[[dict[str, Any]], object]) -> bytes:
    document = daemonset("v1.15.5")
    change(document)
    return yaml.safe_dump(document).encode()


def _pod_spec(document: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = document["spec"]["template"]["spec"]
    return spec


def _aws_node(document: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = _pod_spec(document)["containers"][0]
    return container


DAEMONSET_EDITS: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("no-kind", lambda d: d.pop("kind"), "an object with no kind"),
    ("kind-int", lambda d: d.update(kind=7), "an object with no kind"),
    ("kind-configmap", lambda d: d.update(kind="ConfigMap"), "is a ConfigMap, not a DaemonSet"),
    ("kind-pod", lambda d: d.update(kind="Pod"), "is a Pod, not a DaemonSet"),
    ("kind-lowercase", lambda d: d.update(kind="daemonset"), "not a DaemonSet"),
    ("other-name", lambda d: d["metadata"].update(name="kube-proxy"), "not 'aws-node'"),
    ("no-spec", lambda d: d.pop("spec"), "has no spec.template.spec"),
    ("spec-list", lambda d: d.update(spec=[1]), "has no spec.template.spec"),
    ("template-null", lambda d: d["spec"].update(template=None), "has no spec.template.spec"),
    ("containers-dict", lambda d: _pod_spec(d).update(containers={"a": 1}), "is not a list"),
    ("containers-string", lambda d: _pod_spec(d).update(containers="aws-node"), "is not a list"),
    ("containers-empty", lambda d: _pod_spec(d).update(containers=[]), "has no 'aws-node'"),
    ("container-scalar", lambda d: _pod_spec(d).update(containers=[5]), "is not a container"),
    ("container-no-name", lambda d: _aws_node(d).pop("name"), "is not a container with a name"),
    ("container-renamed", lambda d: _aws_node(d).update(name="cni"), "has no 'aws-node'"),
    ("no-image", lambda d: _aws_node(d).pop("image"), "has no image"),
    ("image-int", lambda d: _aws_node(d).update(image=15), "has no image"),
    ("image-empty", lambda d: _aws_node(d).update(image=""), "has no image"),
    (
        "image-digest",
        lambda d: _aws_node(d).update(
            image="602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni@sha256:" + "a" * 64
        ),
        "amazon-k8s-cni",
    ),
    (
        "image-tag-garbage",
        lambda d: _aws_node(d).update(
            image="602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:\x00"
        ),
        "is not a version",
    ),
    ("env-dict", lambda d: _aws_node(d).update(env={"A": "1"}), ".env is not a list"),
    (
        "env-no-name",
        lambda d: _aws_node(d).update(env=[{"value": "1"}]),
        "has an entry with no name",
    ),
    ("env-scalars", lambda d: _aws_node(d).update(env=["A=1"]), "has an entry with no name"),
    ("args-string", lambda d: _aws_node(d).update(args="--x"), ".args is not a list"),
    ("init-not-list", lambda d: _pod_spec(d).update(initContainers={"x": 1}), "is not a list"),
]


@pytest.mark.parametrize(
    ("name", "edit", "expected"), DAEMONSET_EDITS, ids=[e[0] for e in DAEMONSET_EDITS]
)
def test_daemonset_backups_of_the_wrong_shape(
    run: Run,
    write: Callable[[str, str | bytes], Path],
    name: str,
    edit: Callable[[dict[str, Any]], object],
    expected: str,
) -> None:
    path = write(f"{name}.yaml", _ds(edit))
    refused(
        run("check-compat", "-k", "1.29", "--daemonset", str(path)),
        expected,
        family="DaemonSet backups",
    )


DAEMONSET_BYTES: list[tuple[str, bytes, str]] = [
    ("utf-16-le-bom", codecs.BOM_UTF16_LE + "kind: ConfigMap\n".encode("utf-16-le"), "ConfigMap"),
    ("utf-16-be-bom", codecs.BOM_UTF16_BE + "[1, 2]\n".encode("utf-16-be"), "holds a list"),
    ("utf-16-odd", codecs.BOM_UTF16_LE + b"k\x00i\x00n", "is not valid UTF-16"),
    ("utf-8-bom-list", codecs.BOM_UTF8 + b"- 1\n", "holds a list"),
    # UTF-32's BOM starts like UTF-16's: read as UTF-16, the NULs of UTF-32 are no YAML.
    ("utf-32", "kind: DaemonSet\n".encode("utf-32"), "is not valid YAML"),
    ("cp1252", "kind: DaemonSet\nname: \u201caws-node\u201d\n".encode("cp1252"), "UTF-8"),
    ("bel-and-escape", b"kind: Daemon\x07Set\x1b\n", "is not valid YAML"),
    ("nul-middle", yaml.safe_dump(daemonset()).encode()[:50] + b"\x00\x00", "is binary"),
    ("deep-json", _deep(10_000, json_form=True), "DaemonSet backup"),
    ("deep-yaml", _deep(10_000, json_form=False), "DaemonSet backup"),
    ("json-string", b'"aws-node"', "holds a str"),
    ("json-null", b"null", "holds a NoneType"),
    ("json-bool", b"true", "holds a bool"),
    ("json-float", b"1.5e300", "holds a str"),  # YAML 1.1 wants a dot in a float
    (
        "kubectl-describe",
        b"Name:         aws-node\nSelector:     k8s-app=aws-node\n",
        "with no kind",
    ),
    ("helm-template", b"kind: DaemonSet\nspec: {{ .Values.spec }}\n", "DaemonSet backup"),
    ("no-documents", b"---\n...\n", "DaemonSet backup"),
    ("empty-then-doc", b"---\n---\nkind: DaemonSet\n", "more than one YAML document"),
    ("set-tag", b"!!set {a, b}\n", "holds a set"),
    ("long-line", b"kind: " + b"D" * 2_000_000 + b"\n", "not a DaemonSet"),
]


@pytest.mark.parametrize(
    ("name", "content", "expected"), DAEMONSET_BYTES, ids=[d[0] for d in DAEMONSET_BYTES]
)
def test_daemonset_backups_that_are_not_yaml_daemonsets(
    run: Run, write: Callable[[str, str | bytes], Path], name: str, content: bytes, expected: str
) -> None:
    path = write(f"{name}.yaml", content)
    err = refused(
        run("check-compat", "-k", "1.29", "--daemonset", str(path)),
        expected,
        family="DaemonSet backups",
    )
    assert len(err) < 2000  # the content is never echoed whole
    refused(
        run(
            "render", "--version", "v1.18.3", "--region", "us-west-2", "--preserve-from", str(path)
        ),
        expected,
        family="DaemonSet backups",
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "standard input is empty"),
        (b"\xff\xfe\xfd", "standard input is not valid"),
        (b"kind: Secret\n", "is a Secret"),
        (b"\x00" * 64, "standard input is binary"),
    ],
)
def test_daemonset_backups_on_stdin(run: Run, content: bytes, expected: str) -> None:
    refused(
        run("check-compat", "-k", "1.29", "--daemonset", "-", stdin=content),
        expected,
        family="DaemonSet backups",
    )


@settings(HYPOTHESIS, max_examples=40)
@given(
    where=st.sampled_from(["containers", "env", "image", "spec", "template"]),
    value=st.one_of(
        st.integers(),
        st.booleans(),
        st.none(),
        st.floats(allow_nan=False),
        st.text(max_size=20).filter(lambda t: "amazon-k8s-cni" not in t),
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    ),
)
def test_generated_daemonset_parts_of_the_wrong_kind(
    run: Run, tmp_path_factory: pytest.TempPathFactory, where: str, value: object
) -> None:
    document = daemonset("v1.15.5")
    if where == "containers":
        _pod_spec(document)["containers"] = value
    elif where == "env":
        if isinstance(value, dict) and not value:
            value = {"A": 1}
        _aws_node(document)["env"] = value
        if value is None:  # no env at all is a valid DaemonSet; take the image instead
            _aws_node(document)["image"] = None
    elif where == "image":
        _aws_node(document)["image"] = value
    elif where == "spec":
        document["spec"] = value
    else:
        document["spec"]["template"] = value
    path = tmp_path_factory.mktemp("ds") / "aws-node.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    refused(
        run("check-compat", "-k", "1.29", "--daemonset", str(path)),
        "DaemonSet backup",
        family="DaemonSet backups",
    )


# === Configuration values (live: upgrade and install against the stand-in) ===================

UNPARSABLE_VALUES: list[tuple[str, str, str]] = [
    ("flow-open", "{", "neither JSON nor YAML"),
    ("list-open", "[1", "neither JSON nor YAML"),
    ("json-trailing-comma", '{"env": {"A": "1",}', "neither JSON nor YAML"),
    ("mapping-in-scalar", "env: a: b", "neither JSON nor YAML"),
    ("tab", "env:\n\tA: 1", "neither JSON nor YAML"),
    ("two-docs", "a: 1\n---\nb: 2", "neither JSON nor YAML"),
    ("python-tag", "!!python/object/apply:os.system [id]", "neither JSON nor YAML"),
    ("bell", "env: {A: \x07}", "neither JSON nor YAML"),
    ("deep-json", "[" * 10_000 + "]" * 10_000, "nested too deeply"),
    ("deep-object", '{"a":' * 10_000 + "1" + "}" * 10_000, "nested too deeply"),
    ("deep-flow-yaml", "a: " + "[" * 10_000 + "]" * 10_000, "neither JSON nor YAML"),
    ("deep-block-yaml", "- " * 5_000 + "x", "neither JSON nor YAML"),
    ("recursive-alias", "env: &a [*a]", "recursive YAML alias"),
    ("list", '["env"]', "must be a JSON or YAML object, not list"),
    ("string", '"env"', "must be a JSON or YAML object, not str"),
    ("number", "42", "must be a JSON or YAML object, not int"),
    ("bool", "true", "must be a JSON or YAML object, not bool"),
    ("null", "null", "must be a JSON or YAML object, not NoneType"),
    ("yaml-scalar", "WARM_IP_TARGET=5", "must be a JSON or YAML object, not str"),
    ("yaml-list", "- env\n- init", "must be a JSON or YAML object, not list"),
    ("yaml-binary", "env: {A: !!binary aGk=}", "at $.env.A hold a YAML bytes"),
    ("yaml-set", "env: !!set {a, b}", "at $.env hold a YAML set"),
    ("int-key", "{1: a}", "have the key 1 at $, a int"),
    ("null-key", "env: {~: a}", "have the key None at $.env"),
]


def _bomb() -> str:
    levels = "abcdefghi"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for below, level in itertools.pairwise(levels):
        lines.append(f"{level}: &{level} [{', '.join([f'*{below}'] * 9)}]")
    return "\n".join(lines)


UNPARSABLE_VALUES.append(("yaml-bomb", _bomb(), "(a YAML bomb?)"))


@pytest.mark.parametrize(
    ("name", "values", "expected"), UNPARSABLE_VALUES, ids=[u[0] for u in UNPARSABLE_VALUES]
)
def test_configuration_values_that_do_not_parse(
    run: Run, live: Live, name: str, values: str, expected: str
) -> None:
    refused(
        run(*UPGRADE, "--configuration-values", values),
        expected,
        family="configuration values",
    )
    refused(
        run(*INSTALL, "--configuration-values", values),
        expected,
        family="configuration values",
    )
    live.assert_no_call()


VALUE_FILES: list[tuple[str, bytes | None, str]] = [
    ("empty", b"", "configuration values file"),
    ("binary", bytes(range(256)), "is binary"),
    ("latin-1", "env: {A: caf\u00e9}\n".encode("latin-1"), "is not valid UTF-8"),
    ("utf-16-list", "[1, 2]".encode("utf-16"), "must be a JSON or YAML object, not list"),
    ("utf-8-bom-list", codecs.BOM_UTF8 + b"[1]", "must be a JSON or YAML object, not list"),
    ("deep", b"[" * 10_000 + b"]" * 10_000, "is not valid YAML"),
    ("bomb", _bomb().encode(), "(a YAML bomb?)"),
    ("two-documents", b"a: 1\n---\nb: 2\n", "more than one YAML document"),
    ("truncated", b'{"env": {"WARM_IP_TARGET": "5"', "is not valid YAML"),
    ("nul", b'{"env": {}}\x00', "is binary"),
    ("missing", None, "No such file or directory"),
]


@pytest.mark.parametrize(
    ("name", "content", "expected"), VALUE_FILES, ids=[v[0] for v in VALUE_FILES]
)
def test_configuration_value_files(
    run: Run,
    live: Live,
    write: Callable[[str, str | bytes], Path],
    tmp_path: Path,
    name: str,
    content: bytes | None,
    expected: str,
) -> None:
    path = tmp_path / "absent.json" if content is None else write(f"{name}.json", content)
    refused(
        run(*UPGRADE, "--configuration-values", f"@{path}"), expected, family="configuration values"
    )
    refused(
        run(*INSTALL, "--configuration-values", f"@{path}"), expected, family="configuration values"
    )
    live.assert_no_call()


def test_configuration_value_files_odd_names(run: Run, live: Live, tmp_path: Path) -> None:
    refused(
        run(*UPGRADE, "--configuration-values", "@"), "names no file", family="configuration values"
    )
    refused(
        run(*UPGRADE, "--configuration-values", f"@{tmp_path}"),
        "is a directory",
        family="configuration values",
    )
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(17 * 1024 * 1024)
    refused(
        run(*UPGRADE, "--configuration-values", f"@{huge}"),
        "is larger than 16 MiB",
        family="configuration values",
    )
    live.assert_no_call()


# Values that parse but break the vpc-cni schema the stand-in serves: refused before any change,
# with the JSON path of the first problem.
SCHEMA_VIOLATIONS: list[tuple[str, str]] = [
    ('{"env":{"WARM_IP_TARGET":5}}', "$.env.WARM_IP_TARGET"),
    ('{"env":{"WARM_IP_TARGET":null}}', "$.env.WARM_IP_TARGET"),
    ('{"env":{"WARM_IP_TARGET":["5"]}}', "$.env.WARM_IP_TARGET"),
    ('{"env":{"ENABLE_PREFIX_DELEGATION":true}}', "$.env.ENABLE_PREFIX_DELEGATION"),
    ('{"env":{"MINIMUM_IP_TARGET":NaN}}', "$.env.MINIMUM_IP_TARGET"),
    ('{"env":{"MAX_ENI":Infinity}}', "$.env.MAX_ENI"),
    ('{"env":{"NOT_A_SETTING":"1"}}', "$.env"),
    ('{"env":"WARM_IP_TARGET=5"}', "$.env"),
    ('{"env":[{"name":"WARM_IP_TARGET","value":"5"}]}', "$.env"),
    ('{"unknownTopLevel":1}', "$:"),
    ('{"init":{"env":{"DISABLE_TCP_EARLY_DEMUX":false}}}', "$.init.env.DISABLE_TCP_EARLY_DEMUX"),
    ('{"init":{"env":{"WARM_IP_TARGET":"5"}}}', "$.init.env"),
    ('{"nodeAgent":{"enablePolicyEventLogs":1}}', "$.nodeAgent.enablePolicyEventLogs"),
    ('{"resources":{"limits":{"cpu":1}}}', "$.resources.limits.cpu"),
    ('{"resources":{"limits":{"gpu":"1"}}}', "$.resources.limits"),
    ('{"livenessProbeTimeoutSeconds":"10"}', "$.livenessProbeTimeoutSeconds"),
    ('{"readinessProbeTimeoutSeconds":1.5}', "$.readinessProbeTimeoutSeconds"),
    ('{"tolerations":{"key":"x"}}', "$.tolerations"),
    ('{"tolerations":["x"]}', "$.tolerations[0]"),
    ('{"affinity":"anywhere"}', "$.affinity"),
    ('{"eniConfig":{"create":true}}', "$.eniConfig"),
    (
        '{"eniConfig":{"create":"yes","region":"us-west-2","subnets":{"a":{"id":"s"}}}}',
        "$.eniConfig.create",
    ),
    ('{"eniConfig":{"create":true,"region":"us-west-2","subnets":{}}}', "$.eniConfig.subnets"),
    ('{"enableNetworkPolicy":true}', "$.enableNetworkPolicy"),
    ("env:\n  WARM_IP_TARGET: 5\n", "$.env.WARM_IP_TARGET"),
    ("env:\n  ENABLE_POD_ENI: yes\n", "$.env.ENABLE_POD_ENI"),
    ("env:\n  WARM_ENI_TARGET: 0x10\n", "$.env.WARM_ENI_TARGET"),
    # An unquoted YAML date is the string it was written as (as EKS reads YAML), never a crash.
    ("livenessProbeTimeoutSeconds: 2024-01-01\n", "$.livenessProbeTimeoutSeconds"),
    ("env:\n  AWS_VPC_K8S_CNI_LOGLEVEL: 2024-01-01\n  WARM_IP_TARGET: 5\n", "$.env.WARM_IP_TARGET"),
    ("tolerations: [2024-01-01T00:00:00Z]\n", "$.tolerations[0]"),
    ('{"env":{"' + "A" * 5000 + '":"1"}}', "$.env"),
    ('{"env":{"WARM_IP_TARGET":"' + "5" * 100_000 + '"}, "x": 1}', "$:"),
]


@pytest.mark.parametrize(
    ("values", "path"), SCHEMA_VIOLATIONS, ids=[repr(v[0])[:40] for v in SCHEMA_VIOLATIONS]
)
def test_configuration_values_that_break_the_schema(
    run: Run, live: Live, values: str, path: str
) -> None:
    line = refused_after_progress(
        run(*UPGRADE, "--configuration-values", values),
        "configuration schema at " + path.rstrip(":"),
        family="configuration values",
    )
    assert "see `aws eks describe-addon-configuration --addon-name vpc-cni" in line
    assert len(line) < 1000
    assert "DescribeAddonConfiguration" in live.history
    live.assert_unchanged()


def test_configuration_values_that_break_the_schema_on_install(run: Run, live: Live) -> None:
    for values, path in SCHEMA_VIOLATIONS[:6]:
        refused_after_progress(
            run(*INSTALL, "--configuration-values", values),
            "configuration schema at " + path,
            family="configuration values",
        )
    live.assert_unchanged()


_SCHEMA_ENV = ("WARM_IP_TARGET", "MINIMUM_IP_TARGET", "ENABLE_PREFIX_DELEGATION", "MAX_ENI")


@settings(HYPOTHESIS, max_examples=12)
@given(
    name=st.sampled_from(_SCHEMA_ENV),
    value=st.one_of(
        st.integers(),
        st.booleans(),
        st.none(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.lists(st.text(max_size=3), max_size=2),
        st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    ),
)
def test_generated_configuration_values_that_break_the_schema(
    run: Run, live: Live, name: str, value: object
) -> None:
    live.server.standin.reset_counters()
    refused_after_progress(
        run(*UPGRADE, "--configuration-values", json.dumps({"env": {name: value}})),
        f"configuration schema at $.env.{name}",
        family="configuration values",
    )
    live.assert_unchanged()


# === Journals (a damaged or edited journal in the state directory, then `upgrade`) ============


def _journal(**plan_changes: Any) -> dict[str, Any]:
    """A journal `upgrade` would write for prod (v1.16.4 → v1.18.3), stopped before step 1."""
    steps = [
        ("v1.16.4-eksbuild.2", "v1.17.1-eksbuild.1"),
        ("v1.17.1-eksbuild.1", "v1.18.3-eksbuild.3"),
    ]
    document: dict[str, Any] = {
        "journal_version": 2,
        "region": "us-west-2",
        "cluster": CLUSTER,
        "addon": "vpc-cni",
        "identity": {
            "cluster": CLUSTER,
            "region": "us-west-2",
            "arn": f"arn:aws:eks:us-west-2:{DEFAULT_ACCOUNT_ID}:cluster/{CLUSTER}",
            "addon": "vpc-cni",
            "kubernetes_version": "1.29",
            "platform_version": "eks.5",
        },
        "state": "stopped",
        "created_at": "2026-11-28T00:00:00Z",
        "updated_at": "2026-11-28T00:00:00Z",
        "plan": {
            "kubernetes_version": "1.29",
            "addon_type": "managed",
            "from": INSTALLED,
            "to": "v1.18.3-eksbuild.3",
            "requested": "latest",
            **plan_changes,
        },
        "settings": {
            "resolve_conflicts": "PRESERVE",
            "configuration_values": VALUES,
            "service_account_role_arn": None,
            "carried_settings": [],
        },
        "backup": "/var/lib/eksaddon/backups/us-west-2_prod_vpc-cni_20261128T000000Z.json",
        "steps": [
            {
                "index": number,
                "from": source,
                "to": target,
                "state": "pending",
                "update_id": None,
                "attempt": 1,
                "started_at": None,
                "finished_at": None,
                "errors": [],
            }
            for number, (source, target) in enumerate(steps, start=1)
        ],
        "last_error": None,
    }
    document["fingerprint"] = fingerprint(document)
    return document


def _dumps(document: Any) -> bytes:
    return json.dumps(document, indent=2).encode()


def _edited(change: Callable[[dict[str, Any]], object], *, refingerprint: bool = False) -> bytes:
    document = _journal()
    change(document)
    if refingerprint:
        document["fingerprint"] = fingerprint(document)
    return _dumps(document)


DAMAGED = "is damaged or was edited"
UNREADABLE = "cannot be read"

JOURNALS: list[tuple[str, bytes, str]] = [
    ("empty", b"", UNREADABLE),
    ("whitespace", b"\n\n  ", UNREADABLE),
    ("binary", bytes(range(256)) * 4, UNREADABLE),
    ("nul-bytes", b"\x00" * 100, UNREADABLE),
    ("utf-16", _dumps(_journal()).decode().encode("utf-16"), UNREADABLE),
    ("utf-8-bom", codecs.BOM_UTF8 + _dumps(_journal()), UNREADABLE),
    (
        "latin-1",
        _dumps(_journal()).replace(b'"stopped"', '"arr\u00eat\u00e9"'.encode("latin-1")),
        UNREADABLE,
    ),
    ("truncated", _dumps(_journal())[:-20], UNREADABLE),
    ("truncated-half", _dumps(_journal())[:300], UNREADABLE),
    ("yaml-not-json", yaml.safe_dump(_journal()).encode(), UNREADABLE),
    ("control-chars", _dumps(_journal()).replace(b"stopped", b"stop\x07ped\x1b"), UNREADABLE),
    ("list", b"[]", DAMAGED),
    ("string", b'"journal"', DAMAGED),
    ("number", b"1", DAMAGED),
    ("null", b"null", DAMAGED),
    ("empty-object", b"{}", DAMAGED),
    ("version-3", _edited(lambda d: d.update(journal_version=3)), DAMAGED),
    ("version-string", _edited(lambda d: d.update(journal_version="2")), DAMAGED),
    ("version-1-no-identity", _edited(lambda d: d.update(journal_version=1)), "older eksaddon"),
    ("identity-dropped", _edited(lambda d: d.pop("identity"), refingerprint=True), DAMAGED),
    (
        "identity-not-the-top-level-cluster",
        _edited(lambda d: d["identity"].update(cluster="other"), refingerprint=True),
        DAMAGED,
    ),
    ("identity-edited", _edited(lambda d: d["identity"].update(arn="arn:x")), DAMAGED),
    ("no-fingerprint", _edited(lambda d: d.pop("fingerprint")), DAMAGED),
    ("wrong-fingerprint", _edited(lambda d: d.update(fingerprint="0" * 64)), DAMAGED),
    ("step-edited", _edited(lambda d: d["steps"][1].update(to="v1.18.2-eksbuild.1")), DAMAGED),
    ("step-added", _edited(lambda d: d["steps"].append(dict(d["steps"][1]))), DAMAGED),
    ("step-removed", _edited(lambda d: d["steps"].pop()), DAMAGED),
    ("cluster-edited", _edited(lambda d: d.update(cluster="other")), DAMAGED),
    ("region-int", _edited(lambda d: d.update(region=5)), DAMAGED),
    ("steps-dict", _edited(lambda d: d.update(steps={"1": {}})), DAMAGED),
    ("step-no-state", _edited(lambda d: d["steps"][0].pop("state")), DAMAGED),
    ("step-scalar", _edited(lambda d: d["steps"].__setitem__(0, "v1.17.1")), DAMAGED),
    ("plan-list", _edited(lambda d: d.update(plan=[])), DAMAGED),
    ("kubernetes-edited", _edited(lambda d: d["plan"].update(kubernetes_version="1.30")), DAMAGED),
    ("huge", _dumps({**_journal(), "padding": "x" * 4_000_000}).replace(b"1.29", b"1.28"), DAMAGED),
    (
        "moved-meanwhile",
        _edited(
            lambda d: [s.update({"from": "v1.15.5-eksbuild.1"}) for s in d["steps"][:1]],
            refingerprint=True,
        ),
        "expects vpc-cni at v1.15.5-eksbuild.1 for step 1 of 2, but cluster prod runs",
    ),
    (
        "later-step-garbage",
        _edited(lambda d: d["steps"][1].update({"from": "garbage"}), refingerprint=True),
        DAMAGED,
    ),
]


@pytest.mark.parametrize(("name", "content", "expected"), JOURNALS, ids=[j[0] for j in JOURNALS])
def test_damaged_or_edited_journals(
    run: Run, live: Live, name: str, content: bytes, expected: str
) -> None:
    path = live.state / JOURNAL
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    line = refused_after_progress(run(*UPGRADE), expected, family="journals")
    assert str(path) in line or "invalid add-on version" in line
    assert path.read_bytes() == content  # the journal is left for the operator to look at
    live.assert_unchanged()


def test_a_journal_carrying_the_add_on_elsewhere(run: Run, live: Live) -> None:
    path = live.state / JOURNAL
    path.parent.mkdir(parents=True)
    path.write_bytes(_dumps(_journal()))
    for target in ("v1.17.1-eksbuild.1", "default", "v1.16.4-eksbuild.2"):
        refused_after_progress(
            run(*UPGRADE, "--to", target),
            f"is carrying vpc-cni to latest, not {target}",
            family="journals",
        )
    live.assert_unchanged()


def test_a_directory_where_the_journal_should_be(run: Run, live: Live) -> None:
    (live.state / JOURNAL).mkdir(parents=True)
    refused_after_progress(run(*UPGRADE), "it is not a regular file", family="journals")
    live.assert_unchanged()


@settings(HYPOTHESIS, max_examples=12)
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        st.builds(lambda cut: _dumps(_journal())[:cut], st.integers(min_value=0, max_value=600)),
    ).filter(lambda data: not _is_intact_journal(data))
)
def test_generated_garbage_journals(run: Run, live: Live, content: bytes) -> None:
    live.server.standin.reset_counters()
    path = live.state / JOURNAL
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    refused_after_progress(run(*UPGRADE), f"journal {path}", family="journals")
    live.assert_unchanged()


def _is_intact_journal(data: bytes) -> bool:
    try:
        return bool(json.loads(data) == _journal())
    except (ValueError, RecursionError):
        return False


# Journals the engine once half-followed (each reason says how), now refused before any change.
def _journal_bug(name: str, content: bytes, expected: str, reason: str) -> Any:
    return pytest.param(content, expected, id=name)


JOURNAL_BUGS: list[Any] = [
    _journal_bug(
        "deep-nesting",
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        UNREADABLE,
        "Journal.load catches only OSError and ValueError; json.loads raises RecursionError: "
        "internal error, exit 3",
    ),
    _journal_bug(
        "plan-without-kubernetes-version",
        _edited(lambda d: d["plan"].pop("kubernetes_version")),
        DAMAGED,
        "_well_formed does not require plan.kubernetes_version; fingerprint() raises KeyError: "
        "internal error, exit 3",
    ),
    _journal_bug(
        "settings-removed",
        _edited(lambda d: d.pop("settings")),
        DAMAGED,
        "settings are neither checked nor fingerprinted; Upgrader._settings raises KeyError: "
        "internal error, exit 3",
    ),
    _journal_bug(
        "backup-null",
        _edited(lambda d: d.update(backup=None)),
        DAMAGED,
        "backup is neither checked nor fingerprinted; Path(None) raises TypeError after the "
        "resuming: line: internal error, exit 3",
    ),
    _journal_bug(
        "settings-values-break-schema",
        _edited(lambda d: d["settings"].update(configuration_values='{"env":{"MAX_ENI":5}}')),
        "configuration schema at $.env.MAX_ENI",
        "settings are not fingerprinted and a resumed journal's configuration values are never "
        "checked against the schema: both UpdateAddon requests are sent with them",
    ),
    _journal_bug(
        "step-state-unknown",
        _edited(lambda d: d["steps"][0].update(state="exploded")),
        DAMAGED,
        "a step state outside pending/sending/in-flight/succeeded/failed is accepted and the "
        "step is sent: UpdateAddon",
    ),
    _journal_bug(
        "step-from-not-a-string",
        _edited(lambda d: d["steps"][0].update({"from": 1}), refingerprint=True),
        DAMAGED,
        "a step whose from is a number passes _well_formed; _check_position's sorted() then "
        "raises TypeError: internal error, exit 3",
    ),
]


@pytest.mark.parametrize(("content", "expected"), JOURNAL_BUGS)
def test_journals_the_engine_once_followed_are_refused(
    run: Run, live: Live, content: bytes, expected: str
) -> None:
    path = live.state / JOURNAL
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    refused_after_progress(run(*UPGRADE), expected, family="journals")
    live.assert_unchanged()


# === Flags and their combinations ==============================================================

OFFLINE_FLAGS: list[tuple[list[str], str]] = [
    (["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "--bogus"], "No such option '--bogus'"),
    (["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "-x"], "No such option '-x'"),
    (
        ["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "extra"],
        "Got unexpected extra argument",
    ),
    (["plan", "-k", "1.29", "--from"], "Option '--from' requires an argument"),
    (["plan", "-k"], "Option '-k' requires an argument"),
    (
        ["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "--type", ""],
        "Invalid value for '--type'",
    ),
    (
        ["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "--type", "MANAGED"],
        "Invalid value for '--type'",
    ),
    (["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "-o", ""], "Invalid value for '-o'"),
    (["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "--feature", ""], "unknown feature ''"),
    (
        ["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "--feature", "IPV6"],
        "unknown feature 'IPV6'",
    ),
    (
        [
            "plan",
            "-k",
            "1.29",
            "--from",
            "v1.16.0-eksbuild.1",
            "--feature",
            "ipv6,prefix-delegation",
        ],
        "unknown feature",
    ),
    (
        ["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "--feature", "\x00"],
        "unknown feature",
    ),
    (
        ["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "--addon", ""],
        "no bundled matrix for add-on ''",
    ),
    (
        ["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "--addon", "../../etc/passwd"],
        "no bundled matrix",
    ),
    (
        ["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "--addon", "VPC-CNI"],
        "no bundled matrix",
    ),
    (["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "--debug"], "No such option '--debug'"),
    (
        ["plan", "-k", "1.29", "--from", "v1.16.0-eksbuild.1", "--matrix", "m.yaml"],
        "No such option '--matrix'",
    ),
    (
        [
            "plan",
            "-k",
            "1.29",
            "--from",
            "v1.16.0-eksbuild.1",
            "--to",
            "v1.18.3-eksbuild.3",
            "--to",
        ],
        "requires an argument",
    ),
    (["--matrix"], "Option '--matrix' requires an argument"),
    (["--bogus", "plan"], "No such option '--bogus'"),
    (["Plan", "-k", "1.29"], "No such command 'Plan'"),
    (["plan\x00"], "No such command"),
    (["", "plan"], "No such command ''"),
    (["matrix", "show", "-k", "1.29", "-o", "junit"], "Invalid value for '-o'"),
    (["matrix", "show", "--addon", "adot"], "no bundled matrix for add-on 'adot'"),
    (["matrix", "bogus"], "No such command 'bogus'"),
    (["check-compat"], "give --kubernetes-version (offline), --cluster (live)"),
    (["check-compat", "-k", "1.29"], "give exactly one of --addon-version and --daemonset"),
    (
        ["check-compat", "-k", "1.29", "--addon-version", "v1.18.3", "--daemonset", "ds.yaml"],
        "give exactly one of --addon-version and --daemonset",
    ),
    (
        ["check-compat", "-k", "1.29", "--addon-version", "v1.18.3", "--fail-on", "ERROR"],
        "Invalid value for '--fail-on'",
    ),
    (
        ["check-compat", "-k", "1.29", "--addon-version", "v1.18.3", "--annotations", "gitlab"],
        "Invalid value for '--annotations'",
    ),
    (
        [
            "check-compat",
            "-k",
            "1.29",
            "--addon-version",
            "v1.18.3",
            "-o",
            "json",
            "--annotations",
            "github",
        ],
        "--annotations share stdout with the report",
    ),
    (
        ["check-compat", "-k", "1.29", "--addon-version", "v1.18.3", "--shard", "1/2"],
        "--shard applies to fleets",
    ),
    (
        [
            "check-compat",
            "-k",
            "1.29",
            "--addon-version",
            "v1.18.3",
            "--region",
            "a",
            "--region",
            "b",
        ],
        "one --region for a single cluster",
    ),
    (["check-compat", "--cluster", "prod", "-k", "1.29"], "--cluster reads the versions from EKS"),
    (
        ["check-compat", "--cluster", "prod", "--addon-version", "v1.18.3"],
        "--cluster reads the versions from EKS",
    ),
    (
        ["check-compat", "--cluster", "prod", "--all-clusters"],
        "choose one of --cluster, --all-clusters",
    ),
    (
        ["check-compat", "--clusters", "c.yaml", "--all-clusters"],
        "choose one of --cluster, --all-clusters",
    ),
    (["check-compat", "--all-clusters", "--concurrency", "0"], "Invalid value for '--concurrency'"),
    (
        ["check-compat", "--all-clusters", "--concurrency", "257"],
        "Invalid value for '--concurrency'",
    ),
    (
        ["check-compat", "--all-clusters", "--concurrency", "-1"],
        "Invalid value for '--concurrency'",
    ),
    (
        ["check-compat", "--all-clusters", "--concurrency", "1.5"],
        "Invalid value for '--concurrency'",
    ),
    (
        ["check-compat", "--all-clusters", "--concurrency", "nan"],
        "Invalid value for '--concurrency'",
    ),
    (
        ["check-compat", "--all-clusters", "--concurrency", "9" * 400],
        "Invalid value for '--concurrency'",
    ),
    (["check-compat", "--all-clusters", "--shard", "0/4"], "--shard '0/4' is not I/N"),
    (["check-compat", "--all-clusters", "--shard", "5/4"], "--shard '5/4' is not I/N"),
    (["check-compat", "--all-clusters", "--shard", "1/0"], "is not I/N"),
    (["check-compat", "--all-clusters", "--shard", "-1/4"], "is not I/N"),
    (["check-compat", "--all-clusters", "--shard", "1/4/8"], "is not I/N"),
    (["check-compat", "--all-clusters", "--shard", "a/b"], "is not I/N"),
    (["check-compat", "--all-clusters", "--shard", ""], "is not I/N"),
    (["check-compat", "--all-clusters", "--shard", "1"], "is not I/N"),
    (["check-compat", "--all-clusters", "--shard", "1/99999"], "is not I/N"),
    (["check-compat", "--all-clusters", "--shard", "1 /2"], "is not I/N"),
    (
        ["render", "--version", "v1.18.3"],
        "give --region: the manifest's images come from that region's registry",
    ),
    (
        ["render", "--version", "v1.18.3", "--region", "us-west-2", "-o", "table"],
        "Invalid value for '-o'",
    ),
    (["status"], "Missing option '--cluster'"),
    (["upgrade", "--cluster"], "Option '--cluster' requires an argument"),
    (["install"], "Missing option '--cluster'"),
    (["migrate"], "Missing option '--cluster'"),
]


@pytest.mark.parametrize(
    ("args", "expected"), OFFLINE_FLAGS, ids=[repr(" ".join(a))[:60] for a, _ in OFFLINE_FLAGS]
)
def test_bad_flags(run: Run, args: list[str], expected: str) -> None:
    refused(run(*args), expected, family="flags")


# click's parser raises these without a context; the boundary finds the command's own.
@pytest.mark.parametrize(
    ("args", "command", "expected"),
    [
        (["plan", "-k", "1.29", "--from"], "eksaddon plan", "Option '--from' requires an argument"),
        (
            ["install", "--cluster", CLUSTER, "--yes=1"],
            "eksaddon install",
            "Option '--yes' does not take a value",
        ),
    ],
)
def test_parser_errors_name_the_command(
    run: Run, args: list[str], command: str, expected: str
) -> None:
    err = refused(run(*args), expected, family="flags")
    assert err.startswith(f"{ERROR}{command}: "), err
    assert f"(see '{command} --help')" in err


# Flags of the live commands: refused before anything reaches EKS.
LIVE_FLAGS: list[tuple[list[str], str]] = [
    ([*UPGRADE, "--timeout", "0"], "Invalid value for '--timeout'"),
    ([*UPGRADE, "--timeout", "-5"], "Invalid value for '--timeout'"),
    ([*UPGRADE, "--timeout", "0.999"], "Invalid value for '--timeout'"),
    ([*UPGRADE, "--timeout", "ten"], "Invalid value for '--timeout'"),
    ([*UPGRADE, "--timeout", ""], "Invalid value for '--timeout'"),
    ([*UPGRADE, "--timeout", "-inf"], "Invalid value for '--timeout'"),
    ([*UPGRADE, "--poll-interval", "0"], "Invalid value for '--poll-interval'"),
    ([*UPGRADE, "--poll-interval", "0.01"], "Invalid value for '--poll-interval'"),
    ([*UPGRADE, "--poll-interval", "-1"], "Invalid value for '--poll-interval'"),
    ([*UPGRADE, "--poll-interval", "1e-9"], "Invalid value for '--poll-interval'"),
    ([*UPGRADE, "--poll-interval", "0x10"], "Invalid value for '--poll-interval'"),
    ([*UPGRADE, "--resolve-conflicts", "merge"], "Invalid value for '--resolve-conflicts'"),
    ([*UPGRADE, "--resolve-conflicts", ""], "Invalid value for '--resolve-conflicts'"),
    ([*UPGRADE, "--to", "v1.18"], "Invalid value for '--to'"),
    ([*UPGRADE, "--to", ""], "Invalid value for '--to'"),
    ([*UPGRADE, "-o", "junit"], "Invalid value for '-o'"),
    ([*UPGRADE, "--feature", "ipv6"], "No such option '--feature'"),
    ([*UPGRADE, "--version", "v1.18.3-eksbuild.3"], "No such option '--version'"),
    ([*UPGRADE, "--dry-run=yes"], "does not take a value"),
    ([*UPGRADE, "--yes", "please"], "Got unexpected extra argument"),
    (
        [*UPGRADE, "--to", "v1.17.1-eksbuild.1", "--configuration-values", "{"],
        "neither JSON nor YAML",
    ),
    ([*INSTALL, "--version", "v1.18"], "Invalid value for '--version'"),
    ([*INSTALL, "--version", "newest"], "Invalid value for '--version'"),
    ([*INSTALL, "--to", "latest"], "No such option '--to'"),
    ([*INSTALL, "--timeout", "0"], "Invalid value for '--timeout'"),
    ([*INSTALL, "--poll-interval", "0"], "Invalid value for '--poll-interval'"),
    ([*INSTALL, "--resolve-conflicts", "overwrite"], "No such option '--resolve-conflicts'"),
    (["migrate", "--cluster", CLUSTER, "--yes", "--timeout", "0"], "Invalid value for '--timeout'"),
    (
        ["migrate", "--cluster", CLUSTER, "--poll-interval", "-2"],
        "Invalid value for '--poll-interval'",
    ),
    (["migrate", "--cluster", CLUSTER, "-o", "yaml"], "Invalid value for '-o'"),
    (["migrate", "--cluster", CLUSTER, "--configuration-values", "{}"], "No such option"),
    (["migrate", "--cluster", CLUSTER, "--to", "latest"], "No such option '--to'"),
    (["status", "--cluster", CLUSTER, "-o", "junit"], "Invalid value for '-o'"),
    (["status", "--cluster", CLUSTER, "--yes"], "No such option '--yes'"),
    (["status", "--cluster", CLUSTER, "--region"], "Option '--region' requires an argument"),
    (
        ["check-compat", "--cluster", CLUSTER, "--daemonset", "x.yaml"],
        "--cluster reads the versions",
    ),
    (
        ["check-compat", "--cluster", CLUSTER, "--target-kubernetes-version", "1.28"],
        "--target-kubernetes-version 1.28 is below the cluster's 1.29",
    ),
    # With a target, --cluster is the whole-cluster gate: a target two minors ahead is its
    # one-minor-at-a-time error finding (exit 1, tests/cli/test_gate_cli.py), not a bad flag.
    (
        ["check-compat", "--cluster", CLUSTER, "--target-kubernetes-version", "1.30", "-k", "1.29"],
        "the cluster-upgrade gate reads every version from EKS and Kubernetes",
    ),
    (["check-compat", "--cluster", CLUSTER, "--feature", "warp-drive"], "unknown feature"),
    (
        ["check-compat", "--cluster", CLUSTER, "--region", "us-west-2", "--region", "eu-west-1"],
        "one --region for a single cluster",
    ),
    (["matrix", "refresh", "-k", "1.29"], "Missing option '--write'"),
    (["matrix", "refresh", "-k", "x", "--write", "out.yaml"], "invalid Kubernetes version"),
    (["matrix", "diff", "-k", "1.29", "-o", "junit"], "Invalid value for '-o'"),
]


@pytest.mark.parametrize(
    ("args", "expected"), LIVE_FLAGS, ids=[repr(" ".join(a[2:]))[:70] for a, _ in LIVE_FLAGS]
)
def test_bad_flags_of_live_commands(run: Run, live: Live, args: list[str], expected: str) -> None:
    result = run(*args)
    if args[0] in ("upgrade", "install"):
        refused_after_progress(result, expected, family="flags")
    else:
        refused(result, expected, family="flags")
    live.assert_unchanged()
    # A flag error is found before the first request; a refused combination may only read.
    assert all(op.startswith(("Describe", "List")) for op in live.history), live.history


# click.FloatRange lets nan through (every comparison with nan is false): the Seconds type not.
@pytest.mark.parametrize(
    ("flag", "value"),
    [("--poll-interval", "nan"), ("--poll-interval", "-NaN"), ("--timeout", "nan")],
)
def test_not_a_number_for_the_waits(run: Run, live: Live, flag: str, value: str) -> None:
    base = [a for a in UPGRADE if a not in ("--poll-interval", "0.05", "--timeout", "5")]
    extra = ["--timeout", "5"] if flag == "--poll-interval" else ["--poll-interval", "0.05"]
    refused_after_progress(
        run(*base, *extra, flag, value), f"Invalid value for '{flag}'", family="flags"
    )
    live.assert_unchanged()


# === Clusters files (check-compat --clusters FILE) ============================================

CLUSTER_FILES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "clusters file"),
    ("binary", b"\x00\x01\x02", "is binary"),
    ("latin-1", "- caf\u00e9\n".encode("latin-1"), "is not valid UTF-8"),
    ("scalar", b"prod\n", "must hold a non-empty list of clusters"),
    ("empty-list", b"[]\n", "must hold a non-empty list of clusters"),
    ("mapping-no-clusters", b"prod: {region: us-west-2}\n", "must hold a non-empty list"),
    ("clusters-scalar", b"clusters: prod\n", "must hold a non-empty list"),
    ("clusters-empty", b"clusters: []\n", "must hold a non-empty list"),
    ("entry-int", b"- 5\n", "entry 0 is not a mapping with a name"),
    ("entry-list", b"- [prod]\n", "entry 0 is not a mapping with a name"),
    ("entry-null", b"- prod\n- null\n", "entry 1 is not a mapping with a name"),
    ("no-name", b"- {region: us-west-2}\n", "entry 0 has no name"),
    ("name-empty", b"- {name: ''}\n", "entry 0 has no name"),
    ("name-int", b"- {name: 7}\n", "entry 0 has no name"),
    ("unknown-key", b"- {name: prod, zone: a}\n", "has unknown key 'zone'"),
    ("region-list", b"- {name: prod, region: [us-west-2]}\n", "region must be a string"),
    ("profile-int", b"- {name: prod, profile: 1}\n", "profile must be a string"),
    ("role-bool", b"- {name: prod, role_arn: true}\n", "role_arn must be a string"),
    ("twice", b"- prod\n- {name: prod}\n", "is listed twice"),
    ("deep", b"[" * 10_000 + b"]" * 10_000, "is not valid YAML"),
    ("bomb", _bomb().encode(), "(a YAML bomb?)"),
    ("two-documents", b"- prod\n---\n- staging\n", "more than one YAML document"),
    ("truncated", b"- {name: prod, region: us-we", "is not valid YAML"),
]


@pytest.mark.parametrize(
    ("name", "content", "expected"), CLUSTER_FILES, ids=[c[0] for c in CLUSTER_FILES]
)
def test_bad_clusters_files(
    run: Run,
    live: Live,
    write: Callable[[str, str | bytes], Path],
    name: str,
    content: bytes,
    expected: str,
) -> None:
    path = write(f"{name}.yaml", content)
    refused(run("check-compat", "--clusters", str(path)), expected, family="clusters files")
    live.assert_no_call()


def test_missing_clusters_files(run: Run, live: Live, tmp_path: Path) -> None:
    refused(
        run("check-compat", "--clusters", str(tmp_path / "absent.yaml")),
        "No such file or directory",
        family="clusters files",
    )
    refused(
        run("check-compat", "--clusters", str(tmp_path)), "is a directory", family="clusters files"
    )
    live.assert_no_call()


@settings(HYPOTHESIS, max_examples=30)
@given(
    entry=st.one_of(
        st.integers(),
        st.floats(allow_nan=False),
        st.booleans(),
        st.lists(st.text(max_size=5), max_size=3),
        st.dictionaries(
            st.sampled_from(["region", "profile", "role_arn", "zone", "Name"]),
            st.text(max_size=5),
            max_size=3,
        ),
        st.fixed_dictionaries(
            {"name": st.one_of(st.integers(), st.lists(st.integers()), st.just(""), st.none())}
        ),
    )
)
def test_generated_clusters_file_entries(
    run: Run, live: Live, tmp_path_factory: pytest.TempPathFactory, entry: object
) -> None:
    live.server.standin.reset_counters()
    path = tmp_path_factory.mktemp("fleet") / "clusters.yaml"
    path.write_text(yaml.safe_dump([CLUSTER, entry]), encoding="utf-8")
    refused(run("check-compat", "--clusters", str(path)), "entry 1", family="clusters files")
    live.assert_no_call()


# === The self-managed side: a real kube-apiserver, the aws-node DaemonSet left alone ==========


def test_self_managed_bad_inputs_change_nothing_on_the_cluster(
    run: Run, live: Live, kube_fresh: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.eks.models import eks_backends

    from eksaddon.gateways.kube import KubeGateway
    from eksaddon.nodeside.render import render
    from eksaddon.versions import AddonVersion
    from standins.kube import make_node

    live.server.create_cluster("selfish", "1.29")
    cluster = eks_backends[live.server.account_id][live.server.region].clusters["selfish"]
    cluster.endpoint = kube_fresh.url
    with kube_fresh.client() as api:
        make_node(api, "node-a")
    kube = KubeGateway(kubeconfig=kube_fresh.kubeconfig_path, context=kube_fresh.context)
    for document in render(AddonVersion.parse("v1.15.5"), "us-west-2"):
        kube.apply(document)
    for name, value in kube_fresh.env().items():
        monkeypatch.setenv(name, value)

    def version_of_aws_node() -> str:
        with kube_fresh.client() as api:
            from kubernetes.client import AppsV1Api

            found = AppsV1Api(api).read_namespaced_daemon_set("aws-node", "kube-system")
            assert found.metadata is not None
            return str(found.metadata.resource_version)

    before = version_of_aws_node()
    live.server.standin.reset_counters()
    common = ("--kubeconfig", kube_fresh.kubeconfig_path, "--context", kube_fresh.context)
    upgrade = ("upgrade", "--cluster", "selfish", "--yes", "--poll-interval", "0.05", *common)
    cases: list[tuple[tuple[str, ...], str]] = [
        ((*upgrade, "--configuration-values", "{"), "neither JSON nor YAML"),
        ((*upgrade, "--configuration-values", "[1, 2]"), "must be a JSON or YAML object"),
        ((*upgrade, "--configuration-values", "[" * 10_000), "nested too deeply"),
        ((*upgrade, "--to", "v1.18"), "Invalid value for '--to'"),
        ((*upgrade, "--timeout", "0"), "Invalid value for '--timeout'"),
        ((*upgrade, "--resolve-conflicts", "force"), "Invalid value for '--resolve-conflicts'"),
        (("migrate", "--cluster", "selfish", "--yes", *common, "--timeout", "-1"), "'--timeout'"),
        (("migrate", "--cluster", "selfish", "--yes", *common, "--bogus"), "No such option"),
        (("migrate", "--cluster", "selfish", *common, "--poll-interval", "0"), "'--poll-interval'"),
    ]
    for args, expected in cases:
        result = run(*args)
        if args[0] == "upgrade":
            refused_after_progress(result, expected, family="self-managed")
        else:
            refused(result, expected, family="self-managed")
    assert version_of_aws_node() == before
    live.assert_unchanged()
