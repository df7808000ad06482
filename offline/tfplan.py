"""Export an offline-evaluated stack as Terraform plan JSON, so checkov (`--framework terraform_plan`)
scans what the program would build.

Pulumi's AWS provider is bridged from the Terraform AWS provider, so every `aws:` resource is a
Terraform resource under another name and casing. The conversion undoes what the bridge does:

- type: token `aws:<module>/<camelResource>:<Resource>` -> `aws_<module>_<snake_resource>`, with the
  bridge's exceptions (TF_TYPE_EXCEPTIONS; the installed pulumi_aws wheel ships no bridge metadata);
- attribute names: camelCase -> snake_case; a list of objects the bridge pluralised
  (`encryptionConfigurations`) is the singular Terraform block (`encryption_configuration`);
- blocks: the bridge flattens a `MaxItems: 1` block to an object; Terraform plan JSON keeps it a
  one-element list, which checkov's checks index (`image_scanning_configuration[0]`);
- references: an input equal to another resource's id, ARN or DNS name becomes a `configuration` expression
  reference (`aws_s3_bucket.artifacts_bucket.id`), which checkov's graph uses to connect resources.

What it cannot carry (components expanded only by their providers, Kubernetes objects, values known
only after deploy, references inside JSON documents) is listed in docs/policy.md, "checkov".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from offline.mocks import Resource, StackResult

FORMAT_VERSION = "1.2"
TERRAFORM_VERSION = "1.9.0"

TF_TYPE_EXCEPTIONS: dict[str, str] = {
    # The bridge names these after the Terraform resource, not after `aws_<module>_<resource>`.
    "aws:lb/loadBalancer:LoadBalancer": "aws_lb",
    "aws:codepipeline/pipeline:Pipeline": "aws_codepipeline",
    "aws:cloudtrail/trail:Trail": "aws_cloudtrail",
}
"""Tokens whose Terraform type is not the module-prefixed snake_case of the token."""

UNPREFIXED_MODULES = frozenset({"ec2"})
"""Modules whose Terraform types carry no module prefix: `aws:ec2/vpc:Vpc` is `aws_vpc`. (The bridge keeps
the prefix for a few newer ec2 types, e.g. `aws_ec2_transit_gateway`; none is registered, and
tests/test_checkov.py pins the type of every token the stacks use.)"""

MAP_ATTRIBUTES = frozenset({"tags", "tagsAll", "dimensions", "configuration", "variables"})
"""Inputs that are Terraform maps (free-form keys), not blocks: kept as objects, keys unchanged."""


def tf_type(token: str) -> str:
    """Terraform type of a pulumi-aws type token, e.g. `aws:s3/bucket:Bucket` -> `aws_s3_bucket`."""
    if token in TF_TYPE_EXCEPTIONS:
        return TF_TYPE_EXCEPTIONS[token]
    package, _, rest = token.partition(":")
    module_path, _, _ = rest.partition(":")
    module, _, resource = module_path.partition("/")
    if package != "aws" or not module or not resource:
        raise ValueError(f"{token!r} is not a pulumi-aws resource token (expected 'aws:<module>/<resource>:<Resource>')")
    parts = ["aws"] if module in UNPREFIXED_MODULES else ["aws", snake(module)]
    return "_".join([*parts, snake(resource)])


def snake(name: str) -> str:
    """camelCase -> snake_case: `retentionInDays` -> `retention_in_days`, `kmsKeyId` -> `kms_key_id`."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


# Plurals the bridge made that the -ies/-s rule below would get wrong (Terraform's `alias` block).
_IRREGULAR_SINGULARS = {"aliases": "alias"}


def _singular(name: str) -> str:
    if name in _IRREGULAR_SINGULARS:
        return _IRREGULAR_SINGULARS[name]
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def tf_values(inputs: dict[str, Any]) -> dict[str, Any]:
    """Pulumi inputs as Terraform attribute values (names, blocks)."""
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        name = snake(key)
        if key == "ruleJson" and isinstance(value, str):
            # aws_wafv2_web_acl's rules as one JSON string (the WAFv2 API's PascalCase shape): checkov reads
            # the `rule` blocks, so they are given in that shape too (ManagedRuleGroupStatement ->
            # managed_rule_group_statement, each object a one-element block list).
            out["rule"] = [tf_values(rule) for rule in json.loads(value)]
            out[name] = value
        elif key in MAP_ATTRIBUTES and isinstance(value, dict):
            out[name] = value
        elif isinstance(value, dict):
            out[name] = [tf_values(value)]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out[_singular(name)] = [tf_values(v) for v in value]
        else:
            out[name] = _number(value)
    return out


