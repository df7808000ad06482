"""One stack's delivery, run end to end against the stand-ins with the stack's own code and roles (tests/runtime.py):
the build (or the promotion's collector and Check step), the deploy steps (ECS: the canary judge hook, the verifier and the record step;
EKS: the deploy step, also rolling back and re-applying a changed spec), Release and Publish. What every step
called, with its caller, is kept for the checks that ask what AWS would decide (tests/test_authorization.py) and
how long each step may take (tests/test_time_budgets.py).

`delivered(label, result, upstream)` runs each delivery once per test run: a pytest-xdist worker leaves it (plain
data) in the run's directory for the other, as the stacks are shared (tests/conftest.py).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from offline.mocks import StackResult
from tests import fake_aws, fake_notation, fake_supply_cli, runtime, supply
from tests.fake_kubectl import FakeKubectl
from tests.iam_authz import Caller
from tests.shared import read_shared, shared_lock, write_shared

COMMIT = "3f2c1e9a4b5c6d7e8f90123456789abcdef01234"
EXECUTION = "0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d"
UPSTREAM_ACCOUNT, DOWNSTREAM_ACCOUNT = "111111111111", "222222222222"
PLATFORM = "sha256:" + "e" * 64
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
# The packages of the built image (its SBOM), none vulnerable unless a test says so.
PACKAGES = ("pkg:pypi/flask@3.0.3", "pkg:deb/debian/openssl@3.0.15")


class Delivery:
    """One stack's delivery in the stand-in AWS: what ran, and every call with its caller."""

    def __init__(self, tmp_path, result: StackResult, upstream: StackResult | None):
        self.result, self.upstream = result, upstream
        self.account = runtime.caller_of(result, result.one("aws:codepipeline/pipeline:Pipeline").inputs["roleArn"]).account
        self.cloud = fake_aws.FakeAws(tmp_path, account=self.account)
        self.kubectl = FakeKubectl(self.cloud.state, self.cloud.bin)
        self.calls: list[tuple[Caller, fake_aws.Call]] = []
        self.kube: list = []
        self.ran: list[str] = []
        self.runs: list[tuple[str, runtime.Run]] = []
        """Each CodeBuild step run: (project, what it did), in order."""
        self.contract = (upstream.outputs if upstream else result.outputs).get("promotion") or {}

    def step(self, project: str, **kwargs) -> runtime.Run:
        run = runtime.run_step(self.result, project, self.cloud, kubectl=self.kubectl, **kwargs)
        self.calls += run.calls
        self.kube += run.kubernetes
        self.ran.append(project)
        self.runs.append((project, run))
        return run

    def record(self, project: str, run: runtime.Run) -> None:
        """A step run outside `step` (with inputs of its own), kept as `step` keeps its runs."""
        self.calls += run.calls
        self.ran.append(project)
        self.runs.append((project, run))

    def __getstate__(self) -> dict:
        """What a check reads (the stand-ins stay behind)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("cloud", "kubectl")}

    def function(self, name: str, event: dict, responder) -> object:
        answer, calls = runtime.run_function(self.result, name, event, responder)
        self.calls += calls
        self.ran.append(name)
        return answer

    def projects(self) -> dict[str, runtime.Step]:
        return runtime.steps(self.result)

    def project(self, suffix: str) -> str | None:
        return next((name for name in self.projects() if name.endswith(f"-{suffix}")), None)


def repository_of(result: StackResult, upstream: StackResult | None) -> tuple[str, str, str]:
    """(registry account, repository name, repository URL) the stack deploys from."""
    source = upstream or result
    url = source.outputs["repositoryUrl"]
    return url.split(".", 1)[0], url.split("/", 1)[1], url


def deliver(tmp_path, result: StackResult, upstream: StackResult | None) -> Delivery:
    """Build (or promote), deploy, verify, record, publish: every runtime step the stack has, with its real code."""
    d = Delivery(tmp_path, result, upstream)
    registry, repository, url = repository_of(result, upstream)
    built = fake_aws.image([COMMIT[:7]])
    digest = built["imageDigest"]
    for record in (result.named("image-record-parameter").inputs, result.named("image-record-known-good").inputs):
        d.cloud.set_parameter(record["name"], record["insecureValue"])
    variables = {
        "BuildVariables.IMAGE_URI": f"{url}@{digest}",
        "BuildVariables.IMAGE_DIGEST": digest,
        "BuildVariables.IMAGE_TAG": COMMIT[:7],
        "BuildVariables.COMMIT_ID": COMMIT,
        "SourceVariables.CommitId": COMMIT,
        "codepipeline.PipelineExecutionId": EXECUTION,
    }
    if upstream is None:
        d.cloud.repository(repository, account=registry)
        run = d.step(d.project("build"), variables=variables, files={"app/Dockerfile": "FROM scratch\n"}, source_version=COMMIT)
        assert run.code == 0, run.stdout
        assert d.cloud.images(repository, account=registry)[0]["imageDigest"] == digest
        if d.project("verify"):  # the Scan stage: the signature and the scan of the built digest
            run = supply.verify_image(d.result, d.project("verify"), d.cloud, variables)
            d.record(d.project("verify"), run)
            assert run.code == 0, run.stdout
            # What VerifyImage exported (namespace SupplyVariables), for the steps that record the deployment.
            variables.update({f"SupplyVariables.{name}": value for name, value in run.exported.items()})
    else:
        d.cloud.repository(repository, [dict(built, imageTags=[COMMIT[:7], f"verified-{COMMIT[:7]}", f"execution-{EXECUTION}"])], account=registry)
        upstream_evidence(d, registry, digest)
        promotion = collect(d, registry, repository)
        run = d.step(d.project("check"), variables=variables, files={"promotion.json": json.dumps(promotion), "imagedefinitions.json": "[]"})
        assert run.code == 0, run.stdout
        variables.update({f"BuildVariables.{name}": value for name, value in run.exported.items()})
    deploy(d, variables, url, digest)
    run = d.step(d.project("release"), variables=variables)
    assert run.code == 0, run.stdout
    if d.project("publish"):
        run = d.step(d.project("publish"), variables=variables)
        assert run.code == 0, run.stdout
    return d


def upstream_evidence(d: Delivery, registry: str, digest: str) -> None:
    """What the upstream's pipeline left of its supply-chain gate: its build's signature of the digest (by the profile
    its contract names) and its scan's SBOM in its records bucket."""
    if d.contract.get("signingProfileArn"):
        fake_notation.sign_as(d.cloud.state, account=registry, region=d.cloud.region, digest=digest, profile_arn=d.contract["signingProfileArn"])
    if d.contract.get("recordsBucket"):
        fake_supply_cli.put(d.cloud.state, d.contract["recordsBucket"], f"sbom/{digest}.json", fake_supply_cli.sbom(*PACKAGES))


