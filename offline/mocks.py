"""Evaluate the real Pulumi program offline, under mocks, and record everything it registers.

One module serves the tests (tests/conftest.py) and the offline plan (offline/plan.py).
No AWS credentials, no Pulumi CLI, no provider plugins: the program runs in-process against
a mock resource monitor that answers with plausible ids, ARNs and URLs.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import runpy
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.sync_await import _sync_await

from offline import existing_vpc
from offline.recording import RecordingMonitor, Resource
from offline.stackfile import PROJECT, ROOT, config_strings, stack_config
from offline.upstream import upstream_outputs_of

ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
UNIQUE_SUFFIX = "20261127000000000000000001"
# What pulumi.get_organization() answers (the name self-managed backends use); StackReference names of
# this project's stacks start with it.
ORGANIZATION = "organization"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
# The garbage collector's thresholds while a program is evaluated (defaults: 700, 10, 10).
GC_THRESHOLDS = (1_000_000, 50, 100)


@dataclass
class StackResult:
    stack: str
    config: dict[str, Any]
    resources: list[Resource]
    outputs: dict[str, Any]
    invokes: list[tuple[str, dict]]

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Resource:
        found = self.of_type(type_)
        if len(found) != 1:
            raise AssertionError(f"expected exactly one {type_}, found {[r.name for r in found]}")
        return found[0]

    def named(self, name: str) -> Resource:
        for r in self.resources:
            if r.name == name:
                return r
        raise KeyError(name)

    def count_by_type(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.resources:
            counts[r.type] = counts.get(r.type, 0) + 1
        return dict(sorted(counts.items()))


def _hex_id(name: str) -> str:
    """A 16-hex-digit id, the same for the same resource name in every run (ELB ids look like this)."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def partition_of(region: str) -> str:
    """The partition a region belongs to, as getPartition answers it there."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _arn(service: str, region: str, resource: str, account: str = ACCOUNT) -> str:
    partition = partition_of(region)
    if service in ("s3",):
        return f"arn:{partition}:s3:::{resource}"
    if service == "iam":
        return f"arn:{partition}:iam::{account}:{resource}"
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def _key_id(name: str) -> str:
    """A KMS key id (a UUID) of its own for every key, the same for the same resource name in every run."""
    h = hashlib.sha256(f"kms:{name}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


class CloudMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and invokes the way AWS would, closely enough to assert on."""

    def __init__(
        self,
        region: str,
        ssm_parameters: Mapping[str, str] | None = None,
        stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
        account: str = ACCOUNT,
    ):
        self.region = region
        # The account the credentials belong to: every ARN of the stack names it.
        self.account = account
        # Outputs of the stacks the program references (StackReference), by fully qualified name.
        self.stack_outputs = dict(stack_outputs or {})
        self.invokes: list[tuple[str, dict]] = []
        # SSM parameters as they are in the account: what the stack created, overridden by what
        # someone else (the pipeline's deploy step) wrote since.
        self.live_parameters: dict[str, str] = {}
        self.written_parameters = dict(ssm_parameters or {})
        # Elastic IPs handed out, in order: each gets the next address of TEST-NET-2 (RFC 5737).

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        # Read, not registered: the mock monitor's ReadResource passes no `custom`.
        if args.typ == STACK_REFERENCE:
            return self._stack_reference(args)
        if not args.custom:
            return None, inputs
        typ, name, region = args.typ, args.name, self.region
        # name_prefix: the provider appends a 26-character unique id (terraform-plugin-sdk id.PrefixedUniqueId).
        physical = inputs.get("name") or (inputs["namePrefix"] + UNIQUE_SUFFIX if inputs.get("namePrefix") else f"{name}-mock")
        module = typ.split(":")[1].split("/")[0] if ":" in typ else "x"
        state: dict[str, Any] = {"name": physical, **inputs}
        state.setdefault("arn", _arn(module, region, f"{typ.rsplit(':', 1)[-1].lower()}/{physical}", self.account))
        rid = f"{physical}-id"
        if typ == "aws:ecr/repository:Repository":
            state["repositoryUrl"] = f"{self.account}.dkr.ecr.{region}.amazonaws.com/{physical}"
            state["arn"] = _arn("ecr", region, f"repository/{physical}", self.account)
        elif typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or (inputs["bucketPrefix"] + UNIQUE_SUFFIX if inputs.get("bucketPrefix") else f"{name}-mock")
            state.update(bucket=bucket, arn=_arn("s3", region, bucket, self.account))
            rid = bucket
        elif typ == "aws:codecommit/repository:Repository":
            repo = inputs["repositoryName"]
            rid = repo  # the provider's id of a repository is its name
            state.update(
                cloneUrlHttp=f"https://git-codecommit.{region}.amazonaws.com/v1/repos/{repo}",
                arn=_arn("codecommit", region, repo, self.account),
            )
        elif typ == "aws:iam/role:Role":
            state["arn"] = _arn("iam", region, f"role/{physical}", self.account)
            rid = physical
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = _arn("logs", region, f"log-group:{physical}", self.account)
        elif typ == "aws:lb/loadBalancer:LoadBalancer":
            state.update(
                dnsName=f"{physical}-1234567890.{region}.elb.amazonaws.com",
                zoneId="Z35SXDOTRQ7X7K",  # us-east-1's canonical hosted zone of ALBs (an alias record names it), in every region
                arnSuffix=f"app/{physical}/0123456789abcdef",
                arn=_arn("elasticloadbalancing", region, f"loadbalancer/app/{physical}/0123456789abcdef", self.account),
            )
        elif typ == "aws:lb/targetGroup:TargetGroup":
            suffix = f"targetgroup/{physical}/0123456789abcdef"
            state.update(arnSuffix=suffix, arn=_arn("elasticloadbalancing", region, suffix, self.account))
        elif typ == "aws:signer/signingProfile:SigningProfile":
            state["arn"] = _arn("signer", region, f"/signing-profiles/{physical}", self.account)
        elif typ == "aws:route53/record:Record":
            rid, state["fqdn"] = f"{inputs['zoneId']}_{inputs['name']}_{inputs['type']}", inputs["name"]  # the provider's id: <zone>_<name>_<type>
        elif typ == "aws:ecs/cluster:Cluster":
            state["arn"] = _arn("ecs", region, f"cluster/{physical}", self.account)
        elif typ == "aws:ecs/service:Service":
            cluster = str(inputs.get("cluster", "")).rsplit("/", 1)[-1]
            state["arn"] = _arn("ecs", region, f"service/{cluster}/{physical}", self.account)
        elif typ == "aws:ecs/taskDefinition:TaskDefinition":
            state["arn"] = _arn("ecs", region, f"task-definition/{inputs['family']}:1", self.account)
            state["revision"] = 1
        elif typ == "aws:codeconnections/connection:Connection":
            state["arn"] = _arn("codeconnections", region, "connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789", self.account)
        elif typ == "aws:codebuild/project:Project":
            state["arn"] = _arn("codebuild", region, f"project/{physical}", self.account)
        elif typ == "aws:codebuild/reportGroup:ReportGroup":
            state["arn"] = _arn("codebuild", region, f"report-group/{physical}", self.account)
        elif typ == "aws:codepipeline/pipeline:Pipeline":
            state["arn"] = _arn("codepipeline", region, physical, self.account)
        elif typ == "aws:kms/key:Key":
            state["keyId"] = _key_id(name)
            state["arn"] = _arn("kms", region, f"key/{state['keyId']}", self.account)
        elif typ == "aws:sns/topic:Topic":
            state["arn"] = _arn("sns", region, physical, self.account)
        elif typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            state["arn"] = _arn("cloudwatch", region, f"alarm:{physical}", self.account)
        elif typ == "aws:cloudwatch/compositeAlarm:CompositeAlarm":
            state["arn"] = _arn("cloudwatch", region, f"alarm:{inputs['alarmName']}", self.account)
        elif typ == "aws:cloudtrail/trail:Trail":
            state["arn"] = _arn("cloudtrail", region, f"trail/{physical}", self.account)
        elif typ == "aws:eks/cluster:Cluster":
            # EKS creates the cluster security group (Auto Mode nodes and pods carry it).
            state.update(
                arn=_arn("eks", region, f"cluster/{physical}", self.account),
                endpoint=f"https://0123456789ABCDEF.gr7.{region}.eks.amazonaws.com",
                vpcConfig={**(inputs.get("vpcConfig") or {}), "clusterSecurityGroupId": "sg-0c0c0c0c0c0c0c0c0"},
            )
            rid = physical
        elif typ == "aws:cloudwatch/eventRule:EventRule":
            state["arn"] = _arn("events", region, f"rule/{physical}", self.account)
        elif typ == "aws:ec2/eip:Eip":
            # From the name, not the registration order (which varies between runs): a documentation
            # address (RFC 5737), the same for the same resource in every run.
            state["publicIp"] = f"198.51.100.{1 + int(_hex_id(name), 16) % 254}"
        elif typ == "aws:lambda/function:Function":
            # Lambda function ARNs end in function:<name>, not function/<name>.
            state["arn"] = _arn("lambda", region, f"function:{physical}", self.account)
            state["invokeArn"] = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{state['arn']}/invocations"
            rid = physical
        elif typ == "aws:lb/listener:Listener" and ":loadbalancer/" in str(inputs.get("loadBalancerArn", "")):
            # listener/app/<load balancer name>/<load balancer id>/<listener id>
            state["arn"] = inputs["loadBalancerArn"].replace(":loadbalancer/", ":listener/", 1) + "/" + _hex_id(name)
        elif typ == "aws:lb/listenerRule:ListenerRule" and ":listener/" in str(inputs.get("listenerArn", "")):
            # listener-rule/app/<load balancer name>/<load balancer id>/<listener id>/<rule id>
            state["arn"] = inputs["listenerArn"].replace(":listener/", ":listener-rule/", 1) + "/" + _hex_id(name)
        elif typ == "aws:ssm/parameter:Parameter":
            state["arn"] = _arn("ssm", region, f"parameter/{physical.lstrip('/')}", self.account)
            rid = physical
            self.live_parameters[physical] = inputs.get("insecureValue", inputs.get("value", ""))
        return rid, state

    def _stack_reference(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        """A StackReference read: the referenced stack's outputs, as the engine would answer them."""
        name = str(args.resource_id or args.inputs.get("name"))
        if name not in self.stack_outputs:
            known = ", ".join(sorted(self.stack_outputs)) or "none"
            raise KeyError(f"offline mocks: no outputs for the stack reference {name!r} (known: {known}); evaluate that stack first or pass stack_outputs")
        return name, {"name": name, "outputs": dict(self.stack_outputs[name]), "secretOutputNames": []}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        self.invokes.append((args.token, dict(args.args)))
        # No check failures: an empty list (the mock monitor iterates it; None, though typed as allowed, fails).
        return self._result(args), []

    def _result(self, args: pulumi.runtime.MockCallArgs) -> dict:
        token, region = args.token, self.region
        if token == "aws:index/getRegion:getRegion":
            return {"name": region, "region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com"}
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account, "arn": _arn("iam", region, "user/mock", self.account), "userId": "AIDAMOCK", "id": self.account}
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": [f"{region}a", f"{region}b", f"{region}c"], "zoneIds": ["use1-az1", "use1-az2", "use1-az4"], "id": region}
        if token == "aws:index/getPartition:getPartition":
            partition = partition_of(region)
            suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
            return {"partition": partition, "dnsSuffix": suffix, "id": partition}
        if token == "aws:codecommit/getRepository:getRepository":
            repo = args.args["repositoryName"]
            return {
                "repositoryName": repo,
                "arn": _arn("codecommit", region, repo, self.account),
                "cloneUrlHttp": f"https://git-codecommit.{region}.amazonaws.com/v1/repos/{repo}",
                "cloneUrlSsh": f"ssh://git-codecommit.{region}.amazonaws.com/v1/repos/{repo}",
                "repositoryId": "mock-repository-id",
                "id": repo,
            }
        if token == "aws:ssm/getParameter:getParameter":
            name = args.args["name"]
            value = self.written_parameters.get(name, self.live_parameters.get(name))
            if value is None:
                raise KeyError(f"ParameterNotFound: {name}")
            arn = _arn("ssm", region, f"parameter/{name.lstrip('/')}", self.account)
            return {"name": name, "id": name, "arn": arn, "type": "String", "value": value, "insecureValue": value, "version": 1}
        if token == "aws:route53/getZone:getZone":  # every hosted zone is example.com's public zone
            return {"zoneId": args.args["zoneId"], "id": args.args["zoneId"], "name": "example.com", "privateZone": False, "nameServers": ["ns-1.awsdns-01.org"]}
        if token == "aws:eks/getCluster:getCluster":
            cluster = args.args["name"]
            return {
                "name": cluster,
                "id": cluster,
                "arn": _arn("eks", region, f"cluster/{cluster}", self.account),
                "endpoint": f"https://0123456789ABCDEF0123456789ABCDEF.gr7.{region}.eks.amazonaws.com",
                "certificateAuthorities": [{"data": "LS0tLS1CRUdJTi1NT0NL"}],
                "version": "1.35",
                "vpcConfig": {"clusterSecurityGroupId": "sg-0e0e0e0e0e0e0e0e0", "vpcId": "vpc-0a1b2c3d4e5f60718", "endpointPrivateAccess": True, "endpointPublicAccess": False},
            }
        # An existing VPC's route tables, NAT gateways and Elastic IPs (read at call time: a test may replace it).
        return existing_vpc.answer(existing_vpc.ACCOUNT_VPC, token, args.args) or {}


