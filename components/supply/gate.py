"""The building stack's Scan stage, between Build and the approval: InspectorScan scans the pushed image (`ImageScan`),
then VerifyImage checks its signature and the scan, keeps the SBOM and the verdict, and exports them.

CodePipeline's InspectorScan action (category Invoke, provider InspectorScan): `InspectorRunMode` ECRImageScan,
the repository name and the build's tag (immutable in the repository, so it names exactly the pushed digest); its
`<Severity>Threshold` keys fail the action past that many findings, so `0` on the threshold severity and every
more severe one fails it on the first such finding.
https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-InspectorScan.html
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import BUILD_NAMESPACE, StageContribution, Statement, StepContext
from components.delivery.buildspec import render
from components.deploy.step import deploy_step
from components.iam import registry_login_statement
from components.naming import physical_name
from components.settings import CpuArchitecture, SupplyChainSettings
from components.supply.records import Records
from components.supply.signing import verify_statements
from components.supply.verify import SCAN_ARTIFACT, verify_buildspec

STAGE_NAME = "Scan"
SCAN_ACTION = "ImageScan"
VERIFY_ACTION = "VerifyImage"
SCAN_NAMESPACE = "ScanVariables"
"""InspectorScan's variables (HighestScannedSeverity)."""
SUPPLY_NAMESPACE = "SupplyVariables"
"""VerifyImage's variables: SBOM_URI and SCAN_VERDICT (when the stage scans)."""
# The scan can take as long as CodePipeline lets any action without a configurable timeout run (1 hour,
# https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html); VerifyImage's own longest run is the
# downloads of the signing tools and a few calls (tests/test_time_budgets.py holds it to this).
VERIFY_TIMEOUT_MINUTES = 30


@dataclass(frozen=True)
class ScanGateArgs:
    name_prefix: str
    """Physical-name prefix (project-stack-service)."""
    supply: SupplyChainSettings
    """The threshold (None: no ImageScan) and whether signatures are verified."""
    repository_name: pulumi.Input[str]
    """The stack's registry, where the build pushed the image."""
    repository_arn: pulumi.Input[str]
    """Its ARN: InspectorScan (the pipeline's role) and VerifyImage pull from it."""
    pipeline_name: str
    """The pipeline's name: InspectorScan writes its logs to /aws/codepipeline/<name>."""
    environment: StepContext
    """VerifyImage's logs and the pipeline's artifacts."""
    architecture: CpuArchitecture
    """CPU architecture of VerifyImage's CodeBuild image (and of the signing tools it installs)."""
    signing_profile_arn: pulumi.Input[str] | None = None
    """The profile whose signature VerifyImage requires. Omitted: imageSigning is off."""
    records: Records | None = None
    """Where VerifyImage keeps SBOM and verdict; required when the stage scans. Omitted: no scan."""


def scan_action(supply: SupplyChainSettings, repository_name: pulumi.Input[str]) -> aws.codepipeline.PipelineStageActionArgs:
    """The InspectorScan action, its thresholds from the settings (SupplyChainSettings.thresholds)."""
    return aws.codepipeline.PipelineStageActionArgs(
        name=SCAN_ACTION,
        category="Invoke",
        owner="AWS",
        provider="InspectorScan",
        version="1",
        run_order=1,
        namespace=SCAN_NAMESPACE,
        output_artifacts=[SCAN_ARTIFACT],
        configuration={
            "InspectorRunMode": "ECRImageScan",
            "ECRRepositoryName": repository_name,
            "ImageTag": f"#{{{BUILD_NAMESPACE}.IMAGE_TAG}}",
            **supply.thresholds(),
        },
    )


def scan_statements(repository_arn: pulumi.Input[str], log_group_arn: pulumi.Input[str]) -> list[Statement]:
    """What the pipeline's role needs for InspectorScan (its action reference): ScanSbom (no resource type), pulling
    the image, and the managed compute's logs in the pipeline's log group."""
    return [
        {"Sid": "InspectorScanSbom", "Effect": "Allow", "Action": "inspector-scan:ScanSbom", "Resource": "*"},
        {
            "Sid": "InspectorScanPull",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": repository_arn,
        },
        {
            "Sid": "InspectorScanLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group_arn, pulumi.Output.concat(log_group_arn, ":*")],
        },
    ]


def verify_image_statements(repository_arn: pulumi.Input[str], profile_arn: pulumi.Input[str] | None, records: Records | None) -> list[Statement]:
    """VerifyImage's role: read the image and its signature (Notation pulls both), the tag's digest, revocation
    status, and write the records (their key is the artifacts' key, in the artifact statements)."""
    statements: list[Statement] = [
        registry_login_statement(),
        {
            "Sid": "ReadImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:GetDownloadUrlForLayer"],
            "Resource": repository_arn,
        },
    ]
    if profile_arn is not None:
        statements += verify_statements([profile_arn])
    if records is not None:
        statements += records.write_statements()
    return statements


class ScanGate(pulumi.ComponentResource):
    """The Scan stage: ImageScan (unless the threshold is off) and VerifyImage.

    Outputs: `contribution` (the stage and the pipeline role's statements).
    """

    def __init__(self, name: str, args: ScanGateArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:supply:ScanGate", name, None, opts)
        supply = args.supply
        if supply.scans and args.records is None:
            raise ValueError("ScanGate: a scanning gate needs the records bucket (args.records)")
        context = AwsContext(self)
        threshold = supply.threshold
        profile = args.signing_profile_arn if supply.signing else None
        bucket = args.records.bucket_name if args.records is not None and supply.scans else None
        buildspec = pulumi.Output.all(profile, bucket, args.repository_name).apply(
            lambda v: render(verify_buildspec(threshold=threshold, profile_arn=v[0], records_bucket=v[1], repository_name=v[2], architecture=args.architecture))
        )
        step = deploy_step(
            f"{name}-verify",
            parent=self,
            project_name=physical_name(args.name_prefix, "verify", 150),
            description="Refuses an image without a valid signature by the stack's profile or with findings at or above the threshold; keeps its SBOM",
            inputs=args.environment,
            buildspec=buildspec,
            statements=verify_image_statements(args.repository_arn, profile, args.records if supply.scans else None),
            architecture=args.architecture,
            timeout_minutes=VERIFY_TIMEOUT_MINUTES,
            source_account=context.account_id,
        )
        b = BUILD_NAMESPACE
        variables = [("IMAGE_URI", f"#{{{b}.IMAGE_URI}}"), ("IMAGE_TAG", f"#{{{b}.IMAGE_TAG}}"), ("EXECUTION", "#{codepipeline.PipelineExecutionId}")]
        # With the SBOM's artifact too, CodeBuild starts in the build's; the SBOM's is CODEBUILD_SRC_DIR_ScanReport.
        verify = step.action(VERIFY_ACTION, 2 if supply.scans else 1, variables, namespace=SUPPLY_NAMESPACE, more_inputs=[SCAN_ARTIFACT] if supply.scans else [])
        actions = [verify]
        statements = [step.pipeline_statement("RunVerifyImage")]
        if supply.scans:
            actions.insert(0, scan_action(supply, args.repository_name))
            logs = context.arn("logs", f"log-group:/aws/codepipeline/{args.pipeline_name}")
            statements += scan_statements(args.repository_arn, logs)
        self.contribution = StageContribution(stage=aws.codepipeline.PipelineStageArgs(name=STAGE_NAME, actions=actions), pipeline_statements=statements)
        self.register_outputs({})
