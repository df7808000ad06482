"""EKS deploy target: what the target registry (program/targets.py) needs of it."""

from components.deploy.eks.report import REPORT
from components.deploy.eks.target import KIND, TYPE, EksTarget, EksTargetArgs, target_group_tags

__all__ = ["KIND", "REPORT", "TYPE", "EksTarget", "EksTargetArgs", "target_group_tags"]