def _number(value: Any) -> Any:
    """A whole number as Terraform's plan writes it (80, not 80.0): the engine's protobuf values carry every
    number as a float, and checkov compares attribute values as strings ("80" is not "80.0")."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_number(v) for v in value]
    return value


def _identifier(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def addresses(resources: Iterable[Resource]) -> dict[str, str]:
    """Terraform address (`aws_lb.alb`) of every convertible resource, by URN; unique within the plan."""
    seen: set[str] = set()
    found: dict[str, str] = {}
    for r in resources:
        if not convertible(r):
            continue
        base = f"{tf_type(r.type)}.{_identifier(r.name)}"
        address, n = base, 1
        while address in seen:
            n += 1
            address = f"{base}_{n}"
        seen.add(address)
        found[r.urn] = address
    return found


def convertible(r: Resource) -> bool:
    return r.custom and r.type.startswith("aws:") and not r.type.startswith("pulumi:providers:")


def _references(resources: list[Resource], by_urn: dict[str, str]) -> dict[str, list[str]]:
    """`value -> [address.attribute, address]` for every resource's id, ARN and DNS name (a load balancer's, which
    an alias record names), unambiguous values only."""
    index: dict[str, list[str]] = {}
    ambiguous: set[str] = set()
    for r in resources:
        address = by_urn.get(r.urn)
        if address is None:
            continue
        for attr, value in (("id", r.id), ("arn", r.outputs.get("arn")), ("dns_name", r.outputs.get("dnsName"))):
            if not isinstance(value, str) or not value:
                continue
            if value in index and index[value][1] != address:
                ambiguous.add(value)
            index.setdefault(value, [f"{address}.{attr}", address])
    return {k: v for k, v in index.items() if k not in ambiguous}


def _referenced(value: str) -> str:
    """The id or ARN a string input is built from: itself, or a log group's ARN before the `:*` stream
    wildcard CloudTrail and others ask for (`"${aws_cloudwatch_log_group.x.arn}:*"` in Terraform)."""
    return value.removesuffix(":*")


def _expressions(values: dict[str, Any], refs: dict[str, list[str]], self_address: str) -> dict[str, Any]:
    expressions: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, str) and _referenced(value) in refs and refs[_referenced(value)][1] != self_address:
            expressions[name] = {"references": list(refs[_referenced(value)])}
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            found = [ref for v in value if v in refs and refs[v][1] != self_address for ref in refs[v]]
            expressions[name] = {"references": found} if found else {"constant_value": value}
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            expressions[name] = [_expressions(v, refs, self_address) for v in value]
        else:
            expressions[name] = {"constant_value": value}
    return expressions


def to_plan(result: StackResult) -> dict[str, Any]:
    """The stack as a Terraform plan JSON document (`terraform show -json` shape)."""
    by_urn = addresses(result.resources)
    convertible_resources = [r for r in result.resources if r.urn in by_urn]
    refs = _references(convertible_resources, by_urn)
    planned, configured, changes = [], [], []
    for r in convertible_resources:
        address = by_urn[r.urn]
        type_, _, name = address.partition(".")
        values = tf_values(r.inputs)
        planned.append(
            {"address": address, "mode": "managed", "type": type_, "name": name, "provider_name": "registry.terraform.io/hashicorp/aws", "schema_version": 0, "values": values}
        )
        configured.append(
            {
                "address": address,
                "mode": "managed",
                "type": type_,
                "name": name,
                "provider_config_key": "aws",
                "expressions": _expressions(values, refs, address),
                "schema_version": 0,
            }
        )
        changes.append(
            {
                "address": address,
                "mode": "managed",
                "type": type_,
                "name": name,
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {"actions": ["create"], "before": None, "after": values, "after_unknown": {}},
            }
        )
    return {
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {"provider_config": {"aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws"}}, "root_module": {"resources": configured}},
    }


def to_plan_json(result: StackResult) -> str:
    return json.dumps(to_plan(result), indent=1, sort_keys=True, default=str)
