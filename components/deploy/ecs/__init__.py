"""ECS on Fargate deploy target: what the target registry (program/targets.py) needs of it."""

from components.deploy.ecs.report import REPORT
from components.deploy.ecs.target import KIND, TYPE, EcsTarget, EcsTargetArgs, traffic_shift_args

__all__ = ["KIND", "REPORT", "TYPE", "EcsTarget", "EcsTargetArgs", "traffic_shift_args"]
