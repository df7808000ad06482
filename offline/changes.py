"""What a change of configuration does to a deployed stack: the engine's plan, computed offline.

`pulumi up` with a new configuration compares the resources the program registers now (B) with the
ones in the state (A), matched by URN (or by an alias of it):
- a resource only in B is created; one only in A is deleted, after everything else;
- a resource in both is updated in place, unless an input its provider marks replace-only changed:
  then it is replaced, and the replacement is created *before* the old one is deleted (unless the
  resource sets `delete_before_replace`).
So at the moment a resource is created (or its replacement is), every resource of A still exists:
an explicit physical name it shares with one of them is refused by AWS ("already exists"). So are the
names of what AWS creates on a resource's behalf outside the state (EKS's control-plane log group), and
of what earlier changes left in AWS (`retain_on_delete`, `Change.left_in_aws`).
And a deletion stops the update when the resource is protected (`protect`), or when AWS refuses it
(an ALB with deletion protection on).

Replace-only inputs are the provider's: pulumi-aws is bridged from the Terraform AWS provider, whose
schema marks them `ForceNew` (hashicorp/terraform-provider-aws, internal/service/<service>/*.go);
the table below names the ones of every type this program creates with an explicit name.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from components.deploy.eks.cluster import control_plane_log_group_name
from offline.mocks import Resource, StackResult

# Inputs that force a replacement, per resource type (Terraform schema `ForceNew`, or a CustomizeDiff
# that forces a new resource). "*" means every input but tags: the resource is immutable.
# Sources: terraform-provider-aws internal/service/elbv2/load_balancer.go, target_group.go,
# listener.go; ec2/vpc_.go, vpc_subnet.go, vpc_security_group.go, vpc_nat_gateway.go;
# ecs/cluster.go, service.go, task_definition.go; logs/group.go; codebuild/project.go,
# report_group.go; codepipeline/codepipeline.go; ecr/repository.go; s3/bucket.go,
# bucket_logging.go; sns/topic.go;
# eks/cluster.go, access_entry.go, access_policy_association.go, addon.go; cloudtrail/trail.go;
# cloudwatch/metric_alarm.go, composite_alarm.go, dashboard.go; events/rule.go; ssm/parameter.go;
# codestarnotifications/notification_rule.go; iam/role.go; wafv2/web_acl.go, web_acl_association.go;
# lambda/function.go, permission.go; s3/bucket_notification.go; ecr/repository_policy.go; events/permission.go;
# elbv2/listener_rule.go; route53/record.go.
REPLACE_ONLY: dict[str, tuple[str, ...]] = {
    "aws:lb/loadBalancer:LoadBalancer": ("name", "namePrefix", "internal", "loadBalancerType"),
    "aws:lb/targetGroup:TargetGroup": (
        "name",
        "namePrefix",
        "port",
        "protocol",
        "protocolVersion",
        "targetType",
        "vpcId",
        "ipAddressType",
    ),
    "aws:lb/listener:Listener": ("loadBalancerArn",),
    # A rule belongs to one listener; its priority, conditions and actions have ModifyRule/SetRulePriorities.
    "aws:lb/listenerRule:ListenerRule": ("listenerArn",),
    "aws:lambda/function:Function": ("name", "packageType"),
    "aws:ec2/vpc:Vpc": ("cidrBlock", "instanceTenancy"),
    # Name, description and content each have an Update* API.
    "aws:codecommit/approvalRuleTemplate:ApprovalRuleTemplate": (),
    # An association is a pair: either side changing is a new association.
    "aws:codecommit/approvalRuleTemplateAssociation:ApprovalRuleTemplateAssociation": ("approvalRuleTemplateName", "repositoryName"),
    # VPC flow logs cannot be modified, only replaced (ec2 has no ModifyFlowLogs).
    "aws:ec2/flowLog:FlowLog": ("vpcId", "trafficType", "logDestinationType", "logDestination", "iamRoleArn", "maxAggregationInterval", "logFormat"),
    "aws:ec2/subnet:Subnet": ("vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId"),
    "aws:ec2/securityGroup:SecurityGroup": ("name", "namePrefix", "description", "vpcId"),
    "aws:ec2/natGateway:NatGateway": ("subnetId", "allocationId", "connectivityType"),
    "aws:ec2/routeTable:RouteTable": ("vpcId",),
    "aws:ec2/internetGateway:InternetGateway": (),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("vpcId",),
    "aws:ecs/cluster:Cluster": ("name",),
    "aws:ecs/service:Service": ("name", "cluster", "launchType", "schedulingStrategy"),
    "aws:ecs/taskDefinition:TaskDefinition": ("*",),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "namePrefix"),
    "aws:codebuild/project:Project": ("name",),
    "aws:codebuild/reportGroup:ReportGroup": ("name", "type"),
    "aws:codepipeline/pipeline:Pipeline": ("name",),
    "aws:ecr/repository:Repository": ("name",),
    "aws:codecommit/repository:Repository": (),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix"),
    "aws:sns/topic:Topic": ("name", "namePrefix", "fifoTopic"),
    "aws:iam/role:Role": ("name", "namePrefix"),
    "aws:eks/cluster:Cluster": ("name", "encryptionConfig", "kubernetesNetworkConfig.serviceIpv4Cidr"),
    "aws:eks/accessEntry:AccessEntry": ("clusterName", "principalArn", "type"),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("clusterName", "principalArn", "policyArn"),
    "aws:eks/addon:Addon": ("clusterName", "addonName"),
    "aws:cloudtrail/trail:Trail": ("name",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name",),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": ("alarmName",),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName",),
    "aws:cloudwatch/eventRule:EventRule": ("name", "namePrefix", "eventBusName"),
    "aws:ssm/parameter:Parameter": ("name",),
    "aws:codestarnotifications/notificationRule:NotificationRule": ("resource",),
    "aws:codeconnections/connection:Connection": ("name", "providerType", "hostArn"),
    "aws:cloudwatch/eventTarget:EventTarget": ("rule", "eventBusName", "targetId"),
    "aws:ec2/eip:Eip": ("domain",),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("subnetId", "gatewayId"),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("repository",),
    "aws:iam/rolePolicy:RolePolicy": ("role", "name", "namePrefix"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("role", "policyArn"),
    "aws:kms/key:Key": ("customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId"),
    # kms/key_policy.go: key_id.
    "aws:kms/keyPolicy:KeyPolicy": ("keyId",),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("bucket", "expectedBucketOwner"),
    "aws:s3/bucketLogging:BucketLogging": ("bucket", "expectedBucketOwner"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("bucket",),
    "aws:s3/bucketPolicy:BucketPolicy": ("bucket",),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("bucket",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": ("bucket", "expectedBucketOwner"),
    "aws:s3/bucketVersioning:BucketVersioning": ("bucket", "expectedBucketOwner"),
    "aws:sns/topicPolicy:TopicPolicy": ("arn",),
    "aws:sns/topicSubscription:TopicSubscription": ("topic", "protocol", "endpoint"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("securityGroupId",),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("securityGroupId",),
    "aws:wafv2/webAcl:WebAcl": ("name", "namePrefix", "scope"),
    "aws:wafv2/webAclAssociation:WebAclAssociation": ("resourceArn", "webAclArn"),
    # The record's name and zone; its alias changes in place (an UPSERT of the same record).
    "aws:route53/record:Record": ("zoneId", "name"),
    # A Lambda permission has no update: any change is a new statement.
    "aws:lambda/permission:Permission": ("*",),
    "aws:s3/bucketNotification:BucketNotification": ("bucket",),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("repository",),
    "aws:cloudwatch/eventPermission:EventPermission": ("eventBusName", "statementId"),
    # signer/signing_profile.go: every argument but tags is ForceNew (a profile cannot be changed, only cancelled).
    "aws:signer/signingProfile:SigningProfile": ("name", "namePrefix", "platformId", "signatureValidityPeriod", "signingMaterial", "signingParameters"),
}
# Resources whose replacement the engine leaves to another provider's own rules: Kubernetes objects
# (pulumi-kubernetes replaces a named object by deleting it first), providers, remote components.
NOT_ANALYSED_PREFIXES = ("kubernetes:", "pulumi:providers:", "eks:index:")

# The inputs that make up a resource's unique physical name in its account and region, per type.
# Two live resources of one type with the same values here cannot exist side by side.
PHYSICAL_NAME: dict[str, tuple[str, ...]] = {
    "aws:lb/loadBalancer:LoadBalancer": ("name",),
    "aws:lb/targetGroup:TargetGroup": ("name",),
    "aws:lb/listener:Listener": ("loadBalancerArn", "port"),
    # Two rules of one listener cannot share a priority.
    "aws:lb/listenerRule:ListenerRule": ("listenerArn", "priority"),
    "aws:lambda/function:Function": ("name",),
    "aws:ecs/cluster:Cluster": ("name",),
    "aws:ecs/service:Service": ("cluster", "name"),
    "aws:cloudwatch/logGroup:LogGroup": ("name",),
    "aws:codebuild/project:Project": ("name",),
    "aws:codebuild/reportGroup:ReportGroup": ("name",),
    "aws:codepipeline/pipeline:Pipeline": ("name",),
    "aws:ecr/repository:Repository": ("name",),
    "aws:codecommit/repository:Repository": ("repositoryName",),
    "aws:s3/bucket:Bucket": ("bucket",),
    "aws:sns/topic:Topic": ("name",),
    "aws:iam/role:Role": ("name",),
    "aws:eks/cluster:Cluster": ("name",),
    "aws:eks/accessEntry:AccessEntry": ("clusterName", "principalArn"),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("clusterName", "principalArn", "policyArn"),
    "aws:eks/addon:Addon": ("clusterName", "addonName"),
    "aws:cloudtrail/trail:Trail": ("name",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name",),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": ("alarmName",),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName",),
    "aws:cloudwatch/eventRule:EventRule": ("eventBusName", "name"),
    "aws:ssm/parameter:Parameter": ("name",),
    "aws:codestarnotifications/notificationRule:NotificationRule": ("name",),
    "aws:codeconnections/connection:Connection": ("name",),
    "aws:ec2/securityGroup:SecurityGroup": ("vpcId", "name"),
    "aws:cloudwatch/eventPermission:EventPermission": ("eventBusName", "statementId"),
}

# Types whose deletion loses data a team keeps: code, images, artifacts, logs, audit records, keys.
STATEFUL = frozenset(
    {
        "aws:ecr/repository:Repository",
        "aws:codecommit/repository:Repository",
        "aws:s3/bucket:Bucket",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:kms/key:Key",
        "aws:codeconnections/connection:Connection",
        "aws:eks/cluster:Cluster",
        "aws:ssm/parameter:Parameter",
    }
)


def _value(inputs: dict, path: str):
    value = inputs
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def physical_name(r: Resource) -> tuple | None:
    """The resource's unique name in its account and region, or None when AWS or Pulumi picks it."""
    keys = PHYSICAL_NAME.get(r.type)
    if not keys:
        return None
    values = tuple(_value(r.inputs, k) for k in keys)
    if values[-1] in (None, ""):
        return None
    return (r.type, values)


