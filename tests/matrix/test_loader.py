from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eksaddon.errors import MatrixError
from eksaddon.matrix import cache, load_matrix
from eksaddon.matrix.loader import bundled_addons
from tests_support import write_yaml


def test_bundled_matrix_loads_from_the_package(bundled_raw: dict[str, Any]) -> None:
    matrix = load_matrix("vpc-cni")
    assert matrix.addon == "vpc-cni"
    assert matrix.origin == "bundled vpc-cni.yaml"
    assert "vpc-cni" in bundled_addons()


def test_unknown_addon_names_the_bundled_ones() -> None:
    bundled = "aws-ebs-csi-driver, coredns, eks-pod-identity-agent, kube-proxy, vpc-cni"
    with pytest.raises(
        MatrixError, match=rf"no bundled matrix for add-on 'adot' \(bundled: {bundled}\)"
    ):
        load_matrix("adot")


def test_override_argument_wins_over_environment(
    tmp_path: Path, raw_matrix: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw_matrix["as_of"] = "from-argument"
    argument = write_yaml(tmp_path / "argument.yaml", raw_matrix)
    raw_matrix["as_of"] = "from-environment"
    environment = write_yaml(tmp_path / "environment.yaml", raw_matrix)
    monkeypatch.setenv("EKSADDON_MATRIX", str(environment))
    assert load_matrix("vpc-cni").as_of == "from-environment"
    assert load_matrix("vpc-cni", argument).as_of == "from-argument"


def test_matrix_for_another_addon_is_refused(tmp_path: Path, raw_matrix: dict[str, Any]) -> None:
    raw_matrix["addon"] = "coredns"
    path = write_yaml(tmp_path / "m.yaml", raw_matrix)
    with pytest.raises(MatrixError, match="describes add-on 'coredns', not 'vpc-cni'"):
        load_matrix("vpc-cni", path)


def test_a_new_addon_is_a_new_yaml_file_not_new_code(
    tmp_path: Path, raw_matrix: dict[str, Any]
) -> None:
    raw_matrix["addon"] = "example-addon"
    raw_matrix.pop("daemonset")
    raw_matrix["features"] = {}
    path = write_yaml(tmp_path / "example.yaml", raw_matrix)
    assert load_matrix("example-addon", path).daemonset is None


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = document
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = document
        for key in parents:
            node = node[key]
        del node[last]

    return mutate


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (
            _set("format_version", 2),
            "format_version: this eksaddon reads format 1, the file says 2",
        ),
        (_set("kubernetes_versions/1.30/latest", "v1.18"), "kubernetes_versions.1.30.latest:"),
        (_set("kubernetes_versions/1.30/latest", 1.18), "kubernetes_versions.1.30.latest:"),
        (
            _delete("kubernetes_versions/1.29/latest"),
            'kubernetes_versions.1.29: "latest" is a required',
        ),
        (_set("builds/0/kubernetes_versions", ["1.3o"]), "builds.0.kubernetes_versions.0:"),
        (_set("builds/0/unexpected", True), "builds.0: Additional properties"),
        (_set("upgrade_policy/max_minor_step", 0), "upgrade_policy.max_minor_step:"),
        (_set("kubernetes_versions", {}), "kubernetes_versions:"),
        (_delete("builds"), '(top level): "builds" is a required property'),
        (_set("features/ipv6/detect", []), "features.ipv6.detect:"),
        (
            _set("self_managed/releases/0/version", "v1.23.0-eksbuild.1"),
            "self_managed.releases.0.version:",
        ),
    ],
)
def test_schema_errors_name_the_file_and_key_path(
    tmp_path: Path, raw_matrix: dict[str, Any], mutation: Mutation, expected: str
) -> None:
    mutation(raw_matrix)
    path = write_yaml(tmp_path / "broken.yaml", raw_matrix)
    with pytest.raises(MatrixError) as caught:
        load_matrix("vpc-cni", path)
    assert f"matrix file {path}: " in caught.value.message
    assert expected in caught.value.message


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (
            _set("kubernetes_versions/1.30/latest", "v1.18.2-eksbuild.9"),
            "kubernetes_versions.1.30.latest: v1.18.2-eksbuild.9 is not a build offered",
        ),
        (
            _set("kubernetes_versions/1.30/latest", "v1.18.2-eksbuild.1"),
            "kubernetes_versions.1.30.latest: v1.18.2-eksbuild.1 is older than v1.18.3-eksbuild.3",
        ),
        (
            _set("kubernetes_versions/1.30/default", "v1.7.5-eksbuild.2"),
            "kubernetes_versions.1.30.default: v1.7.5-eksbuild.2 is not a build offered",
        ),
        (
            _set("builds/1/version", "v1.18.3-eksbuild.3"),
            "builds: v1.18.3-eksbuild.3 is listed 2 times",
        ),
        (
            _set("builds/0/kubernetes_versions", ["1.31"]),
            "offered for Kubernetes 1.31, which has no entry",
        ),
        (_set("builds/0/version", "v1.18.3"), "builds: v1.18.3 is a plain release"),
        (
            _set("upgrade_policy/gates/0/requires_current_at_least", "v1.13.0"),
            "requires_current_at_least must be below target_at_least",
        ),
        (
            _set("features/ipv6/detect", [{"container": "nope", "env": "X", "equals": "1"}]),
            "features.ipv6.detect: container 'nope' is not under daemonset.containers",
        ),
    ],
)
def test_consistency_errors_name_the_file_and_what_is_wrong(
    tmp_path: Path, raw_matrix: dict[str, Any], mutation: Mutation, expected: str
) -> None:
    mutation(raw_matrix)
    path = write_yaml(tmp_path / "inconsistent.yaml", raw_matrix)
    with pytest.raises(MatrixError) as caught:
        load_matrix("vpc-cni", path)
    assert f"matrix file {path}: " in caught.value.message
    assert expected in caught.value.message


