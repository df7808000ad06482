"""Promoted: what a promoting stack has instead of a source repository, a build and a registry.

- a StackReference to the upstream stack, whose `promotion` contract is checked against this stack
  (region, account, CPU architecture, the grant to this account) before anything uses it;
- in another account (promoteFromAccount): a statement on this account's default event bus that lets
  the upstream account put events there (the upstream forwards its pipeline's events);
- the promotion inbox (the pipeline's Source), the collector that fills it, and the Check stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import StepContext
from components.naming import physical_name
from components.promotion.check import OwnRecords, PromotionCheck, PromotionCheckArgs
from components.promotion.collector import Collector, CollectorArgs
from components.promotion.contract import CONTRACT_OUTPUT, SERVICES_CONTRACT_OUTPUT, UpstreamContract, check_contract, service_contract
from components.promotion.inbox import PromotionInbox, PromotionInboxArgs
from components.settings import CpuArchitecture, SupplyChainSettings


@dataclass(frozen=True)
class PromotedArgs:
    upstream_stack: str
    """The upstream's fully qualified stack name (organization/project/stack)."""
    promote_from_account: str | None
    """The upstream's account when it is not this stack's (promoteFromAccount). None: this account."""
    name_prefix: str
    """Physical-name prefix (project-stack-service)."""
    container_name: str
    """This stack's container: named in the imagedefinitions.json the collector and the Check step write."""
    architecture: CpuArchitecture
    """This stack's CPU architecture: must be the one the upstream builds for."""
    environment: StepContext
    """Logs and artifacts of the Check step (and the logs of the collector)."""
    artifact_key_arn: pulumi.Input[str]
    """The pipeline's artifact key, which also encrypts the inbox."""
    expiry_days: int
    """Earlier promotions in the inbox expire after this many days (artifactExpiryDays)."""
    production: bool
    """When True the inbox is protected from deletion."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""
    supply: SupplyChainSettings = SupplyChainSettings(threshold=None, signing=False)
    """This stack's supply-chain gate, which the Check step applies to each promotion. Omitted: no gate."""
    records: OwnRecords | None = None
    """This stack's records bucket (the rescan keeps SBOM and verdict there). Omitted: none, which only a stack that
    does not rescan takes."""
    upstream_service: str | None = None
    """The service of a stack with `services`: it promotes from the same-named service of the upstream (its entry of
    the `promotions` output). Omitted: a stack without services, which reads the upstream's `promotion` output."""


class Promoted(pulumi.ComponentResource):
    """Outputs: `upstream` (the checked contract), `source` (the Source stage), `check` (the Check stage),
    `location` (the inbox object's s3:// URL)."""

    def __init__(self, name: str, args: PromotedArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:promotion:Promoted", name, None, opts)
        context = AwsContext(self)
        reference = pulumi.StackReference(f"{name}-upstream", stack_name=args.upstream_stack, opts=pulumi.ResourceOptions(parent=self))

        def checked(values: list[Any]) -> Any:
            contract, contracts, account, region = values
            contract = service_contract(args.upstream_stack, contract, contracts, args.upstream_service)
            return check_contract(
                args.upstream_stack if args.upstream_service is None else f"{args.upstream_stack} (service {args.upstream_service})",
                contract,
                own_account=account,
                own_region=region,
                promote_from_account=args.promote_from_account,
                cpu_architecture=args.architecture.value,
                verifies_signature=args.supply.signing,
                rescans=args.supply.scans,
            )

        contracts = reference.get_output(SERVICES_CONTRACT_OUTPUT)
        contract = pulumi.Output.all(reference.get_output(CONTRACT_OUTPUT), contracts, context.account_id, context.region).apply(checked)
        self.upstream = UpstreamContract.checked(args.upstream_stack, contract, cross_account=args.promote_from_account is not None)
        if args.promote_from_account is not None:
            # One statement added to the bus's policy (PutPermission), not a whole policy that would
            # replace other stacks' statements.
            aws.cloudwatch.EventPermission(
                f"{name}-events-from-upstream",
                principal=args.promote_from_account,
                statement_id=physical_name(args.name_prefix, f"from-{args.promote_from_account}", 64),
                action="events:PutEvents",
                opts=pulumi.ResourceOptions(parent=self),
            )
        inbox = PromotionInbox(
            f"{name}-inbox",
            PromotionInboxArgs(key_arn=args.artifact_key_arn, expiry_days=args.expiry_days, production=args.production, tags=args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        Collector(
            f"{name}-collector",
            CollectorArgs(
                function_name=physical_name(args.name_prefix, "collector", 64),
                upstream=self.upstream,
                container_name=args.container_name,
                inbox_bucket_name=inbox.bucket_name,
                inbox_bucket_arn=inbox.bucket_arn,
                inbox_key_arn=args.artifact_key_arn,
                environment=args.environment,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        check = PromotionCheck(
            f"{name}-check",
            PromotionCheckArgs(
                name_prefix=args.name_prefix,
                container_name=args.container_name,
                upstream=self.upstream,
                environment=args.environment,
                architecture=args.architecture,
                supply=args.supply,
                records=args.records,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.source = inbox.contribution
        self.check = check.contribution
        self.location = inbox.location
        self.register_outputs({"location": self.location})
