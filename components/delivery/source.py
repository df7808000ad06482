"""Source: a CodeCommit repository or a CodeConnections connection to GitHub, Bitbucket or GitLab."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pulumi
import pulumi_aws as aws

from components.contracts import SOURCE_ARTIFACT, SOURCE_NAMESPACE, StageContribution, Statement
from components.naming import physical_name
from components.settings import SourceProvider

SOURCE_ACTION = "Source"
# Approvals a pull request into the pipeline's branch needs before it can be merged.
REQUIRED_APPROVALS = 1


def approval_rule_content(branch: str) -> dict:
    """An approval rule template: pull requests into `branch` need REQUIRED_APPROVALS approvals from
    anyone allowed to approve in the account (no approval pool: IAM decides who may).

    https://docs.aws.amazon.com/codecommit/latest/userguide/approval-rule-templates.html
    https://docs.aws.amazon.com/codecommit/latest/APIReference/API_CreateApprovalRuleTemplate.html
    """
    return {
        "Version": "2018-11-08",
        "DestinationReferences": [f"refs/heads/{branch}"],
        "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": REQUIRED_APPROVALS}],
    }


def branch_push_pattern(repository_arn: str, branch: str) -> dict:
    """EventBridge pattern: a push to `branch` of the CodeCommit repository (the branch created or moved).
    https://docs.aws.amazon.com/codecommit/latest/userguide/monitoring-events.html"""
    return {
        "source": ["aws.codecommit"],
        "detail-type": ["CodeCommit Repository State Change"],
        "resources": [repository_arn],
        "detail": {
            "event": ["referenceCreated", "referenceUpdated"],
            "referenceType": ["branch"],
            "referenceName": [branch],
        },
    }


@dataclass(frozen=True)
class SourceArgs:
    provider: SourceProvider
    """Where the code lives: CodeCommit, or a CodeConnections host."""
    repository: str
    """CodeCommit repository name, or 'owner/name' on a connection host."""
    branch: str
    """Branch whose pushes run the pipeline."""
    name_prefix: str
    """Prefix of physical names (project-stack-service)."""
    create_repository: bool
    """codecommit only. When False the repository must already exist under `repository`."""
    connection_arn: str | None
    """Connection sources only. When None a connection is created, PENDING until confirmed in the console."""
    file_paths: Sequence[str]
    """Connection sources: the V2 trigger's file-path filter (includes). When empty, a push of any file on the branch
    runs the pipeline. (CodeCommit has no trigger filters: a stack of several services routes its pushes with
    components/delivery/path_router.py instead.)"""
    production: bool
    """When True a created repository (the code) and connection (confirmed by hand) are protected."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""
    shared_repository: SharedRepository | None = None
    """codecommit only: the repository another service's Source of this stack created or looked up (its
    `shared_repository()`), which this Source reads too: it creates none, looks none up and adds no approval rule
    (one repository, one monorepo, several services). Omitted: `create_repository` decides."""
    shared_connection_arn: pulumi.Input[str] | None = None
    """Connection sources without `connection_arn`: the connection another service's Source of this stack created
    (its `connection_arn`), which this Source uses too instead of creating one more to confirm by hand. Omitted:
    `connection_arn` decides."""


@dataclass(frozen=True)
class SharedRepository:
    """A CodeCommit repository several services' Sources read (a monorepo): what the others need of it."""

    arn: pulumi.Input[str]
    clone_url: pulumi.Input[str]


@dataclass(frozen=True)
class SourceContribution(StageContribution):
    """The Source stage plus how pipeline executions start."""

    triggers: Sequence[aws.codepipeline.PipelineTriggerArgs] = ()
    """V2 triggers (connection sources): push filters on branch and file paths."""
    start_event_pattern: pulumi.Input[dict] | None = None
    """CodeCommit: the EventBridge pattern of a push to the branch; the pipeline starts on it."""
    start_trigger: str = "a push to its source branch"
    """With `start_event_pattern`: what the event is, in words (the start rule's description)."""


