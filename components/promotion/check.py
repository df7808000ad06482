"""Check: a promoting stack's stand-in for the build, between Source (the inbox) and the deploy gates.

It consumes the inbox's artifact and produces what the build produces: the deploy artifact
(BUILD_ARTIFACT with imagedefinitions.json) and the build's variable namespace (IMAGE_URI as the
digest reference, IMAGE_TAG, IMAGE_DIGEST, and COMMIT_ID and UPSTREAM_EXECUTION_ID), so the deploy
targets work unchanged. It deploys nothing the upstream did not verify: it re-reads the digest's tags in
the upstream registry itself, whatever the inbox object says (scripts.check_script).

With the supply-chain gate on (this stack's settings, not the upstream's) it then verifies the digest's
signature against the UPSTREAM's signing profile, whose ARN comes from the promotion contract and is fixed
into the buildspec at `pulumi up` (never read from a tag or the inbox), and rescans the upstream's SBOM of
the digest against THIS stack's threshold (rescan.py), keeping SBOM and verdict in this stack's records
bucket. It exports SBOM_URI and SCAN_VERDICT under the build's namespace, where the deploy steps read them.

Across accounts: the signature lives next to the image in the upstream's repository (an OCI referrer), read
with the pull actions the upstream's repository policy grants (ECR's referrers listing needs
ecr:BatchGetImage: https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ListImageReferrers.html).
The AWS Signer plugin asks GetRevocationStatus with this step's credentials, in this step's account and the
profile's region (https://github.com/aws/aws-signer-notation-plugin, internal/verifier/verifier.go and
internal/client/client.go: the default credential chain). AWS Signer's cross-account permissions
(AddProfilePermission) grant only StartSigningJob, SignPayload, GetSigningProfile and RevokeSignature
(https://docs.aws.amazon.com/signer/latest/api/API_AddProfilePermission.html): the upstream grants nothing
for verification; this step's own IAM policy allows GetRevocationStatus on the upstream's profile and its
signing jobs. Revocation is checked because the trust policy's level is strict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import BUILD_ARTIFACT, BUILD_NAMESPACE, SOURCE_ARTIFACT, StageContribution, Statement, StepContext
from components.deploy.step import deploy_step, download_minutes
from components.naming import physical_name
from components.promotion import rescan, scripts
from components.promotion.contract import UpstreamContract
from components.settings import CpuArchitecture, SupplyChainSettings
from components.supply import notation
from components.supply.records import SBOM_PREFIX, SCAN_PREFIX
from components.supply.signing import signature_reader_statements

# What the gate's lines set and the step exports when it rescans, under the build's namespace.
SUPPLY_VARIABLES = ("SBOM_URI", "SCAN_VERDICT")
# The Check action's inputs: the execution it checks for (the scan verdict names it).
# https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html (codepipeline namespace)
EXECUTION_VARIABLE = ("EXECUTION_ID", "#{codepipeline.PipelineExecutionId}")

STAGE_NAME = "Check"
ACTION_NAME = "CheckVerified"


@dataclass(frozen=True)
class PromotionCheckArgs:
    name_prefix: str
    """Physical-name prefix (project-stack-service)."""
    container_name: str
    """This stack's container, named in the imagedefinitions.json the step writes."""
    upstream: UpstreamContract
    """Where the image must be, and verified."""
    environment: StepContext
    """The step's logs and the pipeline's artifacts."""
    architecture: CpuArchitecture
    """CPU architecture of the step's CodeBuild image."""
    supply: SupplyChainSettings = SupplyChainSettings(threshold=None, signing=False)
    """This stack's gate: verify the upstream's signature (signing), rescan against `threshold`. Omitted: no gate."""
    records: OwnRecords | None = None
    """This stack's records bucket, where the rescan keeps SBOM and verdict. Omitted: none, which only a Check that
    does not rescan takes (ValueError otherwise)."""


@dataclass(frozen=True)
class OwnRecords:
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    """The bucket's KMS key (S3 encrypts each object with it, as the writer)."""


def check_statements(repository_arn: pulumi.Input[str]) -> list[Statement]:
    """Read the upstream image's tags; nothing else in the upstream registry."""
    return [{"Sid": "ReadUpstreamImageTags", "Effect": "Allow", "Action": "ecr:DescribeImages", "Resource": repository_arn}]


def rescan_statements(upstream: UpstreamContract, own: OwnRecords, context: AwsContext) -> list[Statement]:
    """Read the upstream's SBOMs (its bucket policy and key policy grant this account the same), scan them, keep them."""
    sboms = context.arn("s3", pulumi.Output.concat(upstream.records_bucket, f"/{SBOM_PREFIX}*"), region=False, account=False)
    return [
        {"Sid": "ReadUpstreamSboms", "Effect": "Allow", "Action": "s3:GetObject", "Resource": sboms},
        # S3 decrypts the object with the upstream's key as the reader: its key policy and this policy must both allow it.
        {
            "Sid": "DecryptUpstreamSboms",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": upstream.records_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": pulumi.Output.concat("s3.", upstream.region, ".amazonaws.com")}},
        },
        # ScanSbom supports no resource-level permissions (Service Authorization Reference: no resource type).
        {"Sid": "RescanSboms", "Effect": "Allow", "Action": "inspector-scan:ScanSbom", "Resource": "*"},
        {
            "Sid": "KeepRecords",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": [pulumi.Output.concat(own.bucket_arn, f"/{SBOM_PREFIX}*"), pulumi.Output.concat(own.bucket_arn, f"/{SCAN_PREFIX}*")],
        },
        {"Sid": "EncryptRecords", "Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": own.key_arn},
    ]