def _no_stack_trace() -> Any:
    return source_pb2.StackTrace()


def _abandon_pending_tasks() -> None:
    """After a failed evaluation, cancel what the program left running (outputs waiting on the failure), so
    the next evaluation in this process starts clean instead of meeting the old failure."""
    loop = asyncio.get_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    # The runtime keeps the failed outputs and RPCs for the next wait_for_rpcs, which would raise them again.
    # (SETTINGS' context properties are typed as methods, so pyright cannot see their values' types.)
    settings: Any = pulumi_settings.SETTINGS
    with settings.lock:
        settings.outputs.clear()
    settings.rpc_manager.clear()


def evaluate(
    stack: str,
    config: Mapping[str, Any],
    root: Path = ROOT,
    ssm_parameters: Mapping[str, str] | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    account: str = ACCOUNT,
) -> StackResult:
    """Run __main__.py for `stack` with `config` under mocks; return what it registered and exported.

    `ssm_parameters`: values that SSM parameters of the stack hold in the account (written by the
    pipeline since the last `pulumi up`). `stack_outputs`: the outputs of stacks the program references,
    by fully qualified name (organization/project/stack). `account`: the account of the credentials.
    Exceptions from the program (settings errors included) propagate unchanged.
    """
    region = str(config.get("aws:region", DEFAULT_REGION))
    cloud = CloudMocks(region, ssm_parameters, stack_outputs, account)
    monitor = RecordingMonitor(cloud)
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(cloud, project=PROJECT, stack=stack, preview=False, monitor=monitor, organization=ORGANIZATION)
    pulumi.runtime.set_all_config(config_strings(config))
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    # The runtime allocates many short-lived objects (outputs, tasks, RPC messages); with the default
    # thresholds the collector scans the young generation every 700 allocations and the whole heap
    # (pulumi_aws's modules are most of it) often. A larger young generation halves an evaluation's time.
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    # The SDK extracts and serialises the Python stack on every registration, for the engine to show where a
    # resource was declared; the mocks read none of it, and it costs a tenth of an evaluation.
    stack_trace = pulumi_resource._get_stack_trace
    pulumi_resource._get_stack_trace = _no_stack_trace
    try:
        runpy.run_path(str(root / "__main__.py"), run_name="__main__")
        _sync_await(pulumi.runtime.stack.wait_for_rpcs())
    except BaseException:
        _abandon_pending_tasks()
        raise
    finally:
        gc.set_threshold(*thresholds)
        pulumi_resource._get_stack_trace = stack_trace
    stack_resource = pulumi_settings.get_root_resource()
    if not isinstance(stack_resource, pulumi.runtime.stack.Stack):
        raise RuntimeError(f"{root / '__main__.py'} ran but registered no Pulumi stack resource")
    outputs = {k: _sync_await(pulumi.Output.from_input(v).future()) for k, v in stack_resource.outputs.items()}
    return StackResult(
        stack=stack,
        config=dict(config),
        resources=list(monitor.records.values()),
        outputs=outputs,
        invokes=list(cloud.invokes),
    )


