"""Add-on configuration values: parse them and check them against the add-on's JSON schema.

EKS accepts configurationValues as JSON or YAML text and validates them against the schema that
describe_addon_configuration returns for the target version. eksaddon checks first, for every step
of a plan, so a bad value stops the run before anything is sent, with the JSON path of the problem.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import yaml

from eksaddon.datafiles import decode_text, load_yaml_text, parse_document, read_bytes
from eksaddon.errors import InputError
from eksaddon.versions import AddonVersion


def load_option(value: str) -> str:
    """``--configuration-values``: ``@FILE`` or inline JSON/YAML; returns the text to send."""
    if value.startswith("@"):
        name = value[1:]
        if not name:
            raise InputError(
                "--configuration-values @ names no file",
                hint="write @FILE, or give the JSON or YAML inline",
            )
        what = "configuration values file"
        data = read_bytes(Path(name), what=what)
        parse_document(data, what=what, label=name)
        # The same decoding the check used (a UTF-16 file from PowerShell included).
        text = decode_text(data, what=what, label=name)
    else:
        text = value
    parse(text, label="--configuration-values")
    return text


def parse(text: str, *, label: str) -> dict[str, Any]:
    """The mapping in ``text`` (JSON or YAML, as EKS accepts); InputError naming ``label``."""
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except RecursionError:
        raise InputError(
            f"{label} are nested too deeply to be configuration values",
            hint="pass the add-on's configuration as a flat JSON or YAML object",
        ) from None
    except ValueError:
        # The same guarded loader as files: no alias bombs, no recursive aliases, no deep nesting.
        try:
            document = load_yaml_text(text, subject=label)
        except yaml.YAMLError as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise InputError(f"{label} are neither JSON nor YAML: {first}") from None
    if not isinstance(document, dict):
        raise InputError(f"{label} must be a JSON or YAML object, not {type(document).__name__}")
    _refuse_what_json_cannot_carry(document, label=label)
    return document


def _json_path(parts: tuple[str | int, ...]) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)


def _refuse_what_json_cannot_carry(document: dict[str, Any], *, label: str) -> None:
    """Bring YAML's extra types to what EKS's JSON schema sees, or refuse them with their path.

    EKS reads YAML values the way Kubernetes tooling does (YAML to JSON): an unquoted date is
    the string it was written as, so a date becomes its ISO string here too. Binary, sets and
    keys that are not strings have no JSON form: refused. Iterative, so that nesting as deep as
    the parser allows cannot exhaust the Python stack.
    """
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        parts, value = stack.pop()
        if isinstance(value, dict):
            items: list[tuple[str | int, Any]] = []
            for key, item in value.items():
                if not isinstance(key, str):
                    raise InputError(
                        f"{label} have the key {key!r} at {_json_path(parts)}, a "
                        f"{type(key).__name__} and not a string",
                        hint="quote the key",
                    )
                items.append((key, item))
        elif isinstance(value, list):
            items = list(enumerate(value))
        else:
            continue
        for key, item in items:
            if isinstance(item, (datetime.date, datetime.datetime)):
                value[key] = item.isoformat()
            elif isinstance(item, (dict, list)):
                stack.append(((*parts, key), item))
            elif not (item is None or isinstance(item, (str, int, float))):
                raise InputError(
                    f"{label} at {_json_path((*parts, key))} hold a YAML "
                    f"{type(item).__name__}, which JSON cannot carry",
                    hint="write a string, number, boolean, list or object there",
                )


def validate(
    document: dict[str, Any],
    schema: dict[str, Any],
    *,
    addon: str,
    version: AddonVersion,
    label: str,
) -> None:
    """InputError with the JSON path of the first value that breaks ``schema``."""
    import jsonschema_rs

    try:
        validator = jsonschema_rs.validator_for(schema)
    except Exception as error:  # a schema EKS sent that jsonschema-rs cannot compile
        raise InputError(
            f"the {addon} {version} configuration schema cannot be used: {error}"
        ) from None
    try:
        problem = next(iter(validator.iter_errors(document)), None)
    except (ValueError, TypeError, OverflowError) as error:  # values jsonschema-rs cannot read
        raise InputError(
            f"{label} cannot be checked against the {addon} {version} configuration schema: {error}"
        ) from None
    if problem is not None:
        path = _json_path(tuple(problem.instance_path))
        message = problem.message if len(problem.message) < 200 else problem.message[:197] + "..."
        raise InputError(
            f"{label} do not fit the {addon} {version} configuration schema at {path}: {message}",
            hint=f"see `aws eks describe-addon-configuration --addon-name {addon} "
            f"--addon-version {version}`",
        )


def fits(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """Whether ``document`` passes ``schema`` (an unusable schema counts as passing)."""
    import jsonschema_rs

    try:
        return bool(jsonschema_rs.validator_for(schema).is_valid(document))
    except Exception:  # the full validation reports an unusable schema with its reason
        return True


def dropped_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted paths of the settings in ``old`` that ``new`` no longer has (sorted).

    A key whose value is an object counts through its leaves: replacing ``{"env": {"A": "1"}}``
    with ``{"env": {"B": "2"}}`` drops ``env.A``.
    """
    dropped: list[str] = []
    for key, value in old.items():
        if key not in new:
            dropped.append(str(key))
        elif isinstance(value, dict) and isinstance(new[key], dict):
            dropped.extend(f"{key}.{inner}" for inner in dropped_keys(value, new[key]))
    return sorted(dropped)