def collect(d: Delivery, registry: str, repository: str) -> dict:
    """The promotion collector, on the upstream pipeline's SUCCEEDED event; its calls answered from the stand-in."""
    [name] = [n for n, f in runtime.functions(d.result).items() if f.handler.endswith("promotion_collector.handler")]
    env = runtime.functions(d.result)[name].environment
    event = {"account": env["UPSTREAM_ACCOUNT"], "detail": {"pipeline": env["UPSTREAM_PIPELINE"], "state": "SUCCEEDED", "execution-id": EXECUTION}}

    def respond(service: str, operation: str, params: dict) -> dict:
        if (service, operation) == ("ecr", "DescribeImages"):
            images = d.cloud.images(params["repositoryName"], account=params.get("registryId") or d.account)
            return {"imageDetails": [{"imageDigest": i["imageDigest"], "imageTags": i["imageTags"]} for i in images if params["imageIds"][0]["imageTag"] in i["imageTags"]]}
        if (service, operation) == ("s3", "PutObject"):
            return {"VersionId": "v1"}
        raise AssertionError(f"the collector called {service} {operation}")

    answer = d.function(name, event, respond)
    assert answer["written"], answer
    return {k: answer[k] for k in ("commit", "digest", "imageUri", "upstreamPipeline", "upstreamExecutionId", "upstreamAccount")}


