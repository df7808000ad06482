"""The path router (functions/path_router.py, components/delivery/path_router.py): CodeCommit pushes start only the
pipelines whose file-path filters match a changed file. The filter semantics as pure functions; the handler's AWS
calls against the real botocore models (Stubber validates every request); the component under the mocks, its rule
matched against sample events by moto's pattern engine, and its role's every call evaluated as IAM would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.stub import Stubber

import functions.path_router as router
from components.delivery.path_router import HANDLER, LAMBDA_MAX_TIMEOUT_SECONDS, PathRouterArgs, RoutedPipeline, timeout_seconds
from offline.mocks import StackResult, evaluate
from tests import aws_models, runtime
from tests.iam_authz import authorize
from tests.test_dependencies import named_without_dependency

ACCOUNT = "123456789012"
REPOSITORY = "monorepo"
BRANCH = "main"
OLD, NEW = "a" * 40, "b" * 40
EVENT_ID = "01234567-0123-0123-0123-012345678901"
ROUTES = {"web-pipeline": ["services/web/**", "shared/**"], "api-pipeline": ["services/api/**", "shared/**"], "docs-pipeline": []}
ENV = {"REPOSITORY_NAME": REPOSITORY, "BRANCH": BRANCH, "ROUTES": json.dumps(ROUTES)}


# ---- the filter semantics (CodePipeline's trigger glob syntax) ----


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("services/web/**", "services/web/app.py", True),
        ("services/web/**", "services/web/src/deep/main.py", True),
        ("services/web/**", "services/web", False),  # the folder's files, not a file named like the folder
        ("services/web/**", "services/webapp/app.py", False),
        ("services/web/*", "services/web/src/main.py", False),  # * stays within one name component
        ("**", "README.md", True),  # every file, the root's included
        ("**/README.md", "docs/README.md", True),
        ("**/README.md", "README.md", False),  # ** is followed by a literal '/': not the root's
        ("{README.md,**/README.md}", "README.md", True),
        ("*.md", "CHANGELOG.md", True),  # a file at the root
        ("*.md", "docs/CHANGELOG.md", False),
        ("Dockerfile", "Dockerfile", True),
        ("Dockerfile", "services/web/Dockerfile", False),
        ("services/*/Dockerfile", "services/api/Dockerfile", True),
        ("foo.?", "foo.c", True),
        ("foo.?", "foo.cc", False),
        ("[a-c]*.py", "b.py", True),
        ("[!a-c]*.py", "b.py", False),
        ("[!a]x", "/x", False),  # a set never matches '/'
        ("*.{java,class}", "Main.class", True),
        ("\\*.txt", "*.txt", True),  # an escaped * is itself
        ("\\*.txt", "a.txt", False),
    ],
)
def test_a_pattern_matches_as_codepipelines_trigger_filters_do(pattern, path, expected):
    assert router.matches(path, [pattern]) is expected


def test_excludes_take_priority_over_includes_and_no_includes_is_any_path():
    assert router.matches("services/web/README.md", ["services/web/**"], ["**/README.md"]) is False
    assert router.matches("services/web/app.py", ["services/web/**"], ["**/README.md"]) is True
    assert router.matches("anything/at/all", []) is True


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("[ab", "'[ab': a bracket expression [ has no closing ]"),
        ("{a,{b}}", "'{a,{b}}': groups {...} cannot nest"),
        ("{a,b", "'{a,b': a group { has no closing }"),
        ("a\\", "'a\\\\': '\\' at the end escapes nothing"),
        ("[c-a]", "'[c-a]': the range c-a is empty"),
        ("[a/b]", "'[a/b]': a bracket expression cannot hold '/'"),
        ("x" * 256, f"'{'x' * 256}': a pattern has 1 to 255 characters"),
    ],
)
def test_a_pattern_the_syntax_refuses_is_named_with_the_reason(pattern, problem):
    assert router.pattern_problem(pattern) == problem


def test_only_the_pipelines_whose_files_changed_start():
    assert router.pipelines_to_start(["services/web/app.py"], ROUTES) == ["web-pipeline", "docs-pipeline"]
    assert router.pipelines_to_start(["services/api/main.go", "README.md"], ROUTES) == ["api-pipeline", "docs-pipeline"]
    assert router.pipelines_to_start(["shared/lib.py"], ROUTES) == ["web-pipeline", "api-pipeline", "docs-pipeline"]
    # A file outside every service's folder starts only the pipelines without filters.
    assert router.pipelines_to_start(["README.md"], ROUTES) == ["docs-pipeline"]
    assert router.pipelines_to_start([], {"web": ["services/web/**"]}) == []


def test_a_rename_counts_its_old_and_new_path_and_a_delete_its_old_one():
    differences = [
        {
            "beforeBlob": {"blobId": "1", "path": "services/web/old.py", "mode": "100644"},
            "afterBlob": {"blobId": "1", "path": "services/api/new.py", "mode": "100644"},
            "changeType": "M",
        },
        {"beforeBlob": {"blobId": "2", "path": "docs/gone.md", "mode": "100644"}, "changeType": "D"},
        {"afterBlob": {"blobId": "3", "path": "services/api/added.py", "mode": "100644"}, "changeType": "A"},
    ]
    paths = router.changed_paths(differences)
    assert paths == ["services/web/old.py", "services/api/new.py", "docs/gone.md", "services/api/added.py"]
    # Moving a file from web to api changes both services.
    assert router.pipelines_to_start(paths[:2], {"web": ["services/web/**"], "api": ["services/api/**"]}) == ["web", "api"]


# ---- the handler, against botocore's models ----


def push(event: str = "referenceUpdated", old: str | None = OLD, branch: str = BRANCH, repository: str = REPOSITORY) -> dict:
    """Shape from https://docs.aws.amazon.com/codecommit/latest/userguide/monitoring-events.html"""
    detail = {
        "callerUserArn": f"arn:aws:iam::{ACCOUNT}:user/dev",
        "commitId": NEW,
        "event": event,
        "referenceFullName": f"refs/heads/{branch}",
        "referenceName": branch,
        "referenceType": "branch",
        "repositoryId": "12345678-1234-5678-abcd-12345678abcd",
        "repositoryName": repository,
    }
    if old:
        detail["oldCommitId"] = old
    return {
        "version": "0",
        "id": EVENT_ID,
        "detail-type": "CodeCommit Repository State Change",
        "source": "aws.codecommit",
        "account": ACCOUNT,
        "time": "2026-01-24T22:03:07Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:codecommit:us-east-1:{ACCOUNT}:{repository}"],
        "detail": detail,
    }


