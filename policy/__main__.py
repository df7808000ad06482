"""The policy pack: each rule of policy/rules/ as one mandatory CrossGuard policy.

`pulumi preview --policy-pack policy` runs this file with __name__ == "__main__" (pulumi.policy runs the pack
directory with runpy), which starts the analyzer server. Importing it as `policy.__main__` (the tests) only
builds the policies, so the adapter can be checked without a server.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

if __package__:  # imported as policy.__main__ from the repository root (tests)
    from policy.rules import RULES, Rule, Subject
else:  # run by the policy runtime: the pack directory is sys.path[0]
    from rules import RULES, Rule, Subject  # type: ignore[no-redef]

PACK_NAME = "container-cicd-baseline"
ENFORCEMENT = EnforcementLevel.MANDATORY


def _validate_resource(rule: Rule):
    check = rule.check
    assert check is not None

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in check(args.resource_type, args.props):
            report_violation(message, None)

    return validate


def _validate_stack(rule: Rule):
    stack_check = rule.stack_check
    assert stack_check is not None

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        subjects = [
            Subject(
                type=r.resource_type,
                name=r.name,
                urn=r.urn,
                props=r.props,
                dependencies=tuple(d.urn for d in r.dependencies),
                property_dependencies={k: tuple(d.urn for d in v) for k, v in r.property_dependencies.items()},
                protect=bool(r.opts.protect),
            )
            for r in args.resources
        ]
        for urn, message in stack_check(subjects):
            report_violation(message, urn)

    return validate


def build_policies() -> list[Policy]:
    """One policy per rule: resource rules validate each resource, stack rules (which need a second
    resource, e.g. a bucket's public access block) validate the whole stack and name the resource."""
    policies: list[Policy] = []
    for rule in RULES:
        if rule.check is not None:
            policies.append(
                ResourceValidationPolicy(
                    name=rule.name,
                    description=rule.description,
                    validate=_validate_resource(rule),
                    enforcement_level=ENFORCEMENT,
                )
            )
        else:
            policies.append(
                StackValidationPolicy(
                    name=rule.name,
                    description=rule.description,
                    validate=_validate_stack(rule),
                    enforcement_level=ENFORCEMENT,
                )
            )
    return policies


if __name__ == "__main__":
    PolicyPack(name=PACK_NAME, enforcement_level=ENFORCEMENT, policies=build_policies())
