"""The ECS cluster: a stack of one service creates it in its target; a stack of several services creates one for all
of them (it belongs to the stack, so removing a service keeps it) and gives it to each target
(`DeployInputs.shared_cluster`)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws


def ecs_cluster(name: str, cluster_name: str, tags: Mapping[str, str], opts: pulumi.ResourceOptions | None = None) -> aws.ecs.Cluster:
    """An ECS cluster with Container Insights (the saturation metrics and the dashboard read it)."""
    return aws.ecs.Cluster(name, name=cluster_name, settings=[{"name": "containerInsights", "value": "enabled"}], tags=dict(tags), opts=opts)