def effective_inputs(old: Resource | None, new: Resource) -> dict:
    """The inputs the engine sends for `new`: each `ignore_changes` path keeps the state's value (or stays
    unset when the state has none), as the engine's processIgnoreChanges does before diffing."""
    if old is None or not new.ignore_changes:
        return new.inputs
    inputs = json.loads(json.dumps(new.inputs))
    for path in new.ignore_changes:
        *parents, last = path.split(".")
        target, source = inputs, old.inputs
        for part in parents:
            target, source = target.setdefault(part, {}), (source or {}).get(part) if isinstance(source, dict) else None
        if isinstance(source, dict) and last in source:
            target[last] = source[last]
        else:
            target.pop(last, None)
    return inputs


def implied_names(r: Resource) -> list[tuple]:
    """Physical names AWS creates for `r` on its own when the stack has not: an EKS cluster that logs its
    control plane gets `/aws/eks/<name>/cluster` with its first log events (EKS user guide,
    control-plane-logs), and the group outlives the cluster."""
    if r.type == "aws:eks/cluster:Cluster" and r.inputs.get("enabledClusterLogTypes") and r.inputs.get("name"):
        return [("aws:cloudwatch/logGroup:LogGroup", (control_plane_log_group_name(r.inputs["name"]),))]
    return []


