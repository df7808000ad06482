"""Network: a new VPC with public and private subnets in two AZs, or an existing one from config."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.iam import service_role
from components.settings import NatGateways

AZ_COUNT = 2


@dataclass(frozen=True)
class NetworkArgs:
    vpc_cidr: str
    """CIDR of the created VPC; split into four equal subnets (two public, two private)."""
    nat_gateways: NatGateways
    """SINGLE: one NAT gateway for both private subnets (cheaper, one AZ of egress)."""
    existing_vpc_id: str | None
    """When set, nothing is created and the subnet ids below are used as they are. None: a VPC is created."""
    existing_public_subnet_ids: tuple[str, ...]
    """With `existing_vpc_id`: the load balancer's subnets. Ignored when a VPC is created."""
    existing_private_subnet_ids: tuple[str, ...]
    """With `existing_vpc_id`: the subnets of tasks, pods and deploy steps. Ignored when a VPC is created."""
    flow_log_group_prefix: str
    """Name prefix of the created VPC's flow log group (CloudWatch Logs adds a unique suffix). Ignored
    with `existing_vpc_id`."""
    log_retention_days: int
    """Retention of the flow log group."""
    log_key_arn: pulumi.Input[str]
    """The stack's CloudWatch Logs key: the flow log group is encrypted with it."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: only the `Name` tags."""


def subnet_cidrs(vpc_cidr: str) -> tuple[list[str], list[str]]:
    """Four equal subnets of the VPC: the first two public, the last two private."""
    quarters = [str(s) for s in ipaddress.IPv4Network(vpc_cidr).subnets(prefixlen_diff=2)]
    return quarters[:AZ_COUNT], quarters[AZ_COUNT:]


def flow_log_statement(log_group_arn: pulumi.Input[str]) -> dict:
    """What VPC Flow Logs does with its role: create streams in the one group and write to them.

    https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html
    """
    return {
        "Sid": "DeliverFlowLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": [log_group_arn, pulumi.Output.concat(log_group_arn, ":*")],
    }


class Network(pulumi.ComponentResource):
    """A created VPC records its traffic (flow logs, ALL traffic) in an encrypted log group; an existing
    VPC's flow logs are its owner's business, so nothing is added to it.

    Outputs: `vpc_id`, `public_subnet_ids`, `private_subnet_ids`, `nat_public_ips` (the created NAT gateways'
    Elastic IPs, the private subnets' address on the internet; empty for an existing VPC), `private_egress`
    (the NAT gateways and private routes: depend on them before something in the private subnets must reach
    the internet; empty for an existing VPC)."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:network:Network", name, None, opts)
        if args.existing_vpc_id:
            self.vpc_id = pulumi.Output.from_input(args.existing_vpc_id)
            self.public_subnet_ids = pulumi.Output.from_input(list(args.existing_public_subnet_ids))
            self.private_subnet_ids = pulumi.Output.from_input(list(args.existing_private_subnet_ids))
            self.nat_public_ips: list[pulumi.Output[str]] = []
            self.private_egress: list[pulumi.Resource] = []
        else:
            self._create(name, args)
        self.register_outputs({"vpc_id": self.vpc_id, "public_subnet_ids": self.public_subnet_ids, "private_subnet_ids": self.private_subnet_ids})

    def _create(self, name: str, args: NetworkArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self))
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**args.tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        in_vpc = pulumi.ResourceOptions(parent=vpc)
        # The default security group of a new VPC allows all traffic between its members;
        # adopting it with no rules leaves it empty, so nothing can use it by accident.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, tags=args.tags, opts=in_vpc)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={**args.tags, "Name": f"{name}-igw"}, opts=in_vpc)
        public_cidrs, private_cidrs = subnet_cidrs(args.vpc_cidr)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags={**args.tags, "Name": f"{name}-public"},
            opts=in_vpc,
        )
        public, private, nats, eips = [], [], [], []
        egress: list[pulumi.Resource] = []
        for i in range(AZ_COUNT):
            az = zones.names.apply(lambda names, i=i: names[i])
            subnet = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=public_cidrs[i],
                availability_zone=az,
                # Only load balancers and NAT gateways live here; they get their own addresses.
                map_public_ip_on_launch=False,
                tags={**args.tags, "Name": f"{name}-public-{i}", "kubernetes.io/role/elb": "1"},
                opts=in_vpc,
            )
            aws.ec2.RouteTableAssociation(f"{name}-public-{i}-rta", subnet_id=subnet.id, route_table_id=public_rt.id, opts=pulumi.ResourceOptions(parent=subnet))
            public.append(subnet)
            if i == 0 or args.nat_gateways is NatGateways.ONE_PER_AZ:
                eip = aws.ec2.Eip(f"{name}-nat-{i}-eip", domain="vpc", tags=args.tags, opts=pulumi.ResourceOptions(parent=subnet))
                eips.append(eip)
                nats.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{i}",
                        subnet_id=subnet.id,
                        allocation_id=eip.id,
                        tags={**args.tags, "Name": f"{name}-nat-{i}"},
                        opts=pulumi.ResourceOptions(parent=subnet, depends_on=[igw]),
                    )
                )
        for i in range(AZ_COUNT):
            az = zones.names.apply(lambda names, i=i: names[i])
            subnet = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=private_cidrs[i],
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags={**args.tags, "Name": f"{name}-private-{i}", "kubernetes.io/role/internal-elb": "1"},
                opts=in_vpc,
            )
            nat = nats[i] if i < len(nats) else nats[0]
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}-rt",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags={**args.tags, "Name": f"{name}-private-{i}"},
                opts=in_vpc,
            )
            association = aws.ec2.RouteTableAssociation(f"{name}-private-{i}-rta", subnet_id=subnet.id, route_table_id=rt.id, opts=pulumi.ResourceOptions(parent=subnet))
            egress += [rt, association]
            private.append(subnet)
        self._flow_logs(name, args, vpc)
        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self.nat_public_ips = [eip.public_ip for eip in eips]
        self.private_egress = [*nats, *egress]

    def _flow_logs(self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc) -> None:
        context = AwsContext(self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name_prefix=args.flow_log_group_prefix,
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_key_arn,
            tags=args.tags,
            # Kept, not protected: switching to an existing VPC deletes the created one, and its traffic
            # records stay evidence until their retention ends (as a deploy target's kept log groups).
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        role = service_role(
            f"{name}-flow-logs-role",
            "vpc-flow-logs.amazonaws.com",
            [flow_log_statement(log_group.arn)],
            parent=self,
            tags=args.tags,
            description=f"Lets VPC Flow Logs deliver {name}'s traffic records to CloudWatch Logs",
            # Confused-deputy guard AWS documents for this role: only flow logs of this account.
            conditions={
                "StringEquals": {"aws:SourceAccount": context.account_id},
                "ArnLike": {"aws:SourceArn": context.arn("ec2", "vpc-flow-log/*")},
            },
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            # ALL, not REJECT: an investigation needs the accepted connections too (what a task
            # reached). See docs/safety.md for the cost per GB.
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            tags={**args.tags, "Name": f"{name}-flow-log"},
            opts=pulumi.ResourceOptions(parent=vpc),
        )