def deploy(d: Delivery, variables: dict, url: str, digest: str) -> None:
    image = f"{url}@{digest}"
    definitions = json.dumps([{"name": "app", "imageUri": image}])
    if d.project("deploy"):  # EKS: the deploy step, a rollback, and a config-apply run
        manifests = d.projects()[d.project("deploy")].buildspec["env"]["variables"]["MANIFESTS"]
        (d.cloud.state / "running").write_text("bootstrap\n")
        run = d.step(d.project("deploy"), variables=variables, files={"imagedefinitions.json": definitions}, env={"MANIFESTS": manifests})
        assert run.code == 0, run.stdout
        bad = d.step(d.project("deploy"), variables=variables, files={"imagedefinitions.json": definitions}, env={"MANIFESTS": manifests, "BAD": image})
        assert bad.code == 1, bad.stdout
        again = d.step(d.project("deploy"), variables=None, env={"MANIFESTS": manifests})
        assert again.code == 0, again.stdout
        return
    for name in [n for n, f in runtime.functions(d.result).items() if f.handler == "functions.ecs_canary_hook.handler"]:
        judge(d, name)
    [verifier] = [n for n, f in runtime.functions(d.result).items() if f.handler == "functions.ecs_verify_deployment.handler"]
    verify(d, verifier, variables, digest)
    run = d.step(d.project("record"), variables=variables, files={"imagedefinitions.json": definitions})
    assert run.code == 0, run.stdout


def judge(d: Delivery, name: str) -> None:
    """The canary judge hook at a production traffic shift: ECS's lifecycle event for the stack's own service, the
    deployment IN_PROGRESS, and CloudWatch's points for the two target groups (the old one served alone before)."""
    service = d.result.one("aws:ecs/service:Service").inputs
    cluster = service["cluster"].rsplit("/", 1)[-1]
    region = str(d.result.config.get("aws:region", "us-east-1"))
    prefix = f"arn:aws:ecs:{region}:{d.account}"
    deployment = f"{prefix}:service-deployment/{cluster}/{service['name']}/EZe5RNVLH6PPzHXINuP28"
    new, old = (f"{prefix}:service-revision/{cluster}/{service['name']}/{n}" for n in ("2", "1"))
    started = datetime(2026, 1, 1, tzinfo=UTC)
    event = {
        "executionId": "e1",
        "lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT",
        "resourceArn": deployment,
        "executionDetails": {"serviceArn": f"{prefix}:service/{cluster}/{service['name']}", "targetServiceRevisionArn": new, "productionTrafficWeights": {new: 10, old: 90}},
    }

    def respond(service_name: str, operation: str, params: dict) -> dict:
        if (service_name, operation) == ("ecs", "DescribeServiceDeployments"):
            return {"serviceDeployments": [{"serviceDeploymentArn": params["serviceDeploymentArns"][0], "status": "IN_PROGRESS", "startedAt": started}]}
        if (service_name, operation) == ("cloudwatch", "GetMetricData"):
            minutes = [started.replace(minute=m) for m in range(0, 30)]
            return {"MetricDataResults": [{"Id": q["Id"], "Timestamps": minutes, "Values": [100.0 if q["Id"] == "r0" else 0.0] * 30} for q in params["MetricDataQueries"]]}
        raise AssertionError(f"the canary judge called {service_name} {operation}")

    answer = d.function(name, event, respond)
    assert answer == {"hookStatus": "SUCCEEDED"}, answer