def replace_reasons(old: Resource, new: Resource) -> list[str]:
    """The replace-only inputs that differ between the state and the program (after `ignore_changes`), and
    the inputs `replace_on_changes` names that differ."""
    inputs = effective_inputs(old, new)
    keys = REPLACE_ONLY.get(new.type, ())
    if keys == ("*",):
        keys = tuple(sorted((set(old.inputs) | set(inputs)) - {"tags", "tagsAll", "skipDestroy"}))
    keys = (*keys, *(k for k in new.replace_on_changes if k not in keys))
    return [k for k in keys if _value(old.inputs, k) != _value(inputs, k)]


def _renamed(value: object, names: Mapping[str, str]) -> object:
    """`value` with every occurrence of a key of `names` in its strings replaced by its value."""
    if isinstance(value, Mapping):
        return {k: _renamed(v, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_renamed(v, names) for v in value]
    return functools.reduce(lambda text, pair: text.replace(*pair), names.items(), value) if isinstance(value, str) else value


def _known_urns(result: StackResult) -> dict[str, set[str]]:
    """Every URN each resource answers to: its own and its aliases, and those it inherits from a
    parent's aliases (the engine re-parents and renames children along with their parent)."""
    by_ref = {r.ref: r for r in result.resources}
    memo: dict[str, set[str]] = {}

    def urns(r: Resource) -> set[str]:
        if r.urn in memo:
            return memo[r.urn]
        found = {r.urn, *r.aliases}
        parent = by_ref.get(r.parent_urn or "")
        if parent is not None:
            for parent_urn in urns(parent) - {parent.urn}:
                qualified = parent_urn.split("::")[2]
                stack_project = parent_urn.rsplit("::", 2)[0]
                # As the engine's inheritedChildAlias (pkg/resource/deploy/step_generator.go): a child named after its
                # parent ("<parent>-logs") is known by the parent's former name in place of that prefix; and an alias
                # of its own that names no parent names the parent's former URN.
                names = {parent_urn.rsplit("::", 1)[1] + r.name[len(parent.name) :] if r.name.startswith(parent.name) else r.name}
                names |= {alias.rsplit("::", 1)[1] for alias in r.aliases if alias.rsplit("::", 2)[0] + "::" + alias.split("::")[2] == r.urn.rsplit("::", 1)[0]}
                found |= {f"{stack_project}::{qualified}${r.type}::{name}" for name in names}
        memo[r.urn] = found
        return found

    return {r.urn: urns(r) for r in result.resources}


@dataclass
class Change:
    """What `pulumi up` from state `before` to program `after` does."""

    created: list[Resource] = field(default_factory=list)
    replaced: list[tuple[Resource, Resource, list[str]]] = field(default_factory=list)
    """(old, new, the replace-only inputs that changed)."""
    updated: list[tuple[Resource, Resource]] = field(default_factory=list)
    deleted: list[Resource] = field(default_factory=list)

    def collisions(self, before: StackResult, left_in_aws: Sequence[tuple[tuple, Resource]] = ()) -> list[str]:
        """Physical names a created resource (or a replacement) takes while a resource of `before` holds
        them, AWS created them for one, or an earlier change left them in AWS (`left_in_aws`)."""
        # name -> (who holds it, whether that is outside the state: then it holds it whatever this change does)
        held: dict[tuple, tuple[Resource, bool]] = {name: (r, True) for name, r in left_in_aws}
        for r in before.resources:
            held.update({name: (r, True) for name in implied_names(r)})
        for r in before.resources:
            name = physical_name(r)
            if name is not None:
                held[name] = (r, False)
        found = []
        new_ones = [*self.created, *(new for old, new, _ in self.replaced if not new.delete_before_replace)]
        kept = {old.urn for old, _ in self.updated}
        for r in new_ones:
            name = physical_name(r)
            if name is None or name not in held:
                continue
            holder, outside = held[name]
            if outside or holder.urn not in kept:
                found.append(f"{r.type} {r.urn.rsplit('::', 1)[-1]} takes {name[1]}, held by {holder.urn}")
        return sorted(found)

    def blocked_deletions(self) -> list[str]:
        """Deletions (or replaced originals) the engine or AWS refuses."""
        gone = [*self.deleted, *(old for old, _, _ in self.replaced)]
        found = []
        for r in gone:
            if r.protect:
                found.append(f"protected: {r.urn}")
            if r.type == "aws:lb/loadBalancer:LoadBalancer" and r.inputs.get("enableDeletionProtection"):
                found.append(f"ALB deletion protection: {r.urn}")
        return sorted(found)

    def left_in_aws(self, before: StackResult) -> list[tuple[tuple, Resource]]:
        """(physical name, resource) of what the deletions leave behind in AWS: resources kept by
        `retain_on_delete`, and what AWS created on a deleted resource's behalf that the stack did not
        manage. They hold their names for the changes that come after."""
        managed = {name for r in before.resources if (name := physical_name(r)) is not None}
        gone = [*self.deleted, *(old for old, _, _ in self.replaced)]
        kept = [(name, r) for r in gone if r.retain_on_delete and (name := physical_name(r)) is not None]
        return kept + [(name, r) for r in gone for name in implied_names(r) if name not in managed]

    def lost_state(self) -> list[str]:
        """Stateful resources deleted outright: not kept in AWS by `retain_on_delete`, and (KMS keys)
        not merely scheduled for a deletion that can be cancelled for 7 days or more."""
        gone = [*self.deleted, *(old for old, _, _ in self.replaced)]
        return sorted(
            r.urn for r in gone if r.type in STATEFUL and not r.retain_on_delete and not (r.type == "aws:kms/key:Key" and (r.inputs.get("deletionWindowInDays") or 30) >= 7)
        )

    def effective_updates(self) -> list[tuple[Resource, Resource]]:
        """The updates the engine sends: inputs that differ outside the resource's `ignore_changes` (an ignored
        input keeps the state's value, so its difference changes nothing)."""
        return [(old, new) for old, new in self.updated if effective_inputs(old, new) != old.inputs]

    def stale_ignored(self) -> list[str]:
        """Updates that keep, through `ignore_changes`, a reference to a resource the same update replaces or
        deletes: the engine leaves the ignored input as it was, so the kept resource goes on naming the old
        one (and AWS refuses to delete a target group a listener rule still forwards to)."""
        gone = {value: old for old in [*self.deleted, *(o for o, _, _ in self.replaced)] for value in (old.outputs.get("arn"), old.id) if isinstance(value, str) and value}
        found = []
        for old, new in self.updated:
            for path in new.ignore_changes:
                text = repr(_value(old.inputs, path))
                for value, resource in gone.items():
                    if value in text:
                        found.append(f"{new.urn}: ignored {path} keeps naming {resource.urn}")
        return sorted(set(found))

    def moved_in_place(self) -> list[str]:
        """In-place updates AWS refuses although the provider plans them: a load balancer whose
        subnets all change (its security groups being replaced for another VPC) would have to move
        to another VPC, which an ALB cannot."""
        found = []
        for old, new in self.updated:
            if new.type == "aws:lb/loadBalancer:LoadBalancer":
                before, after = set(old.inputs.get("subnets") or []), set(new.inputs.get("subnets") or [])
                if before and after and not before & after:
                    found.append(f"{new.urn}: subnets {sorted(before)} -> {sorted(after)}")
        return found


def plan_change(before: StackResult, after: StackResult) -> Change:
    """Match `after`'s resources to `before`'s by URN or alias, and classify each."""
    old_by_urn = {r.urn: r for r in before.resources}
    known = _known_urns(after)
    change = Change()
    matched: set[str] = set()
    pairs: list[tuple[Resource, Resource]] = []
    for r in after.resources:
        old = next((old_by_urn[u] for u in sorted(known[r.urn]) if u in old_by_urn and u not in matched), None)
        if old is None:
            change.created.append(r)
            continue
        matched.add(old.urn)
        pairs.append((old, r))
    # A resource kept under a new logical name (an alias) keeps the name the provider generated from the old one
    # (autonaming: `<logical name>-<random>`), so its id and ARN: what refers to it sees the old values.
    kept = {
        new_value: old_value
        for old, r in pairs
        if old.urn != r.urn and r.custom and not {"name", "namePrefix"} & set(r.inputs)
        for new_value, old_value in ((r.id, old.id), (r.outputs.get("arn"), old.outputs.get("arn")), (r.outputs.get("name"), old.outputs.get("name")))
        if isinstance(new_value, str) and isinstance(old_value, str) and new_value and new_value != old_value
    }
    for old, r in pairs:
        reasons = replace_reasons(old, replace(r, inputs=_renamed(r.inputs, kept)) if kept else r) if r.custom else []
        if reasons:
            change.replaced.append((old, r, reasons))
        else:
            change.updated.append((old, r))
    change.deleted = [r for r in before.resources if r.urn not in matched]
    return change
