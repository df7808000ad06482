"""What an evaluated stack costs per month while idle: the resources that bill by the hour or month.

Prices are AWS's public on-demand prices for us-east-1 (N. Virginia) as read on PRICES_READ from
the pages in SOURCES; other regions differ by a few percent. Usage-based charges (NAT and load
balancer traffic beyond one LCU, build and pipeline minutes, log ingestion, image storage) are listed
as notes, not added: they depend on the team, not on the stack.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from components.settings import own_settings, parse_settings
from offline.mocks import PROJECT, StackResult
from offline.stackfile import config_strings

PRICES_READ = "2026-11-27"
HOURS_PER_MONTH = 730
SOURCES = {
    "vpc": "https://aws.amazon.com/vpc/pricing/",
    "elb": "https://aws.amazon.com/elasticloadbalancing/pricing/",
    "eks": "https://aws.amazon.com/eks/pricing/",
    "ec2": "https://aws.amazon.com/ec2/pricing/on-demand/",
    "fargate": "https://aws.amazon.com/fargate/pricing/",
    "kms": "https://aws.amazon.com/kms/pricing/",
    "cloudwatch": "https://aws.amazon.com/cloudwatch/pricing/",
    "waf": "https://aws.amazon.com/waf/pricing/",
    "ebs": "https://aws.amazon.com/ebs/pricing/",
}

NAT_GATEWAY_HOUR = 0.045
PUBLIC_IPV4_HOUR = 0.005
ALB_HOUR = 0.0225
ALB_LCU_HOUR = 0.008
EKS_CLUSTER_HOUR = 0.10
# The node EKS Auto Mode most likely starts for small pods (AWS does not say which), by the workload's
# architecture: on amd64 the general-purpose pool's c6a.large, on arm64 the workload's NodePool's c6g.large
# (Graviton; both pools allow on-demand C, M and R of generation 5 or newer), each 2 vCPU / 4 GiB, plus
# the Auto Mode management fee, billed per instance (about 12% of the EC2 price).
AUTO_MODE_NODES = {"x86_64": ("c6a.large", 0.0765 + 0.00918), "arm64": ("c6g.large", 0.068 + 0.00816)}
AUTO_MODE_NODE_MILLICORES = 1930  # allocatable after the kubelet and system reservations
AUTO_MODE_NODE_MIB = 3300
# Each Auto Mode node also has an EBS volume of the default NodeClass's ephemeral storage: 80 GiB gp3 at
# gp3's included 3,000 IOPS and 125 MiB/s (no charge beyond the GB-month).
# https://docs.aws.amazon.com/eks/latest/userguide/create-node-class.html (Node Class Specification)
AUTO_MODE_NODE_VOLUME_GIB = 80
GP3_GB_MONTH = 0.08
FARGATE = {"X86_64": (0.04048, 0.004445), "ARM64": (0.03238, 0.00356)}  # per vCPU-hour, per GB-hour
KMS_KEY_MONTH = 1.00
METRIC_ALARM_MONTH = 0.10
COMPOSITE_ALARM_MONTH = 0.50
DASHBOARD_MONTH = 3.00
# WAF: the same in every Region; a managed rule group without a subscription counts as one rule.
WAF_WEB_ACL_MONTH = 5.00
WAF_RULE_MONTH = 1.00


@dataclass(frozen=True)
class Line:
    item: str
    quantity: float
    unit: str
    monthly: float


@dataclass(frozen=True)
class Estimate:
    lines: tuple[Line, ...]
    notes: tuple[str, ...]

    @property
    def total(self) -> float:
        return round(sum(line.monthly for line in self.lines), 2)

    def markdown(self) -> str:
        rows = ["| Resource | Quantity | Per month (USD) |", "|---|---:|---:|"]
        rows += [f"| {line.item} | {_quantity(line)} | {line.monthly:.2f} |" for line in self.lines]
        rows.append(f"| **Total while idle** | | **{self.total:.2f}** |")
        notes = "\n".join(f"- {note}" for note in self.notes)
        return (
            "\n".join(rows)
            + f"\n\nOn-demand prices of us-east-1, read {PRICES_READ} from AWS's price pages"
            + f" ({', '.join(SOURCES.values())}).\n\nNot included (billed by use):\n{notes}\n"
        )


def _quantity(line: Line) -> str:
    value = f"{line.quantity:g}"
    return f"{value} {line.unit}".strip()


def _monthly(hourly: float, count: float = 1) -> float:
    return round(hourly * HOURS_PER_MONTH * count, 2)


def estimate(result: StackResult) -> Estimate:
    count = result.count_by_type()
    lines: list[Line] = []
    nats = count.get("aws:ec2/natGateway:NatGateway", 0)
    albs = count.get("aws:lb/loadBalancer:LoadBalancer", 0)
    if nats:
        lines.append(Line("NAT gateway", nats, "", _monthly(NAT_GATEWAY_HOUR, nats)))
    # An internet-facing ALB holds one public IPv4 address per subnet (two AZs); a NAT gateway one.
    public_ips = nats + 2 * albs
    if public_ips:
        lines.append(Line("Public IPv4 address", public_ips, "", _monthly(PUBLIC_IPV4_HOUR, public_ips)))
    if albs:
        lines.append(Line("Application Load Balancer (1 LCU)", albs, "", _monthly(ALB_HOUR + ALB_LCU_HOUR, albs)))
    clusters = count.get("aws:eks/cluster:Cluster", 0) + count.get("eks:index:Cluster", 0)
    cluster_notes: list[str] = []
    if clusters:
        lines.append(Line("EKS cluster (standard support)", clusters, "", _monthly(EKS_CLUSTER_HOUR, clusters)))
        nodes, architecture = _auto_mode_nodes(result)
        instance, hourly = AUTO_MODE_NODES[architecture]
        lines.append(Line(f"EKS Auto Mode node ({instance} + fee)", nodes, "", _monthly(hourly, nodes)))
        volume = f"EKS Auto Mode node volume ({AUTO_MODE_NODE_VOLUME_GIB} GiB gp3)"
        lines.append(Line(volume, nodes, "", round(GP3_GB_MONTH * AUTO_MODE_NODE_VOLUME_GIB * nodes, 2)))
        cluster_notes = [
            f"EKS nodes: AWS picks the instance types; {instance} is an estimate, and pods spread over two AZs need a node in each",
            "EKS control-plane logs (all five types) to CloudWatch Logs: vended-log ingestion $0.50 per GB (first 10 TB a month), then stored as other logs",
            "Container Insights (the add-on on every node): its metrics, billed per observation (enhanced observability), "
            "and the container and node logs its Fluent Bit sends to CloudWatch Logs ($0.50 per GB ingested)",
        ]
    lines += _fargate_lines(result)
    keys = count.get("aws:kms/key:Key", 0)
    if keys:
        lines.append(Line("KMS customer managed key", keys, "", round(KMS_KEY_MONTH * keys, 2)))
    alarms = count.get("aws:cloudwatch/metricAlarm:MetricAlarm", 0)
    if alarms:
        lines.append(Line("CloudWatch metric alarm", alarms, "", round(METRIC_ALARM_MONTH * alarms, 2)))
    composites = count.get("aws:cloudwatch/compositeAlarm:CompositeAlarm", 0)
    if composites:
        lines.append(Line("CloudWatch composite alarm", composites, "", round(COMPOSITE_ALARM_MONTH * composites, 2)))
    dashboards = count.get("aws:cloudwatch/dashboard:Dashboard", 0)
    if dashboards:
        lines.append(Line("CloudWatch dashboard", dashboards, "", round(DASHBOARD_MONTH * dashboards, 2)))
    for acl in result.of_type("aws:wafv2/webAcl:WebAcl"):
        rules = len(json.loads(acl.inputs["ruleJson"]))
        lines.append(Line(f"WAF web ACL ({rules} rules)", 1, "", round(WAF_WEB_ACL_MONTH + WAF_RULE_MONTH * rules, 2)))
    access_logs = any((alb.inputs.get("accessLogs") or {}).get("enabled") for alb in result.of_type("aws:lb/loadBalancer:LoadBalancer"))
    notes = [
        "NAT gateway data processing: $0.045 per GB" if nats else "",
        "WAF requests: $0.60 per million inspected" if count.get("aws:wafv2/webAcl:WebAcl") else "",
        "ALB access logs: S3 storage only ($0.023 per GB-month), delivery is free" if access_logs else "",
        "load balancer capacity beyond one LCU: $0.008 per LCU-hour" if albs else "",
        "CodeBuild: $0.005 per build minute (general1.small, x86; 100 free minutes a month)",
        "CodePipeline V2: $0.002 per action execution minute (100 free minutes a month)",
        "CloudWatch Logs: $0.50 per GB ingested, $0.03 per GB-month stored; ECR: $0.10 per GB-month",
        "CloudTrail: the first copy of management events is free; its S3 bucket and that bucket's access-log bucket bill storage"
        if count.get("aws:cloudtrail/trail:Trail")
        else "",
        "VPC flow logs (ALL traffic) to CloudWatch Logs: vended-log ingestion $0.50 per GB (first 10 TB a month), then stored as other logs"
        if count.get("aws:ec2/flowLog:FlowLog")
        else "",
        "KMS requests (log groups under the stack's key, SSE-KMS buckets): $0.03 per 10,000 requests",
        "AWS free tiers (10 alarms, 3 dashboards) are not subtracted",
    ]
    notes += cluster_notes
    return Estimate(tuple(lines), tuple(n for n in notes if n))


def _fargate_lines(result: StackResult) -> list[Line]:
    """One line per task size: each ECS service's running tasks (its desiredCount) at its task definition's size."""
    tasks = {t.outputs.get("arn"): t for t in result.of_type("aws:ecs/taskDefinition:TaskDefinition")}
    found: dict[str, tuple[float, float]] = {}
    for service in result.of_type("aws:ecs/service:Service"):
        task = tasks.get(service.inputs.get("taskDefinition"))
        if task is None:
            continue
        vcpu, gib = int(task.inputs["cpu"]) / 1024, int(task.inputs["memory"]) / 1024
        arch = (task.inputs.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64")
        per_vcpu, per_gb = FARGATE[arch]
        count = service.inputs["desiredCount"]
        item = f"Fargate task ({vcpu:g} vCPU, {gib:g} GB, {arch.lower()})"
        quantity, monthly = found.get(item, (0, 0.0))
        found[item] = (quantity + count, monthly + _monthly(per_vcpu * vcpu + per_gb * gib, count))
    return [Line(item, quantity, "", round(monthly, 2)) for item, (quantity, monthly) in sorted(found.items())]


def _auto_mode_nodes(result: StackResult) -> tuple[int, str]:
    """Nodes the workloads need, and their architecture: every service's pods' requests over one node's
    allocatable, at least one per AZ the replicas spread over (each Deployment spreads them across zones)."""
    workloads, architecture = _workload_requests(result)
    by_cpu = math.ceil(sum(replicas * millicores for replicas, millicores, _ in workloads) / AUTO_MODE_NODE_MILLICORES)
    by_memory = math.ceil(sum(replicas * mib for replicas, _, mib in workloads) / AUTO_MODE_NODE_MIB)
    return max(by_cpu, by_memory, min(max(replicas for replicas, _, _ in workloads), 2), 1), architecture


def _workload_requests(result: StackResult) -> tuple[list[tuple[int, int, int]], str]:
    """(replicas, millicores, MiB) of each service's EKS workload, and the stack's cpuArchitecture, from its settings."""
    namespace = f"{PROJECT}:"
    # As the program reads them: strings (a list such as `services` as JSON).
    raw = {key[len(namespace) :]: value for key, value in config_strings(result.config).items() if key.startswith(namespace)}
    settings = parse_settings(raw, PROJECT, result.stack)
    workloads = []
    for service in settings.service_list:
        eks = own_settings(service.settings.eks, service.settings)
        workloads.append((service.settings.workload.desired_count, eks.pod_cpu_millicores, eks.pod_memory_mib))
    return workloads, settings.build.architecture.value


# ----------------------------------------------------------------------------------------------
# What a stack with `services` saves by sharing

# The lines of an estimate that are the stack's shared parts (by the start of their item): the network's NAT
# gateways and public addresses, the load balancer (and its web ACL), the EKS control plane. A stack with
# `services` pays each once; one stack per service would pay each once per service.
SHARED_ITEMS = ("NAT gateway", "Public IPv4 address", "Application Load Balancer", "WAF web ACL", "EKS cluster")


@dataclass(frozen=True)
class Saving:
    item: str
    shared: float
    """Per month, once for every service."""
    separate: float
    """Per month, one stack per service."""

    @property
    def saved(self) -> float:
        return round(self.separate - self.shared, 2)


@dataclass(frozen=True)
class Savings:
    services: int
    items: tuple[Saving, ...]

    @property
    def saved(self) -> float:
        return round(sum(s.saved for s in self.items), 2)

    def markdown(self) -> str:
        rows = [
            f"| Shared part | Once for {self.services} services | {self.services} stacks, one per service | Saved |",
            "|---|---:|---:|---:|",
        ]
        rows += [f"| {s.item} | {s.shared:.2f} | {s.separate:.2f} | {s.saved:.2f} |" for s in self.items]
        shared, separate = sum(s.shared for s in self.items), sum(s.separate for s in self.items)
        rows.append(f"| **Total** | **{shared:.2f}** | **{separate:.2f}** | **{self.saved:.2f}** |")
        return "\n".join(rows) + "\n"


def savings(estimate: Estimate, services: int) -> Savings:
    """What `services` services in one stack save on its shared parts (USD per month) against one stack per
    service, each with the same stack-wide settings. Each service's own parts (tasks, alarms, dashboard) cost
    the same either way and are not in it; nor are the nodes a cluster per service would add (each needs one in
    every Availability Zone its pods spread over)."""
    if services < 1:
        raise ValueError(f"services: {services} is not allowed; a stack runs 1 service or more")
    shared = [line for line in estimate.lines if line.item.startswith(SHARED_ITEMS)]
    return Savings(services, tuple(Saving(line.item, line.monthly, round(line.monthly * services, 2)) for line in shared))
