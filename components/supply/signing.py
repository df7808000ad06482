"""The stack's AWS Signer signing profile (Notation platform), and the IAM statements that sign with it or verify
its signatures.

The signature is made by the Notation CLI's AWS Signer plugin, which calls AWS Signer's SignPayload as the step's
role; verification (`notation verify`, level strict) asks GetRevocationStatus about the profile and the signing
job. https://docs.aws.amazon.com/signer/latest/developerguide/image-signing-steps.html
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.contracts import Statement

NOTATION_PLATFORM = "Notation-OCI-SHA384-ECDSA"
"""The signing platform of container images (AWS Signer: "Notation for container registries")."""
# The provider's name_prefix: `^[0-9A-Za-z_]{0,38}$` (terraform-provider-aws internal/service/signer/
# signing_profile.go); a signing profile name allows letters, digits and '_' only.
_PREFIX_MAX = 38
_NOT_ALLOWED = re.compile(r"[^0-9A-Za-z_]")


def profile_name_prefix(prefix: str) -> str:
    """The profile's name prefix from the stack's physical-name prefix: '-' becomes '_' and it ends in '_' before the
    provider's unique suffix, within the provider's 38 characters."""
    return _NOT_ALLOWED.sub("_", prefix)[: _PREFIX_MAX - 1].rstrip("_") + "_"


class SigningProfile(pulumi.ComponentResource):
    """The AWS Signer signing profile whose signatures the stack's deploys trust.

    A name prefix, not a name: AWS Signer never lets a cancelled profile's name be used again, so a replacement (or
    a stack brought up again after `pulumi destroy`, which cancels the profile) gets a new name. Protected in
    production: cancelling the profile ends the signing identity every deployed image's signature names.

    Outputs: `arn` (the trusted identity of the trust policies), `name`.
    """

    def __init__(self, name: str, *, prefix: str, production: bool, tags: dict[str, str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:supply:SigningProfile", name, None, opts)
        profile = aws.signer.SigningProfile(
            f"{name}-profile",
            name_prefix=profile_name_prefix(prefix),
            platform_id=NOTATION_PLATFORM,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=production),
        )
        self.arn: pulumi.Output[str] = profile.arn
        self.name: pulumi.Output[str] = profile.name
        self.register_outputs({"arn": self.arn, "name": self.name})


def signing_jobs_arn(profile_arn: str) -> str:
    """The signing jobs of the profile's account and region (`arn:...:signer:<region>:<account>:/signing-jobs/*`):
    a signature's job id is known only at verification, and jobs are not named by profile."""
    head, _, _ = profile_arn.partition(":/signing-profiles/")
    return f"{head}:/signing-jobs/*"


def sign_statements(profile_arn: pulumi.Input[str]) -> list[Statement]:
    """What the signing role needs: signer:SignPayload on the one profile (the plugin signs with `--id <profile ARN>`)."""
    return [{"Sid": "SignImage", "Effect": "Allow", "Action": "signer:SignPayload", "Resource": profile_arn}]


def verify_statements(profile_arns: Sequence[pulumi.Input[str]]) -> list[Statement]:
    """What a verifying role needs: signer:GetRevocationStatus, which the Service Authorization Reference evaluates
    on the signing profile and the signing job (both resource types required)."""
    resources: list = []
    for arn in profile_arns:
        resources += [arn, pulumi.Output.from_input(arn).apply(signing_jobs_arn)]
    return [{"Sid": "SignatureRevocation", "Effect": "Allow", "Action": "signer:GetRevocationStatus", "Resource": resources}]


def signature_reader_statements(repository_arn: pulumi.Input[str], profile_arn: pulumi.Input[str], sid: str = "ReadSignatures") -> list[Statement]:
    """What `notation verify` of an image of `repository_arn` needs besides GetRevocationStatus: an ECR login
    (GetAuthorizationToken supports no resource-level permissions, and its token works for every registry the role
    may pull from), then the image's manifest and the signature's (an OCI referrer in the same repository: ECR's
    referrers need ecr:BatchGetImage, https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ListImageReferrers.html)
    and the signature blob (GetDownloadUrlForLayer)."""
    return [
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Sid": sid, "Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": repository_arn},
        *verify_statements([profile_arn]),
    ]
