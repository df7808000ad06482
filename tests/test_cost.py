"""The idle monthly cost of a stack, from what it creates (offline/cost.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline.cost import (
    AUTO_MODE_NODE_VOLUME_GIB,
    AUTO_MODE_NODES,
    HOURS_PER_MONTH,
    Line,
    Saving,
    Savings,
    _auto_mode_nodes,
    _workload_requests,
    estimate,
    savings,
)
from offline.mocks import StackResult

EKS_DOC = (Path(__file__).resolve().parent.parent / "docs" / "eks.md").read_text()


def test_dev_costs_exactly_its_hourly_resources(dev):
    e = estimate(dev)
    assert e.lines == (
        Line("NAT gateway", 1, "", round(0.045 * HOURS_PER_MONTH, 2)),
        # The ALB's two addresses and the NAT gateway's.
        Line("Public IPv4 address", 3, "", round(0.005 * HOURS_PER_MONTH * 3, 2)),
        Line("Application Load Balancer (1 LCU)", 1, "", round((0.0225 + 0.008) * HOURS_PER_MONTH, 2)),
        Line("Fargate task (0.25 vCPU, 0.5 GB, x86_64)", 1, "", round((0.04048 * 0.25 + 0.004445 * 0.5) * HOURS_PER_MONTH, 2)),
        Line("KMS customer managed key", 3, "", 3.0),
        Line("CloudWatch metric alarm", 5, "", 0.5),
        Line("CloudWatch composite alarm", 1, "", 0.5),
        Line("CloudWatch dashboard", 1, "", 3.0),
    )
    assert e.total == round(sum(line.monthly for line in e.lines), 2) == 82.08


def test_prod_is_dominated_by_the_cluster_nodes_and_nat_gateways(prod):
    e = estimate(prod)
    monthly = {line.item: line.monthly for line in e.lines}
    assert monthly["NAT gateway"] == round(0.045 * HOURS_PER_MONTH * 2, 2)  # one per AZ
    assert monthly["EKS cluster (standard support)"] == 73.0
    # 3 pods of 500m / 1 GiB fit one node, but they spread over two AZs: two nodes.
    assert [line.quantity for line in e.lines if line.item.startswith("EKS Auto Mode node (")] == [2]
    top = sorted(e.lines, key=lambda line: line.monthly, reverse=True)[:3]
    assert {line.item.split(" (")[0] for line in top} == {"EKS Auto Mode node", "EKS cluster", "NAT gateway"}


def test_every_auto_mode_node_pays_for_its_80_gib_gp3_volume(prod):
    lines = {line.item: line for line in estimate(prod).lines}
    assert lines["EKS Auto Mode node volume (80 GiB gp3)"] == Line("EKS Auto Mode node volume (80 GiB gp3)", 2, "", round(0.08 * 80 * 2, 2))
    assert lines["EKS Auto Mode node (c6a.large + fee)"].quantity == 2


def test_an_arm64_cluster_is_priced_with_graviton_nodes_of_its_node_pool(evaluate):
    """A created cluster on arm64 runs the workload on its NodePool's Graviton nodes (tests/test_eks_node_pool.py)."""
    amd = {line.item: line for line in estimate(evaluate("dev", deployTarget="eks")).lines}
    arm = {line.item: line for line in estimate(evaluate("dev", deployTarget="eks", cpuArchitecture="arm64")).lines}
    assert "EKS Auto Mode node (c6a.large + fee)" in amd and "EKS Auto Mode node (c6g.large + fee)" not in amd
    node = arm["EKS Auto Mode node (c6g.large + fee)"]
    # EC2 on-demand plus the Auto Mode fee, which is billed per instance.
    assert node == Line("EKS Auto Mode node (c6g.large + fee)", 1, "", round((0.068 + 0.00816) * HOURS_PER_MONTH, 2))
    assert node.monthly < amd["EKS Auto Mode node (c6a.large + fee)"].monthly
    assert arm["EKS Auto Mode node volume (80 GiB gp3)"].quantity == node.quantity


def test_docs_eks_states_the_priced_node_volume_and_instances():
    text = " ".join(EKS_DOC.split())
    assert f"the default NodeClass's {AUTO_MODE_NODE_VOLUME_GIB} GiB gp3" in text
    arm, amd = AUTO_MODE_NODES["arm64"], AUTO_MODE_NODES["x86_64"]
    assert f"Graviton nodes as {arm[0]}, cheaper than the general-purpose pool's {amd[0]}" in text and arm[1] < amd[1]


