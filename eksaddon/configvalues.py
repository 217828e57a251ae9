"""Add-on configuration values: parse them and check them against the add-on's JSON schema.

EKS accepts configurationValues as JSON or YAML text and validates them against the schema that
describe_addon_configuration returns for the target version. eksaddon checks first, for every step
of a plan, so a bad value stops the run before anything is sent, with the JSON path of the problem.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from eksaddon.datafiles import parse_document, read_bytes
from eksaddon.errors import InputError
from eksaddon.versions import AddonVersion


def load_option(value: str) -> str:
    """``--configuration-values``: ``@FILE`` or inline JSON/YAML; returns the text to send."""
    if value.startswith("@"):
        data = read_bytes(Path(value[1:]), what="configuration values file")
        parse_document(data, what="configuration values file", label=value[1:])
        text = data.decode("utf-8-sig")
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
    except ValueError:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InputError(
                f"{label} are neither JSON nor YAML: {str(error).splitlines()[0]}"
            ) from None
    if not isinstance(document, dict):
        raise InputError(f"{label} must be a JSON or YAML object, not {type(document).__name__}")
    return document


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
    problem = next(iter(validator.iter_errors(document)), None)
    if problem is not None:
        path = "$" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem.instance_path
        )
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