def clients():
    session = aws_models.session()
    codecommit = session.create_client("codecommit", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    codepipeline = session.create_client("codepipeline", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return codecommit, codepipeline, Stubber(codecommit), Stubber(codepipeline)


def differences(stub: Stubber, paths: list[str], token: str | None = None, next_token: str | None = None) -> None:
    expected = {"repositoryName": REPOSITORY, "beforeCommitSpecifier": OLD, "afterCommitSpecifier": NEW}
    if token:
        expected["NextToken"] = token
    answer: dict = {"differences": [{"afterBlob": {"blobId": "0" * 40, "path": p, "mode": "100644"}, "changeType": "M"} for p in paths]}
    if next_token:
        answer["NextToken"] = next_token
    stub.add_response("get_differences", answer, expected)


def started(stub: Stubber, pipeline: str) -> None:
    request = {
        "name": pipeline,
        "clientRequestToken": router.execution_token(EVENT_ID, pipeline),
    }
    aws_models.assert_valid("codepipeline", "StartPipelineExecution", request)
    stub.add_response("start_pipeline_execution", {"pipelineExecutionId": f"{pipeline}-execution"}, request)


def test_a_push_reads_every_page_of_differences_and_starts_the_matching_pipelines():
    codecommit, codepipeline, cc, cp = clients()
    differences(cc, ["README.md"], next_token="page-2")
    differences(cc, ["services/api/main.go"], token="page-2")
    started(cp, "api-pipeline")
    started(cp, "docs-pipeline")
    with cc, cp:
        result = router.handle(push(), ENV, codecommit, codepipeline)
    cc.assert_no_pending_responses()
    cp.assert_no_pending_responses()
    assert result == {
        "started": ["api-pipeline", "docs-pipeline"],
        "executions": {"api-pipeline": "api-pipeline-execution", "docs-pipeline": "docs-pipeline-execution"},
        "reason": "2 changed path(s)",
    }


def test_reading_stops_once_every_pipeline_matched():
    codecommit, codepipeline, cc, cp = clients()
    differences(cc, ["shared/lib.py"], next_token="page-2")  # no second page is asked for
    for pipeline in ROUTES:
        started(cp, pipeline)
    with cc, cp:
        result = router.handle(push(), ENV, codecommit, codepipeline)
    assert result["started"] == sorted(ROUTES)


def test_a_push_that_creates_the_branch_starts_every_pipeline_without_a_diff():
    codecommit, codepipeline, cc, cp = clients()
    for pipeline in ROUTES:
        started(cp, pipeline)
    with cc, cp:  # no get_differences queued: a call would fail the test
        result = router.handle(push(event="referenceCreated", old=None), ENV, codecommit, codepipeline)
    assert result["started"] == sorted(ROUTES)
    assert result["reason"] == "the push created the branch: every pipeline starts"


def test_a_push_larger_than_the_pages_it_reads_starts_every_pipeline():
    codecommit, codepipeline, cc, cp = clients()
    for page in range(router.MAX_DIFFERENCE_PAGES):
        differences(cc, [f"README{page}.md"], token=f"t{page}" if page else None, next_token=f"t{page + 1}")
    for pipeline in ROUTES:
        started(cp, pipeline)
    with cc, cp:
        result = router.handle(push(), ENV, codecommit, codepipeline)
    assert result["reason"] == f"more than {router.MAX_DIFFERENCE_PAGES} pages of differences: every pipeline starts"
    assert result["started"] == sorted(ROUTES)


def test_a_push_whose_changes_cannot_be_read_starts_every_pipeline():
    codecommit, codepipeline, cc, cp = clients()
    cc.add_client_error("get_differences", service_error_code="CommitDoesNotExistException", service_message="no such commit")
    for pipeline in ROUTES:
        started(cp, pipeline)
    with cc, cp:
        result = router.handle(push(), ENV, codecommit, codepipeline)
    assert result["reason"] == "the changes could not be read (CommitDoesNotExistException): every pipeline starts"
    assert result["started"] == sorted(ROUTES)


@pytest.mark.parametrize(
    "event",
    [push(branch="feature"), push(repository="other"), push(event="referenceDeleted"), {"detail": {}}],
    ids=["another branch", "another repository", "deleted", "no detail"],
)
def test_events_of_anything_else_start_nothing_and_call_nothing(event):
    codecommit, codepipeline, cc, cp = clients()
    with cc, cp:
        result = router.handle(event, ENV, codecommit, codepipeline)
    assert result == {"started": [], "reason": f"not a push to {BRANCH} of {REPOSITORY}"}


def test_a_pipeline_that_cannot_start_fails_the_invocation_after_the_others_started():
    """Lambda retries the asynchronous invocation; the same tokens keep the started pipeline from starting twice."""
    codecommit, codepipeline, cc, cp = clients()
    differences(cc, ["services/web/app.py"])
    started(cp, "web-pipeline")
    cp.add_client_error("start_pipeline_execution", service_error_code="PipelineNotFoundException", service_message="gone")
    with cc, cp, pytest.raises(RuntimeError, match=r"could not start \['docs-pipeline'\] for commit b{40}: .*PipelineNotFoundException"):
        router.handle(push(), ENV, codecommit, codepipeline)
    assert router.execution_token(EVENT_ID, "web-pipeline") == router.execution_token(EVENT_ID, "web-pipeline") != router.execution_token("another", "web-pipeline")


def test_its_clients_are_bounded_and_its_timeout_covers_its_worst_case(monkeypatch):
    made = {}
    monkeypatch.setattr("boto3.client", lambda service, config=None: made.setdefault(service, config))
    monkeypatch.setattr(router, "handle", lambda event, env, codecommit, codepipeline: {})
    for name in router.ENVIRONMENT:
        monkeypatch.setenv(name, "x")
    router.handler({}, None)
    assert sorted(made) == ["codecommit", "codepipeline"]
    for config in made.values():
        assert (config.connect_timeout, config.read_timeout, config.retries) == (2, 5, {"mode": "standard", "total_max_attempts": 3})
    # 34 s a call at worst, 5 pages and one start per pipeline, and 10 s for the handler.
    assert timeout_seconds(3) == (5 + 3) * 34 + 10 == 282
    assert timeout_seconds(21) <= LAMBDA_MAX_TIMEOUT_SECONDS
    with pytest.raises(ValueError, match=r"22 pipelines need a 928 s timeout at worst, over Lambda's 900 s; split the services over two stacks"):
        timeout_seconds(22)


def test_bad_routes_are_refused_naming_the_pipeline_and_the_pattern():
    def args(patterns: tuple[str, ...]) -> PathRouterArgs:
        return PathRouterArgs("f", "r", "arn", "main", {"web-pipeline": RoutedPipeline("arn", patterns)}, environment=None)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match=r"^PathRouterArgs.pipelines\['web-pipeline'\]: '\[ab': a bracket expression \[ has no closing \]$"):
        args(("[ab",)).routes()
    with pytest.raises(ValueError, match=r"^PathRouterArgs.pipelines\['web-pipeline'\]: 9 patterns; CodePipeline's filters take at most 8$"):
        args(tuple(f"s{i}/**" for i in range(9))).routes()
    assert args(("services/web/**",)).routes() == {"web-pipeline": ["services/web/**"]}


# ---- the component under the mocks ----

PROGRAM = """
import pulumi
from components.contracts import StepContext
from components.delivery.path_router import PathRouter, PathRouterArgs, RoutedPipeline, function_name
from components.delivery.pipeline import Pipeline, PipelineArgs
from components.delivery.source import Source, SourceArgs
from components.settings import SourceProvider

environment = StepContext(log_retention_days=30, log_key_arn="arn:aws:kms:us-east-1:123456789012:key/logs", artifact_statements=[], artifact_key_arn=None, tags={"stack": "t"})
routes = {"web": ("services/web/**",), "api": ("services/api/**", "shared/**")}
pipelines, shared = {}, None
for service, paths in routes.items():
    # The first service's Source creates the monorepo; the others read it.
    source = Source(f"{service}-source", SourceArgs(provider=SourceProvider.CODECOMMIT, repository="monorepo", branch="main", name_prefix=f"t-{service}",
                    create_repository=True, connection_arn=None, file_paths=(), production=False, shared_repository=shared))
    shared = shared or source.shared_repository()
    pipeline = Pipeline(f"{service}-pipeline", PipelineArgs(pipeline_name=f"t-{service}-pipeline", artifact_bucket_name="artifacts", artifact_key_arn="key",
                        artifact_statements=[], source=source.contribution, stages=[], started_by_router=ROUTED))
    pipelines[f"t-{service}-pipeline"] = RoutedPipeline(pipeline.pipeline_arn, paths)
if ROUTED:
    PathRouter("path-router", PathRouterArgs(function_name=function_name("t"), repository_name="monorepo",
               repository_arn=shared.arn, branch="main", pipelines=pipelines, environment=environment))
pulumi.export("accountId", "123456789012")
"""


def program(root: Path, routed: bool) -> StackResult:
    root.mkdir(parents=True, exist_ok=True)
    (root / "__main__.py").write_text(PROGRAM.replace("ROUTED", str(routed)))
    return evaluate("router", {"aws:region": "us-east-1"}, root=root)


@pytest.fixture(scope="module")
def routed(tmp_path_factory) -> StackResult:
    return program(tmp_path_factory.mktemp("routed"), routed=True)


def test_the_services_share_one_repository_which_one_source_creates(routed):
    [repository] = routed.of_type("aws:codecommit/repository:Repository")
    assert (repository.name, repository.inputs["repositoryName"]) == ("web-source-repo", REPOSITORY)
    assert [t.name for t in routed.of_type("aws:codecommit/approvalRuleTemplate:ApprovalRuleTemplate")] == ["web-source-approval-rule"]
    assert not [i for i in routed.invokes if i[0] == "aws:codecommit/getRepository:getRepository"]
    # Both pipelines read that one repository (their roles' ReadSource statements).
    read = [json.loads(p.inputs["policy"]) for p in routed.of_type("aws:iam/rolePolicy:RolePolicy")]
    sources = [s["Resource"] for doc in read for s in doc["Statement"] if s.get("Sid") == "ReadSource"]
    assert sources == [repository.outputs["arn"]] * 2
    with pytest.raises(ValueError, match=r"^SourceArgs.shared_repository: a github source reads its repository through its connection; only codecommit shares one$"):
        from components.delivery.source import SharedRepository, Source, SourceArgs
        from components.settings import SourceProvider

        args = SourceArgs(SourceProvider.GITHUB, "o/r", "main", "t", False, None, (), False, shared_repository=SharedRepository("arn", "url"))
        Source("x", args)


def rules(result: StackResult) -> list[str]:
    return sorted(r.name for r in result.of_type("aws:cloudwatch/eventRule:EventRule"))


def test_routed_pipelines_have_no_start_rule_and_one_rule_sends_the_branch_pushes_to_the_router(routed, tmp_path):
    unrouted = program(tmp_path, routed=False)
    # By default each CodeCommit pipeline has its own start rule; routed, none, and the router's one rule instead.
    assert rules(unrouted) == ["api-pipeline-start", "web-pipeline-start"]
    assert rules(routed) == ["path-router-on-push"]
    from moto.events.models import EventPattern

    pattern = json.loads(routed.named("path-router-on-push").inputs["eventPattern"])
    assert pattern == json.loads(unrouted.named("web-pipeline-start").inputs["eventPattern"]) | {"resources": [f"arn:aws:codecommit:us-east-1:{ACCOUNT}:{REPOSITORY}"]}
    engine = EventPattern.load(json.dumps(pattern))
    assert engine.matches_event(push()) and engine.matches_event(push(event="referenceCreated", old=None))
    assert not engine.matches_event(push(branch="feature")) and not engine.matches_event(push(event="referenceDeleted"))
    [target] = routed.of_type("aws:cloudwatch/eventTarget:EventTarget")
    function = routed.one("aws:lambda/function:Function")
    assert target.inputs == {"rule": routed.named("path-router-on-push").outputs["name"], "arn": function.outputs["arn"]}
    [permission] = routed.of_type("aws:lambda/permission:Permission")
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": "t-path-router",  # function_name("t")
        "principal": "events.amazonaws.com",
        "sourceArn": routed.named("path-router-on-push").outputs["arn"],
    }


