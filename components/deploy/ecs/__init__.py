"""ECS on Fargate deploy target: what the deploy registry (components/deploy/__init__.py) needs of it."""

from components.deploy.ecs.report import REPORT
from components.deploy.ecs.target import TYPE, EcsTarget, EcsTargetArgs, from_settings, target_group_tags, traffic_shift_args

__all__ = ["REPORT", "TYPE", "EcsTarget", "EcsTargetArgs", "from_settings", "target_group_tags", "traffic_shift_args"]