def test_cluster_logs_and_container_insights_are_named_among_the_usage_billed_items(prod, dev):
    eks, ecs = estimate(prod).notes, estimate(dev).notes
    control_plane = [n for n in eks if n.startswith("EKS control-plane logs (all five types) to CloudWatch Logs: vended-log ingestion $0.50 per GB")]
    insights = [n for n in eks if n.startswith("Container Insights (the add-on on every node): its metrics, billed per observation")]
    assert len(control_plane) == len(insights) == 1
    assert not [n for n in ecs if n.startswith(("EKS", "Container Insights"))]


def test_more_or_bigger_tasks_cost_more(evaluate):
    small = estimate(evaluate("dev")).total
    bigger = estimate(evaluate("dev", ecsCpu=1024, ecsMemory=2048, desiredCount=3)).total
    arm = estimate(evaluate("dev", cpuArchitecture="arm64")).total
    assert bigger > small > arm


def test_markdown_names_the_prices_date_and_sources(dev):
    text = estimate(dev).markdown()
    assert "| **Total while idle** | | **82.08** |" in text
    assert "read 2026-11-27" in text and "https://aws.amazon.com/vpc/pricing/" in text
    assert "NAT gateway data processing: $0.045 per GB" in text


def test_eks_node_estimate_refuses_another_targets_settings(dev):
    """The node count reads the EKS settings through the targets' own helper (own_settings), which
    names the deploy target instead of failing an assert."""
    with pytest.raises(ValueError, match=r"^deployTarget is 'ecs': this target's settings are not parsed for it$"):
        _workload_requests(dev)


def test_shared_parts_save_each_their_price_once_per_service_beyond_the_first(dev, prod):
    """One stack per service pays the network, load balancer (and web ACL) and control plane once per service."""
    found = savings(estimate(dev), 3)
    nat, ips, alb = round(0.045 * HOURS_PER_MONTH, 2), round(0.005 * HOURS_PER_MONTH * 3, 2), round((0.0225 + 0.008) * HOURS_PER_MONTH, 2)
    assert found == Savings(
        3,
        (
            Saving("NAT gateway", nat, round(nat * 3, 2)),
            Saving("Public IPv4 address", ips, round(ips * 3, 2)),
            Saving("Application Load Balancer (1 LCU)", alb, round(alb * 3, 2)),
        ),
    )
    assert found.saved == round(2 * (nat + ips + alb), 2)
    # Tasks, keys, alarms and dashboards are each service's own: not among the shared parts.
    assert {s.item for s in savings(estimate(prod), 2).items} == {
        "NAT gateway",
        "Public IPv4 address",
        "Application Load Balancer (1 LCU)",
        "EKS cluster (standard support)",
        "WAF web ACL (4 rules)",
    }
    assert savings(estimate(prod), 2).items[3] == Saving("EKS cluster (standard support)", 73.0, 146.0)
    assert savings(estimate(dev), 1).saved == 0
    with pytest.raises(ValueError, match=r"^services: 0 is not allowed; a stack runs 1 service or more$"):
        savings(estimate(dev), 0)


def test_savings_table_shows_each_shared_part_once_and_per_service_and_the_total(dev):
    text = savings(estimate(dev), 3).markdown()
    assert text.splitlines() == [
        "| Shared part | Once for 3 services | 3 stacks, one per service | Saved |",
        "|---|---:|---:|---:|",
        "| NAT gateway | 32.85 | 98.55 | 65.70 |",
        "| Public IPv4 address | 10.95 | 32.85 | 21.90 |",
        "| Application Load Balancer (1 LCU) | 22.27 | 66.81 | 44.54 |",
        "| **Total** | **66.07** | **198.21** | **132.14** |",
    ]


def test_eks_nodes_fit_every_services_pods_together():
    """Each service's replicas at its own pod size, packed on the stack's one cluster (only its settings are read)."""
    services = [
        {"name": "web", "desiredCount": 3, "eksPodCpuMillicores": 1000, "eksPodMemoryMiB": 512},
        {"name": "api", "paths": ["/api/*"], "desiredCount": 2, "eksPodCpuMillicores": 1000, "eksPodMemoryMiB": 512},
        {"name": "admin", "hosts": ["admin.example.com"], "desiredCount": 1, "eksPodCpuMillicores": 500, "eksPodMemoryMiB": 2048},
    ]
    config = {"container-cicd:deployTarget": "eks", "container-cicd:services": services}
    result = StackResult("dev", config, [], {}, [])
    assert _workload_requests(result) == ([(3, 1000, 512), (2, 1000, 512), (1, 500, 2048)], "x86_64")
    # 5,500 millicores need three nodes of 1,930; 4,608 MiB two of 3,300: the CPU decides.
    assert _auto_mode_nodes(result) == (3, "x86_64")