def test_the_router_is_created_after_everything_it_names(routed):
    """Its environment names the pipelines and the repository, its role their ARNs: the function waits for its role,
    whose policy takes the pipelines' and the repository's ARNs from them (tests/test_dependencies.py's check)."""
    assert named_without_dependency(routed) == []


def test_the_function_gets_exactly_its_routes_and_the_runtime_the_lambda_api_knows(routed):
    function = routed.one("aws:lambda/function:Function").inputs
    assert function["handler"] == HANDLER and function["timeout"] == timeout_seconds(2)
    assert function["environment"]["variables"] == {
        "REPOSITORY_NAME": REPOSITORY,
        "BRANCH": BRANCH,
        "ROUTES": '{"t-web-pipeline":["services/web/**"],"t-api-pipeline":["services/api/**","shared/**"]}',
    }
    assert sorted(function["environment"]["variables"]) == sorted(router.ENVIRONMENT)
    assert function["runtime"] in aws_models.session().get_service_model("lambda").shape_for("Runtime").enum
    imports = {line.split()[1].split(".")[0] for line in Path(router.__file__).read_text().splitlines() if line.startswith(("import ", "from "))}
    assert imports == {"__future__", "hashlib", "json", "logging", "os", "re", "collections", "functools", "typing"}


def test_iam_allows_the_routers_calls_and_nothing_else(routed):
    """Its role may read the repository's differences and start the two routed pipelines: evaluated as IAM would."""

    def responder(service: str, operation: str, params: dict) -> dict:
        if operation == "GetDifferences":
            changed = ("services/web/app.py", "shared/x.py")
            return {"differences": [{"afterBlob": {"blobId": "0" * 40, "path": p, "mode": "100644"}, "changeType": "A"} for p in changed]}
        return {"pipelineExecutionId": "e-1"}

    answer, calls = runtime.run_function(routed, "t-path-router", push(), responder)
    assert answer["started"] == ["t-api-pipeline", "t-web-pipeline"]
    start = ("codepipeline", "StartPipelineExecution")
    assert [(c.service, c.operation) for _, c in calls] == [("codecommit", "GetDifferences"), start, start]
    world = runtime.world_from(routed)
    for caller, call in calls:
        for request in runtime.iam_requests([routed], caller, call):
            assert authorize(world, caller, request).allowed, request
    [caller] = {c for c, _ in calls}
    # Nothing beyond: another pipeline, another repository, another CodeCommit read.
    for service, operation, params in (
        ("codepipeline", "StartPipelineExecution", {"name": "t-other-pipeline"}),
        ("codecommit", "GetDifferences", {"repositoryName": "other"}),
        ("codecommit", "GetBlob", {"repositoryName": REPOSITORY}),
    ):
        [request] = runtime.iam_requests([routed], caller, runtime.fake_aws.Call(ACCOUNT, "us-east-1", service, operation, params))
        assert not authorize(world, caller, request).allowed, request