class Source(pulumi.ComponentResource):
    """Where the pipeline's code comes from.

    Outputs: `location` (clone URL for CodeCommit, connection ARN otherwise), `contribution`, `repository_arn`
    (CodeCommit; None for a connection) and `connection_arn` (a connection's; None for CodeCommit).
    """

    def __init__(self, name: str, args: SourceArgs, opts: pulumi.ResourceOptions | None = None):
        if args.shared_repository is not None and args.provider is not SourceProvider.CODECOMMIT:
            raise ValueError(f"SourceArgs.shared_repository: a {args.provider.value} source reads its repository through its connection; only codecommit shares one")
        if args.shared_connection_arn is not None and args.provider is SourceProvider.CODECOMMIT:
            raise ValueError("SourceArgs.shared_connection_arn: a codecommit source uses no connection; share its repository (shared_repository)")
        super().__init__("container-cicd:pipeline:Source", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, protect=args.production)
        self._branch = args.branch
        self.repository_arn: pulumi.Output[str] | None = None
        """The CodeCommit repository's ARN (what the stack's path router reads); None for a connection source."""
        self.connection_arn: pulumi.Output[str] | None = None
        if args.provider is SourceProvider.CODECOMMIT:
            self.contribution, self.location, self.repository_arn = self._codecommit(name, args, child)
        else:
            self.contribution, self.location = self._connection(name, args, child)
            self.connection_arn = self.location
        self.register_outputs({"location": self.location})

    def shared_repository(self) -> SharedRepository:
        """This CodeCommit Source's repository, for the other services' Sources (`SourceArgs.shared_repository`)."""
        if self.repository_arn is None:
            raise ValueError("Source.shared_repository: only a codecommit Source has a repository to share")
        return SharedRepository(arn=self.repository_arn, clone_url=self.location)

    @staticmethod
    def _codecommit(name: str, args: SourceArgs, child: pulumi.ResourceOptions):
        if args.shared_repository is not None:
            arn, clone_url = pulumi.Output.from_input(args.shared_repository.arn), pulumi.Output.from_input(args.shared_repository.clone_url)
        elif args.create_repository:
            repo = aws.codecommit.Repository(
                f"{name}-repo",
                repository_name=args.repository,
                description=f"Source of {args.name_prefix}",
                tags=args.tags,
                opts=child,
            )
            arn, clone_url = repo.arn, repo.clone_url_http
            # Gates pull-request merges only; a direct push to the branch is not stopped by it (see
            # docs/safety.md for the IAM deny that does).
            template = aws.codecommit.ApprovalRuleTemplate(
                f"{name}-approval-rule",
                name=physical_name(args.name_prefix, "approval", 100),
                description=f"Pull requests into {args.branch} of {args.repository} need {REQUIRED_APPROVALS} approval",
                content=pulumi.Output.json_dumps(approval_rule_content(args.branch)),
                opts=pulumi.ResourceOptions(parent=child.parent),
            )
            aws.codecommit.ApprovalRuleTemplateAssociation(
                f"{name}-approval-rule-association",
                approval_rule_template_name=template.name,
                repository_name=repo.repository_name,
                opts=pulumi.ResourceOptions(parent=template),
            )
        else:
            found = aws.codecommit.get_repository_output(repository_name=args.repository, opts=pulumi.InvokeOutputOptions(parent=child.parent))
            arn, clone_url = found.arn, found.clone_url_http
        action = aws.codepipeline.PipelineStageActionArgs(
            name=SOURCE_ACTION,
            category="Source",
            owner="AWS",
            provider="CodeCommit",
            version="1",
            namespace=SOURCE_NAMESPACE,
            output_artifacts=[SOURCE_ARTIFACT],
            configuration={
                "RepositoryName": args.repository,
                "BranchName": args.branch,
                # Change detection through the EventBridge rule below, not polling.
                "PollForSourceChanges": "false",
                "OutputArtifactFormat": "CODE_ZIP",
            },
        )
        statements: list[Statement] = [
            {
                "Sid": "ReadSource",
                "Effect": "Allow",
                "Action": [
                    "codecommit:GetBranch",
                    "codecommit:GetCommit",
                    "codecommit:GetRepository",
                    "codecommit:UploadArchive",
                    "codecommit:GetUploadArchiveStatus",
                    "codecommit:CancelUploadArchive",
                ],
                "Resource": arn,
            }
        ]
        pattern = arn.apply(lambda repo_arn: branch_push_pattern(repo_arn, args.branch))
        contribution = SourceContribution(
            stage=aws.codepipeline.PipelineStageArgs(name="Source", actions=[action]),
            pipeline_statements=statements,
            start_event_pattern=pattern,
        )
        return contribution, clone_url, arn

    @staticmethod
    def _connection(name: str, args: SourceArgs, child: pulumi.ResourceOptions):
        if args.connection_arn:
            connection_arn: pulumi.Input[str] = args.connection_arn
        elif args.shared_connection_arn is not None:
            connection_arn = args.shared_connection_arn
        else:
            connection = aws.codeconnections.Connection(
                f"{name}-connection",
                # Connection names are at most 32 characters.
                name=physical_name(args.name_prefix, "src", 32),
                provider_type=args.provider.connection_provider_type,
                tags=args.tags,
                opts=child,
            )
            connection_arn = connection.arn
        action = aws.codepipeline.PipelineStageActionArgs(
            name=SOURCE_ACTION,
            category="Source",
            owner="AWS",
            provider="CodeStarSourceConnection",
            version="1",
            namespace=SOURCE_NAMESPACE,
            output_artifacts=[SOURCE_ARTIFACT],
            configuration={
                "ConnectionArn": connection_arn,
                "FullRepositoryId": args.repository,
                # With triggers, BranchName is only the default of a manual start.
                "BranchName": args.branch,
                "OutputArtifactFormat": "CODE_ZIP",
                "DetectChanges": "true",
            },
        )
        trigger = push_trigger(args.branch, args.file_paths)
        statements: list[Statement] = [
            {
                "Sid": "UseConnection",
                "Effect": "Allow",
                # Connections created before the 2024 rename carry codestar-connections ARNs;
                # IAM evaluates the action of the ARN's service prefix.
                "Action": ["codeconnections:UseConnection", "codestar-connections:UseConnection"],
                "Resource": connection_arn,
            }
        ]
        contribution = SourceContribution(
            stage=aws.codepipeline.PipelineStageArgs(name="Source", actions=[action]),
            pipeline_statements=statements,
            triggers=[trigger],
        )
        return contribution, pulumi.Output.from_input(connection_arn)

    def for_paths(self, file_paths: Sequence[str]) -> SourceContribution:
        """The Source stage of one of several pipelines reading this source (a stack's services), each started by the
        pushes that change its `file_paths`: a connection's V2 trigger filter (empty: every push). A CodeCommit
        source's contribution is the same for all of them (the stack's path router starts each pipeline)."""
        if not self.contribution.triggers:
            return self.contribution
        return replace(self.contribution, triggers=[push_trigger(self._branch, file_paths)])


def push_trigger(branch: str, file_paths: Sequence[str]) -> aws.codepipeline.PipelineTriggerArgs:
    """A V2 trigger on pushes to `branch` that change a file of `file_paths` (empty: any file)."""
    push = aws.codepipeline.PipelineTriggerGitConfigurationPushArgs(
        branches=aws.codepipeline.PipelineTriggerGitConfigurationPushBranchesArgs(includes=[branch]),
        file_paths=(aws.codepipeline.PipelineTriggerGitConfigurationPushFilePathsArgs(includes=list(file_paths)) if file_paths else None),
    )
    return aws.codepipeline.PipelineTriggerArgs(
        provider_type="CodeStarSourceConnection",
        git_configuration=aws.codepipeline.PipelineTriggerGitConfigurationArgs(source_action_name=SOURCE_ACTION, pushes=[push]),
    )