def evaluate_stack(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    root: Path = ROOT,
    ssm_parameters: Mapping[str, str] | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    account: str = ACCOUNT,
) -> StackResult:
    """Evaluate Pulumi.<stack>.yaml (plus overrides) under mocks, in `account`.

    A stack that promotes from another stack of this project (promoteFrom) references that stack's
    outputs: unless `stack_outputs` names them, the upstream's own stack file is evaluated first (once
    per process) and its outputs are what the reference reads."""
    config = stack_config(stack, overrides, root)
    outputs = dict(stack_outputs or {})
    upstream = upstream_reference(config)
    if upstream is not None and upstream not in outputs:
        outputs[upstream] = upstream_outputs_of(stack, upstream, config, root, ORGANIZATION, upstream_outputs)
    return evaluate(stack, config, root, ssm_parameters, outputs, account)


def upstream_reference(config: Mapping[str, Any]) -> str | None:
    """The fully qualified name of the stack `config` promotes from (promoteFrom), or None."""
    value = str(config.get(f"{PROJECT}:promoteFrom") or "")
    if not value:
        return None
    return value if "/" in value else f"{ORGANIZATION}/{PROJECT}/{value}"


_UPSTREAM_OUTPUTS: dict[tuple[str, str], dict[str, Any]] = {}


def upstream_outputs(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """The outputs of Pulumi.<stack>.yaml as evaluated under mocks, computed once per process."""
    key = (str(root), stack)
    if key not in _UPSTREAM_OUTPUTS:
        _UPSTREAM_OUTPUTS[key] = dict(evaluate_stack(stack, root=root).outputs)
    return _UPSTREAM_OUTPUTS[key]