# ---- connections: each service's filter is its pipeline's V2 trigger; one connection for every service ----

CONNECTIONS = """
from components.delivery.pipeline import Pipeline, PipelineArgs
from components.delivery.source import Source, SourceArgs
from components.settings import SourceProvider

shared = None
for service, paths in {"web": ("services/web/**",), "api": ("services/api/**", "shared/**")}.items():
    source = Source(f"{service}-source", SourceArgs(provider=SourceProvider.GITHUB, repository="org/monorepo", branch="main", name_prefix=f"t-{service}",
                    create_repository=False, connection_arn=None, file_paths=paths, production=False, shared_connection_arn=shared))
    shared = shared or source.connection_arn
    Pipeline(f"{service}-pipeline", PipelineArgs(pipeline_name=f"t-{service}-pipeline", artifact_bucket_name="artifacts", artifact_key_arn="key",
             artifact_statements=[], source=source.contribution, stages=[]))
"""


def test_connection_services_filter_their_own_paths_through_one_connection(tmp_path):
    """https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-filter.html: a push trigger's filePaths."""
    (tmp_path / "__main__.py").write_text(CONNECTIONS)
    result = evaluate("connections", {"aws:region": "us-east-1"}, root=tmp_path)
    [connection] = result.of_type("aws:codeconnections/connection:Connection")
    assert connection.name == "web-source-connection"
    pipelines = {p.inputs["name"]: p.inputs for p in result.of_type("aws:codepipeline/pipeline:Pipeline")}
    filters = {name: [push["filePaths"]["includes"] for push in p["triggers"][0]["gitConfiguration"]["pushes"]] for name, p in pipelines.items()}
    assert filters == {"t-web-pipeline": [["services/web/**"]], "t-api-pipeline": [["services/api/**", "shared/**"]]}
    for declaration in pipelines.values():
        assert declaration["stages"][0]["actions"][0]["configuration"]["ConnectionArn"] == connection.outputs["arn"]
    assert result.of_type("aws:cloudwatch/eventRule:EventRule") == []
    with pytest.raises(ValueError, match=r"^SourceArgs.shared_connection_arn: a codecommit source uses no connection; share its repository \(shared_repository\)$"):
        from components.delivery.source import Source, SourceArgs
        from components.settings import SourceProvider

        Source("x", SourceArgs(SourceProvider.CODECOMMIT, "r", "main", "t", False, None, (), False, shared_connection_arn="arn"))
