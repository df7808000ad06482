"""The promotion contract between a building (upstream) stack and the stacks that promote from it.

The upstream exports it as one stack output, `promotion`; a promoting (downstream) stack reads it with a
StackReference and checks it against where it runs itself before any resource uses it. What it names:

- the upstream's registry (URL, ARN, name, account, region): the images the downstream deploys, by digest;
- the upstream's pipeline (name, ARN): its "execution succeeded" events start a promotion;
- the tags the upstream's Publish step gives an image it deployed and verified: `verified-<commit7>`
  and `execution-<pipeline execution id>` (which execution verified it);
- the CPU architecture the images are built for, and the accounts the upstream grants access to;
- the supply-chain gate's evidence: the AWS Signer profile that signs every pushed digest
  (`signingProfileArn`, null when imageSigning is off) and the records bucket that keeps each verified
  digest's SBOM as `sbom/<digest>.json` (`recordsBucket` and its key `recordsKeyArn`, null when
  scanSeverityThreshold is off: no scan, no SBOM). A downstream whose own gate is on refuses a contract
  without them: it verifies the upstream's signature and rescans the upstream's SBOM itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.delivery.registry import VERIFIED_TAG_PREFIX

# The output's name, and the version of its shape: a downstream refuses a contract it does not know.
CONTRACT_OUTPUT = "promotion"
# A stack with `services`: one output, {service name: that service's contract} (each contract as `promotion` is).
SERVICES_CONTRACT_OUTPUT = "promotions"
CONTRACT_VERSION = 1
# Tags of an image the upstream deployed and verified (tags are immutable: each is added once).
EXECUTION_TAG_PREFIX = "execution-"
# The object in a downstream's inbox whose creation starts its pipeline (functions/promotion_collector.py).
INBOX_KEY = "promotion.zip"
PROMOTION_FILE = "promotion.json"
# The supply-chain gate's fields (added to version 1: an upstream deployed before them lacks them, and a
# downstream whose gate is on says so instead of reporting a version mismatch).
SIGNING_PROFILE_FIELD = "signingProfileArn"
RECORDS_BUCKET_FIELD = "recordsBucket"
RECORDS_KEY_FIELD = "recordsKeyArn"


class PromotionError(Exception):
    """The upstream's contract does not fit this stack; the message says how to fix it. (Not a ValueError:
    the SDK re-wraps those in "While processing input ..." messages that bury this one.)"""


def contract_output(
    *,
    repository_url: pulumi.Input[str],
    repository_arn: pulumi.Input[str],
    repository_name: pulumi.Input[str],
    pipeline_name: pulumi.Input[str],
    pipeline_arn: pulumi.Input[str],
    account_id: pulumi.Input[str],
    region: pulumi.Input[str],
    cpu_architecture: str,
    downstream_accounts: Sequence[str],
    signing_profile_arn: pulumi.Input[str] | None = None,
    records_bucket: pulumi.Input[str] | None = None,
    records_key_arn: pulumi.Input[str] | None = None,
) -> pulumi.Output[dict[str, Any]]:
    """What a building stack exports as `promotion`. `signing_profile_arn`: None when the stack does not sign;
    `records_bucket`/`records_key_arn`: None when it keeps no SBOM (no scan)."""
    return pulumi.Output.from_input(
        {
            "version": CONTRACT_VERSION,
            "repositoryUrl": repository_url,
            "repositoryArn": repository_arn,
            "repositoryName": repository_name,
            "pipelineName": pipeline_name,
            "pipelineArn": pipeline_arn,
            "accountId": account_id,
            "region": region,
            "verifiedTagPrefix": VERIFIED_TAG_PREFIX,
            "executionTagPrefix": EXECUTION_TAG_PREFIX,
            "cpuArchitecture": cpu_architecture,
            "downstreamAccounts": list(downstream_accounts),
            SIGNING_PROFILE_FIELD: signing_profile_arn,
            RECORDS_BUCKET_FIELD: records_bucket,
            RECORDS_KEY_FIELD: records_key_arn,
        }
    )


def check_contract(
    upstream: str,
    contract: Mapping[str, Any] | None,
    *,
    own_account: str,
    own_region: str,
    promote_from_account: str | None,
    cpu_architecture: str,
    verifies_signature: bool = False,
    rescans: bool = False,
) -> Mapping[str, Any]:
    """The upstream's contract, once it fits this stack; PromotionError naming the fix otherwise.

    `verifies_signature` (this stack's imageSigning) needs the upstream's signing profile; `rescans` (this
    stack's scanSeverityThreshold is not off) needs the upstream's records bucket, where its SBOMs are."""
    if not contract:
        raise PromotionError(
            f"promoteFrom: stack {upstream!r} exports no {CONTRACT_OUTPUT!r} output, so it is not a stack that builds "
            "(or it was last deployed before promotion existed). Fix: run `pulumi up` on it first, or promote from a stack that builds"
        )
    if contract.get("version") != CONTRACT_VERSION:
        raise PromotionError(
            f"promoteFrom: stack {upstream!r} exports promotion contract version {contract.get('version')!r}; this program reads version "
            f"{CONTRACT_VERSION}. Fix: deploy both stacks from the same version of the program"
        )
    account, region = str(contract["accountId"]), str(contract["region"])
    if region != own_region:
        # EventBridge delivers a pipeline's events in the pipeline's region only.
        raise PromotionError(
            f"promoteFrom: stack {upstream!r} runs in {region}, this stack in {own_region}; a promotion starts on the upstream "
            f"pipeline's events, which stay in its region. Fix: deploy this stack to {region} (aws:region)"
        )
    expected = promote_from_account or own_account
    if account != expected:
        fix = (
            f"set promoteFromAccount to {account!r}"
            if promote_from_account is None
            else f"set promoteFromAccount to {account!r}, or remove it if the stacks share account {own_account}"
        )
        raise PromotionError(
            f"promoteFrom: stack {upstream!r} runs in account {account}, but this stack expects {expected} "
            f"({'promoteFromAccount' if promote_from_account else 'its own account'}). Fix: {fix}"
        )
    if account != own_account and own_account not in contract.get("downstreamAccounts", []):
        raise PromotionError(
            f"promoteFrom: stack {upstream!r} (account {account}) does not list this stack's account {own_account} in its promoteToAccounts, "
            f"so its registry and its pipeline events are closed to this account. Fix: add {own_account!r} to promoteToAccounts of "
            f"{upstream!r} and run `pulumi up` on it"
        )
    if contract.get("cpuArchitecture") != cpu_architecture:
        raise PromotionError(
            f"cpuArchitecture: {cpu_architecture!r} does not match the images stack {upstream!r} builds ({contract.get('cpuArchitecture')!r}). "
            f"Fix: set cpuArchitecture to {contract.get('cpuArchitecture')!r}"
        )
    if verifies_signature and not contract.get(SIGNING_PROFILE_FIELD):
        raise PromotionError(
            f"promoteFrom: stack {upstream!r} exports no {SIGNING_PROFILE_FIELD} in its promotion contract (its imageSigning is off, or it "
            "was last deployed before image signing existed), but this stack's imageSigning is on: it deploys only images the upstream's "
            f"signing profile signed. Fix: upgrade {upstream!r} first: set its imageSigning to on (or auto) and run `pulumi up` on it, "
            "then on this stack"
        )
    if rescans and not (contract.get(RECORDS_BUCKET_FIELD) and contract.get(RECORDS_KEY_FIELD)):
        raise PromotionError(
            f"promoteFrom: stack {upstream!r} exports no {RECORDS_BUCKET_FIELD} and {RECORDS_KEY_FIELD} in its promotion contract (its "
            "scanSeverityThreshold is off, or it was last deployed before the scan gate existed), but this stack rescans the upstream's "
            f"SBOM of every promoted image (scanSeverityThreshold is not off). Fix: upgrade {upstream!r} first: set its "
            "scanSeverityThreshold (or remove it: auto) and run `pulumi up` on it, then on this stack"
        )
    return contract


def stack_exports(exports: Mapping[str, Mapping[str, Any]], *, implicit: bool) -> dict[str, Any]:
    """The stack outputs of its services' image origins (`ImageOrigin.exports` of each, by service name).

    A stack without `services` (`implicit`): its one service's outputs, unchanged (`promotion` in a building stack).
    With `services`: every service's contract in one `promotions` output, {service name: contract}; any other output
    (a promoting stack's `promotesFrom`) once, which every service must give alike."""
    if implicit:
        [only] = exports.values()
        return dict(only)
    out: dict[str, Any] = {}
    contracts: dict[str, Any] = {}
    for service, outputs in exports.items():
        for key, value in outputs.items():
            if key == CONTRACT_OUTPUT:
                contracts[service] = value
            elif key in out and out[key] != value:
                raise ValueError(f"stack_exports: service {service!r} exports {key}={value!r}, another service {out[key]!r}; a stack output has one value")
            else:
                out[key] = value
    if contracts:
        out[SERVICES_CONTRACT_OUTPUT] = contracts
    return out


def service_contract(upstream: str, contract: Mapping[str, Any] | None, contracts: Mapping[str, Any] | None, service: str | None) -> Mapping[str, Any] | None:
    """The contract this stack's `service` promotes from, read from the upstream's `promotion` (`contract`) and
    `promotions` (`contracts`) outputs: a stack without services (`service` None) from the upstream's one service,
    a named service from the same-named service upstream. PromotionError naming the service when the upstream has
    none of that name; None when the upstream exports no contract at all (check_contract says why)."""
    names = ", ".join(sorted(contracts or {})) or "none"
    if service is None:
        if contract is None and contracts:
            raise PromotionError(
                f"promoteFrom: stack {upstream!r} has services ({names}) and exports their contracts in {SERVICES_CONTRACT_OUTPUT!r}, "
                "but this stack has no services: each service promotes from the same-named service upstream. Fix: give this stack "
                f"the services it promotes ({names}) in its `services` list"
            )
        return contract
    if contracts and service in contracts:
        return contracts[service]
    if contracts:
        raise PromotionError(
            f"services: {service!r} promotes from the same-named service of stack {upstream!r}, which has no service {service!r} "
            f"(its services: {names}). Fix: add a service {service!r} to {upstream!r} and run `pulumi up` on it first, or rename or "
            "remove this one"
        )
    if contract is not None:
        raise PromotionError(
            f"services: {service!r} promotes from the same-named service of stack {upstream!r}, which has no services (its one "
            f"service exports {CONTRACT_OUTPUT!r}). Fix: give {upstream!r} a `services` list with {service!r} and run `pulumi up` on "
            "it first, or remove `services` from this stack"
        )
    return None


@dataclass(frozen=True)
class UpstreamContract:
    """The upstream's contract as a promoting stack uses it: each value known once the contract is checked."""

    stack: str
    """The upstream's fully qualified stack name (organization/project/stack)."""
    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    repository_name: pulumi.Output[str]
    account_id: pulumi.Output[str]
    """The upstream's account: the registry id of its repository and the source account of its events."""
    region: pulumi.Output[str]
    pipeline_name: pulumi.Output[str]
    pipeline_arn: pulumi.Output[str]
    cross_account: bool
    """The upstream runs in another account (promoteFromAccount)."""
    signing_profile_arn: pulumi.Output[str]
    """The upstream's AWS Signer profile (empty when it does not sign; refused when this stack verifies)."""
    records_bucket: pulumi.Output[str]
    """The upstream's records bucket, holding `sbom/<digest>.json` (empty when it does not scan)."""
    records_key_arn: pulumi.Output[str]
    """The KMS key that encrypts the upstream's records bucket (empty when it does not scan)."""

    @staticmethod
    def checked(upstream: str, checked: pulumi.Output[Mapping[str, Any]], cross_account: bool) -> UpstreamContract:
        def field(key: str) -> pulumi.Output[str]:
            return checked.apply(lambda contract: str(contract[key]))

        def optional(key: str) -> pulumi.Output[str]:
            return checked.apply(lambda contract: str(contract.get(key) or ""))

        return UpstreamContract(
            stack=upstream,
            repository_url=field("repositoryUrl"),
            repository_arn=field("repositoryArn"),
            repository_name=field("repositoryName"),
            account_id=field("accountId"),
            region=field("region"),
            pipeline_name=field("pipelineName"),
            pipeline_arn=field("pipelineArn"),
            cross_account=cross_account,
            signing_profile_arn=optional(SIGNING_PROFILE_FIELD),
            records_bucket=optional(RECORDS_BUCKET_FIELD),
            records_key_arn=optional(RECORDS_KEY_FIELD),
        )


def succeeded_pattern(account_id: pulumi.Input[str], pipeline_name: pulumi.Input[str]) -> dict[str, Any]:
    """EventBridge pattern: an execution of the upstream pipeline succeeded (every stage, Publish included).

    https://docs.aws.amazon.com/codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html
    The `account` field also keeps a rule on a bus that other accounts may write to from matching
    anyone else's events (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutPermission.html).
    """
    return {
        "source": ["aws.codepipeline"],
        "account": [account_id],
        "detail-type": ["CodePipeline Pipeline Execution State Change"],
        "detail": {"pipeline": [pipeline_name], "state": ["SUCCEEDED"]},
    }