# What to do about an image the upstream's signing profile did not sign: its build signs a digest it finds
# unsigned when its pipeline runs on the commit again (components/supply/notation.py, sign_built_commands).
UNSIGNED_FIX = (
    "if the upstream built it before it signed its images, run the upstream's pipeline on that commit again "
    "(python -m tools.revert --stack <upstream> --commit <commit>): its build signs the digest, and its next success promotes it"
)


def signature_lines(profile_arn: str) -> list[str]:
    """The upstream's signature of $IMAGE_URI, verified in a subshell (the verify commands end it on a refusal): a
    refusal keeps the verifier's reason and adds what to do about it."""
    body = "\n".join(notation.verify_commands("IMAGE_URI", [profile_arn]))
    return [
        f'VERIFIED="$( (\n{body}\n) 2>&1)" || {{ grep -v "^{notation.REFUSING} " <<<"$VERIFIED"; '
        f'refuse "$(sed -n "s/^{notation.REFUSING} [^ ]*: //p" <<<"$VERIFIED" | tail -n 1); {UNSIGNED_FIX}"; }}',
        'echo "$VERIFIED"',
    ]


def check_gate(supply: SupplyChainSettings, profile_arn: str, records_bucket: str, own_bucket: str, architecture: CpuArchitecture) -> scripts.CheckGate | None:
    """The gate's part of the Check step for this stack's settings; None when its gate is off."""
    if not supply.gated:
        return None
    lines: list[str] = []
    if supply.signing:
        lines += signature_lines(profile_arn)
    environment: dict[str, str] = {}
    if supply.threshold is not None:
        lines += rescan.rescan_lines(supply.threshold)
        environment = {"UPSTREAM_RECORDS_BUCKET": records_bucket, "RECORDS_BUCKET": own_bucket}
    return scripts.CheckGate(
        lines=lines,
        variables=SUPPLY_VARIABLES if supply.threshold is not None else (),
        install=notation.install_commands(architecture) if supply.signing else (),
        environment=environment,
    )


class PromotionCheck(pulumi.ComponentResource):
    """Outputs: `contribution` (the Check stage)."""

    def __init__(self, name: str, args: PromotionCheckArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:promotion:PromotionCheck", name, None, opts)
        upstream = args.upstream
        supply = args.supply
        if supply.scans and args.records is None:
            raise ValueError("PromotionCheckArgs.records: a Check that rescans needs this stack's records bucket")
        own_bucket = args.records.bucket_name if args.records else ""
        buildspec = pulumi.Output.all(
            upstream.account_id, upstream.region, upstream.repository_name, upstream.repository_url, upstream.signing_profile_arn, upstream.records_bucket, own_bucket
        ).apply(
            lambda values: scripts.render(
                scripts.check_buildspec(
                    container_name=args.container_name,
                    registry_id=values[0],
                    region=values[1],
                    repository_name=values[2],
                    repository_url=values[3],
                    gate=check_gate(supply, values[4], values[5], values[6], args.architecture),
                )
            )
        )
        statements = check_statements(upstream.repository_arn)
        if supply.signing:
            statements += signature_reader_statements(upstream.repository_arn, upstream.signing_profile_arn, "ReadUpstreamSignatures")
        if supply.scans and args.records is not None:
            statements += rescan_statements(upstream, args.records, AwsContext(self))
        step = deploy_step(
            f"{name}-step",
            parent=self,
            project_name=physical_name(args.name_prefix, "check", 150),
            description=f"Deploys only what {upstream.stack} verified: checks the promoted digest's tags in its registry",
            inputs=args.environment,
            buildspec=buildspec,
            statements=statements,
            architecture=args.architecture,
            # The tag check and the gate's calls, and (verifying) the verifier's install at its slowest.
            timeout_minutes=10 + (download_minutes(notation.install_commands(args.architecture)) if supply.signing else 0),
            source_account=AwsContext(self).account_id,
        )
        action = aws.codepipeline.PipelineStageActionArgs(
            name=ACTION_NAME,
            category="Build",
            owner="AWS",
            provider="CodeBuild",
            version="1",
            namespace=BUILD_NAMESPACE,
            input_artifacts=[SOURCE_ARTIFACT],
            output_artifacts=[BUILD_ARTIFACT],
            configuration={"ProjectName": step.project.name, **self._variables(supply)},
        )
        self.contribution = StageContribution(
            stage=aws.codepipeline.PipelineStageArgs(name=STAGE_NAME, actions=[action]),
            pipeline_statements=[step.pipeline_statement("RunCheck")],
        )
        self.register_outputs({})

    @staticmethod
    def _variables(supply: SupplyChainSettings) -> dict[str, pulumi.Input[str]]:
        """The action's EnvironmentVariables: the execution, for the scan verdict it keeps (none without a rescan)."""
        if not supply.scans:
            return {}
        name, value = EXECUTION_VARIABLE
        return {"EnvironmentVariables": json.dumps([{"name": name, "value": value, "type": "PLAINTEXT"}])}
