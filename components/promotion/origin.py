"""Where a stack's images come from: built from source here, or promoted from another stack.

One interface (`ImageOrigin`), two variants chosen by the settings (promoteFrom; program/origin.py builds them):

- built: the source repository, the registry and the build, as every stack had before promotion, plus
  the Publish stage after the deploy stages that marks what the deployment verified;
- promoted: the upstream's contract, the inbox as Source, the collector, and the Check stage instead
  of the Build stage. No source repository, build project or registry of its own.

Either way the pipeline gets a Source stage, the stage(s) before the approval, the final stages, the
repository the deploy target pulls from, and what the stack exports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.contracts import StageContribution
from components.delivery.source import SourceContribution

Exports = Callable[[pulumi.Output[str], pulumi.Output[str]], Mapping[str, Any]]
Naming = Callable[[str], tuple[str, pulumi.ResourceOptions]]
"""A component's logical name and options from its base name ("source", "build", ...): a stack's service names its own."""


def as_is(base: str) -> tuple[str, pulumi.ResourceOptions]:
    """The names a stack of one service has always had."""
    return base, pulumi.ResourceOptions()


@dataclass(frozen=True)
class ImageOrigin:
    source: SourceContribution
    """The pipeline's Source stage (and what starts the pipeline)."""
    stages: Sequence[StageContribution]
    """The stage(s) between Source and the approval: Build, or Check."""
    repository_url: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    repository_name: pulumi.Input[str]
    """The registry the deploy target pulls from (this stack's, or the upstream's)."""
    location: pulumi.Input[str]
    """Where the pipeline's source is, for people (the `sourceLocation` output)."""
    exports: Exports
    """The stack outputs of the origin, given the pipeline's name and ARN."""
    final_stages: Sequence[StageContribution] = ()
    """Stages after the deploy stages. Omitted: none."""
    approval_message: pulumi.Input[str] | None = None
    """The manual approval's text. Omitted: the pipeline's default (the source commit and the built image)."""
    registry_is_own: bool = True
    """The registry belongs to this stack's account. False: another account's (promoteFromAccount), which lets
    this account pull and describe its images, not tag them. Omitted: this account's."""
    trusted_signer: pulumi.Input[str] | None = None
    """The signing profile whose signature every deployed image must carry: the stack's own, or in a promoting
    stack the upstream's (from its contract). Omitted: None (imageSigning off: nothing verifies a signature)."""