def test_leading_zeros_are_refused_with_the_key_path(
    tmp_path: Path, raw_matrix: dict[str, Any]
) -> None:
    raw_matrix["builds"][0]["version"] = "v1.18.3-eksbuild.03"
    path = write_yaml(tmp_path / "m.yaml", raw_matrix)
    with pytest.raises(MatrixError, match=f"matrix file {path}: builds.0.version: "):
        load_matrix("vpc-cni", path)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ('as_of: "2024-09-12"', "as_of: 2024-09-12"),
            "as_of: 2024-09-12 is a date; quote it",
        ),
        (
            ('"1.30":', "1.30:"),
            "kubernetes_versions: the key 1.3 is a float, not a string; quote versions and dates as written",
        ),
    ],
)
def test_yaml_types_json_cannot_hold_are_named(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    from importlib import resources

    text = resources.files("version_matrix").joinpath("vpc-cni.yaml").read_text(encoding="utf-8")
    assert edit[0] in text
    path = tmp_path / "edited.yaml"
    path.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(MatrixError) as caught:
        load_matrix("vpc-cni", path)
    assert expected in caught.value.message


def test_cache_keeps_only_the_newest_entries(tmp_path: Path, raw_matrix: dict[str, Any]) -> None:
    for number in range(cache.KEEP + 3):
        raw_matrix["as_of"] = f"revision {number}"
        load_matrix("vpc-cni", write_yaml(tmp_path / f"m{number}.yaml", raw_matrix))
    assert len(list((tmp_path / "cache").glob("matrix-*.json"))) == cache.KEEP


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"   \n\n", "is empty"),
        (b"\x00\x01\x02binary", "is binary"),
        (b"\xff\xfe\x00garbage\xff", "is not valid"),
        (b"- just\n- a list\n", "expected a mapping at the top level, found a list"),
        (b"format_version: 1\naddon: [unclosed", "is not valid YAML"),
        (b"a: 1\n---\nb: 2\n", "more than one YAML document"),
    ],
)
def test_unreadable_matrix_files(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    with pytest.raises(MatrixError, match=expected):
        load_matrix("vpc-cni", path)


def test_missing_matrix_file(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match="cannot read matrix file .*No such file"):
        load_matrix("vpc-cni", tmp_path / "absent.yaml")


def test_validated_documents_are_cached_by_content(
    tmp_path: Path, raw_matrix: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_yaml(tmp_path / "m.yaml", raw_matrix)
    first = load_matrix("vpc-cni", path)
    entries = list((tmp_path / "cache").glob("matrix-*.json"))
    assert len(entries) == 1
    assert entries[0].stat().st_mode & 0o077 == 0
    parsed: list[bool] = []
    monkeypatch.setattr(
        "eksaddon.matrix.loader.parse_document", lambda *a, **k: parsed.append(True)
    )
    assert load_matrix("vpc-cni", path) == first
    assert parsed == []


def test_a_changed_file_is_validated_again(tmp_path: Path, raw_matrix: dict[str, Any]) -> None:
    path = write_yaml(tmp_path / "m.yaml", raw_matrix)
    load_matrix("vpc-cni", path)
    raw_matrix["upgrade_policy"]["max_minor_step"] = 0
    write_yaml(path, raw_matrix)
    with pytest.raises(MatrixError, match="max_minor_step"):
        load_matrix("vpc-cni", path)


def test_invalid_documents_are_never_cached(tmp_path: Path, raw_matrix: dict[str, Any]) -> None:
    raw_matrix["format_version"] = 9
    path = write_yaml(tmp_path / "m.yaml", raw_matrix)
    with pytest.raises(MatrixError):
        load_matrix("vpc-cni", path)
    assert not list((tmp_path / "cache").glob("matrix-*.json"))


def test_unusable_cache_directory_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    monkeypatch.setenv("EKSADDON_CACHE_DIR", str(blocker / "cache"))
    assert load_matrix("vpc-cni").addon == "vpc-cni"
    monkeypatch.setenv("EKSADDON_CACHE_DIR", "")
    assert cache.cache_dir() is None
    assert load_matrix("vpc-cni").addon == "vpc-cni"