def verify(d: Delivery, name: str, variables: dict, digest: str) -> None:
    """The VerifyDeployment action: the pipeline's job event, ECS's answers for a SUCCESSFUL deployment."""
    [action] = [a for s in d.result.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"] for a in s["actions"] if (a.get("configuration") or {}).get("FunctionName") == name]
    parameters = runtime.resolve(action["configuration"]["UserParameters"], variables)
    event = {"CodePipeline.job": {"id": str(uuid.uuid4()), "accountId": d.account, "data": {"actionConfiguration": {"configuration": {"UserParameters": parameters}}}}}
    params = json.loads(parameters)
    region = str(d.result.config.get("aws:region", "us-east-1"))
    prefix = f"arn:aws:ecs:{region}:{d.account}"
    deployment = f"{prefix}:service-deployment/{params['cluster']}/{params['service']}/EZe5RNVLH6PPzHXINuP28"
    revision = f"{prefix}:service-revision/{params['cluster']}/{params['service']}/9313423515462893900"

    respond = verifier_answers(deployment, revision, params["container"], digest)
    answer = d.function(name, event, respond)
    assert answer["result"] == "success", answer


# The deliveries of this process, by label.
_DELIVERED: dict[str, Delivery] = {}


def delivered(label: str, result: StackResult, upstream: StackResult | None) -> Delivery:
    """`deliver`, once per test run for every pytest-xdist worker (as tests/conftest.py shares the stacks): a label
    names one stack variant wherever it is used."""
    if label in _DELIVERED:
        return _DELIVERED[label]
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        work = Path(tempfile.mkdtemp(prefix=f"container-cicd-delivery-{label}-"))
        atexit.register(shutil.rmtree, work, ignore_errors=True)
        _DELIVERED[label] = deliver(work, result, upstream)
        return _DELIVERED[label]
    # The run's folder, which the xdist controller removes after the run (tests/conftest.py).
    folder = Path(tempfile.gettempdir()) / f"container-cicd-stacks-{run}"
    folder.mkdir(exist_ok=True)
    path = folder / f"delivery-{label}.pickle"
    if (shared := read_shared(path)) is not None:
        _DELIVERED[label] = shared
        return shared
    with shared_lock(path):  # tests/test_time_budgets.py and tests/test_authorization.py start with the same deliveries
        if (shared := read_shared(path)) is None:
            shared = deliver(folder / f"delivery-{label}-{uuid.uuid4().hex}", result, upstream)
            write_shared(path, shared)
    _DELIVERED[label] = shared
    return shared


def verifier_answers(deployment: str, revision: str, container: str, digest: str, pages: int = 1) -> runtime.Responder:
    """ECS's and the registry's answers to the verifier for a SUCCESSFUL deployment whose revision reports a platform
    manifest of the built index (so it reads the index: every call it can make). `pages`: how many pages of
    deployments ListServiceDeployments answers."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    left = iter(range(pages, 0, -1))

    def respond(service: str, operation: str, request: dict) -> dict:
        if operation == "ListServiceDeployments":
            page: dict = {"serviceDeployments": [{"serviceDeploymentArn": deployment, "createdAt": at, "status": "SUCCESSFUL"}]}
            return {**page, "nextToken": "more"} if next(left) > 1 else page
        if operation == "DescribeServiceDeployments":
            found = {"serviceDeploymentArn": deployment, "status": "SUCCESSFUL", "createdAt": at, "startedAt": at, "finishedAt": at, "targetServiceRevision": {"arn": revision}}
            return {"serviceDeployments": [found], "failures": []}
        if operation == "DescribeServiceRevisions":
            return {"serviceRevisions": [{"serviceRevisionArn": revision, "containerImages": [{"containerName": container, "imageDigest": PLATFORM}]}], "failures": []}
        if operation == "BatchGetImage":
            index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"digest": PLATFORM}]})
            return {"images": [{"imageId": {"imageDigest": digest}, "imageManifest": index, "imageManifestMediaType": OCI_INDEX}], "failures": []}
        return {}

    return respond
