"""EKS deploy target: what the deploy registry (components/deploy/__init__.py) needs of it."""

from components.deploy.eks.report import REPORT
from components.deploy.eks.target import TYPE, EksTarget, EksTargetArgs, from_settings, target_group_tags

__all__ = ["REPORT", "TYPE", "EksTarget", "EksTargetArgs", "from_settings", "target_group_tags"]
