"""What every step of a managed upgrade sends, built and checked before anything is sent.

The options, the configuration values in use, and the settings running on the nodes carried into
those values by the add-on's profile (:class:`~eksaddon.addons.base.SettingsRules`). Every target
version's configuration schema checks the values first; a carried setting a target no longer
knows is refused, or dropped with ``--force`` and said. A journal's settings are checked as if they
were new: a journal is a file anyone can edit, and nothing unchecked may reach EKS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from eksaddon import configvalues
from eksaddon.addons.base import Setting, SettingsRules, unknown_to_schema
from eksaddon.engine import journal as journals
from eksaddon.engine.catalogue import check_configuration
from eksaddon.engine.journal import Journal
from eksaddon.errors import InputError, JournalMismatchError
from eksaddon.gateways.protocols import AddonState
from eksaddon.planner import Plan, Step
from eksaddon.versions import AddonVersion

if TYPE_CHECKING:
    from eksaddon.engine.upgrade import UpgradeOptions

RESOLVE_CONFLICTS = ("NONE", "PRESERVE", "OVERWRITE")
SchemaOf = Callable[[AddonVersion], dict[str, Any] | None]


class StepSettings:
    """Builds and checks one run's step settings for one add-on."""

    def __init__(self, options: UpgradeOptions, rules: SettingsRules, schema_of: SchemaOf) -> None:
        self.options = options
        self.rules = rules
        self.schema_of = schema_of

    def new(
        self,
        addon: AddonState,
        plan: Plan,
        node_settings: tuple[Setting, ...],
        *,
        validate: bool,
    ) -> dict[str, Any]:
        """What every step sends: the options, the values in use and the settings on the nodes.

        With ``validate`` (a run that will change something), carried settings a target no
        longer knows are refused or, with --force, dropped, and the values are checked against
        every target's schema, all before anything is sent.
        """
        options = self.options
        values = options.configuration_values or addon.configuration_values
        carried: tuple[Setting, ...] = ()
        if node_settings:
            document = (
                configvalues.parse(values, label="the configuration values") if values else {}
            )
            result = self.rules.carry(document, node_settings)
            carried = result.carried
            if carried:
                values = json.dumps(result.values, sort_keys=True)
        settings: dict[str, Any] = {
            "resolve_conflicts": options.resolve_conflicts,
            # Send the values in use on every step unless new ones are given: PRESERVE keeps
            # them anyway, and an explicit value means no step can fall back to defaults.
            "configuration_values": values,
            "service_account_role_arn": options.service_account_role_arn
            or addon.service_account_role_arn,
            "carried_settings": [
                {"container": c.container, "name": c.name, "value": c.value} for c in carried
            ],
            "dropped_settings": [],
        }
        if validate:
            settings = self._drop_unknown_carried(settings, plan)
            self.validate(settings["configuration_values"], plan)
        return settings

    def from_journal(self, journal: Journal, plan: Plan) -> dict[str, Any]:
        """The settings the journal sends on every step, checked as if they were new."""
        settings: dict[str, Any] = journal.document["settings"]
        carried = settings.get("carried_settings", [])
        well_formed = (
            settings.get("resolve_conflicts") in RESOLVE_CONFLICTS
            and isinstance(settings.get("configuration_values"), str | None)
            and isinstance(settings.get("service_account_role_arn"), str | None)
            and isinstance(carried, list)
            and all(
                isinstance(c, dict)
                and all(isinstance(c.get(k), str) for k in ("container", "name", "value"))
                for c in carried
            )
        )
        if not well_formed:
            raise JournalMismatchError(
                f"journal {journal.path} is damaged or was edited (its settings are not what "
                "eksaddon writes)",
                hint="move it aside, or rerun with --discard-journal to plan afresh",
            )
        remaining = [
            Step(AddonVersion.parse(s["from"]), AddonVersion.parse(s["to"]))
            for s in journal.steps
            if s["state"] != journals.SUCCEEDED
        ]
        self.validate(settings["configuration_values"], plan._replace(steps=tuple(remaining)))
        return settings

    def risks(self, settings: dict[str, Any], addon: AddonState, resumed: bool) -> tuple[str, ...]:
        """Everything in this run that could lose a setting, each as one plan warning."""
        risks = []
        if settings["resolve_conflicts"] == "OVERWRITE":
            risks.append(
                "resolveConflicts=OVERWRITE: EKS resets every field of the add-on's objects that "
                "was changed outside EKS; only the configuration values survive"
            )
        if settings.get("dropped_settings"):
            risks.append(
                "--force drops settings the target does not know: "
                + ", ".join(settings["dropped_settings"])
            )
        if not resumed and self.options.configuration_values and addon.configuration_values:
            dropped = configvalues.dropped_keys(
                configvalues.parse(addon.configuration_values, label="the values in use"),
                configvalues.parse(settings["configuration_values"], label="the new values"),
            )
            if dropped:
                risks.append(
                    "--configuration-values replaces the values in use and drops: "
                    + ", ".join(dropped)
                )
        return tuple(risks)

    def validate(self, text: str | None, plan: Plan) -> None:
        if not text:
            return
        label = "the configuration values"
        check_configuration(
            self.schema_of,
            configvalues.parse(text, label=label),
            (step.target for step in plan.steps),
            addon=self.options.addon,
            label=label,
        )

    def _drop_unknown_carried(self, settings: dict[str, Any], plan: Plan) -> dict[str, Any]:
        """Carried settings a target version's schema no longer knows: refuse, or drop (--force).

        Dropping a setting silently is the failure eksaddon exists to prevent, so it needs an
        explicit --force, and is reported either way before anything changes.
        """
        carried = settings["carried_settings"]
        if not carried or not settings["configuration_values"]:
            return settings
        items = [Setting(c["container"], c["name"], c["value"], None) for c in carried]
        unknown: dict[str, AddonVersion] = {}
        for target in dict.fromkeys(step.target for step in plan.steps):
            schema = self.schema_of(target)
            if schema is None:
                continue
            for item in unknown_to_schema(self.rules, items, _fits(schema)):
                unknown.setdefault(item.name, target)
        if not unknown:
            return settings
        names = [f"{name} (not known to {version})" for name, version in unknown.items()]
        if not self.options.force:
            raise InputError(
                f"settings running on the nodes would be lost: {', '.join(names)}",
                hint="remove them first, or pass --force to drop them",
            )
        document = configvalues.parse(settings["configuration_values"], label="the values")
        document = self.rules.remove(document, unknown)
        kept = [c for c in carried if c["name"] not in unknown]
        return {
            **settings,
            "configuration_values": json.dumps(document, sort_keys=True),
            "carried_settings": kept,
            "dropped_settings": names,
        }


def _fits(schema: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    return lambda document: configvalues.fits(document, schema)
