"""Would AWS (and Kubernetes) allow what the product's own runtime code does, in the account it lands in?

For every stack variant, the delivery runs end to end against the stand-ins, with the code and the roles the
stack defines: the build (docker and the registry), the promotion collector and Check step, the deploy steps
(ECS: the verifier Lambda and the record step; EKS: the deploy step, also when it rolls back and when a
config change re-applies the workload), and Publish. Every AWS call any of them made is then evaluated as
IAM would evaluate it (tests/iam_authz.py: every resource type the Service Authorization Reference marks
required, the conditions of the call, the owner's resource policy across accounts), with the statements the
stack gives the role that made it; every Kubernetes request the deploy step made is evaluated against the
access policy (or RBAC) its identity holds in the cluster.
"""

from __future__ import annotations

import json
import uuid

import pytest

from offline.mocks import StackResult, evaluate_stack
from tests import fake_aws, runtime
from tests.fake_kubectl import FakeKubectl, refused
from tests.iam_authz import Caller, authorize

COMMIT = "3f2c1e9a4b5c6d7e8f90123456789abcdef01234"
EXECUTION = "0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d"
UPSTREAM_ACCOUNT, DOWNSTREAM_ACCOUNT = "111111111111", "222222222222"
PLATFORM = "sha256:" + "e" * 64
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EXISTING_CLUSTER = {
    "eksClusterName": "platform-prod",
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "publicSubnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
    "privateSubnetIds": ["subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60012"],
    "eksLoadBalancing": "aws-load-balancer-controller",
    "natGateways": None,
}


@pytest.fixture(scope="module")
def variants(dev, prod, prod_ecs, evaluate) -> dict[str, tuple[StackResult, StackResult | None]]:
    """label -> (stack, the stack it promotes from or None)."""
    return {
        "dev": (dev, None),
        "dev-canary": (evaluate("dev", deploymentStrategy="canary"), None),
        "dev-eks": (evaluate("dev", deployTarget="eks"), None),
        "prod": (prod, dev),
        "prod-ecs": (prod_ecs, dev),
        "prod-existing-cluster": (evaluate("prod", **EXISTING_CLUSTER), dev),
    }


@pytest.fixture(scope="module")
def two_accounts(ecs_config) -> dict[str, tuple[StackResult, StackResult]]:
    """dev in one account promoting to prod in another (promoteToAccounts / promoteFromAccount), prod on each target."""
    upstream = evaluate_stack("dev", {"promoteToAccounts": [DOWNSTREAM_ACCOUNT]}, account=UPSTREAM_ACCOUNT)
    outputs = {"organization/container-cicd/dev": upstream.outputs}
    downstream = {
        target: evaluate_stack("prod", {**overrides, "promoteFromAccount": UPSTREAM_ACCOUNT}, stack_outputs=outputs, account=DOWNSTREAM_ACCOUNT)
        for target, overrides in (("eks", {}), ("ecs", ecs_config("prod")))
    }
    return {target: (upstream, result) for target, result in downstream.items()}


# -- the delivery, run ----------------------------------------------------------------------------


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
        self.contract = (upstream.outputs if upstream else result.outputs).get("promotion") or {}

    def step(self, project: str, **kwargs) -> runtime.Run:
        run = runtime.run_step(self.result, project, self.cloud, kubectl=self.kubectl, **kwargs)
        self.calls += run.calls
        self.kube += run.kubernetes
        self.ran.append(project)
        return run

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
    else:
        d.cloud.repository(repository, [dict(built, imageTags=[COMMIT[:7], f"verified-{COMMIT[:7]}", f"execution-{EXECUTION}"])], account=registry)
        promotion = collect(d, registry, repository)
        run = d.step(d.project("check"), variables=variables, files={"promotion.json": json.dumps(promotion), "imagedefinitions.json": "[]"})
        assert run.code == 0, run.stdout
    deploy(d, variables, url, digest)
    run = d.step(d.project("release"), variables=variables)
    assert run.code == 0, run.stdout
    if d.project("publish"):
        run = d.step(d.project("publish"), variables=variables)
        assert run.code == 0, run.stdout
    return d


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
    [verifier] = [n for n, f in runtime.functions(d.result).items() if f.handler == "functions.ecs_verify_deployment.handler"]
    verify(d, verifier, variables, digest)
    run = d.step(d.project("record"), variables=variables, files={"imagedefinitions.json": definitions})
    assert run.code == 0, run.stdout


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

    def respond(service: str, operation: str, request: dict) -> dict:
        from datetime import UTC, datetime

        if operation == "ListServiceDeployments":
            return {"serviceDeployments": [{"serviceDeploymentArn": deployment, "createdAt": datetime(2026, 1, 1, tzinfo=UTC), "status": "SUCCESSFUL"}]}
        if operation == "DescribeServiceDeployments":
            at = datetime(2026, 1, 1, tzinfo=UTC)
            found = {"serviceDeploymentArn": deployment, "status": "SUCCESSFUL", "createdAt": at, "startedAt": at, "finishedAt": at, "targetServiceRevision": {"arn": revision}}
            return {"serviceDeployments": [found], "failures": []}
        if operation == "DescribeServiceRevisions":
            # ECS reports the platform manifest's digest: the verifier reads the built index from the registry.
            images = [{"containerName": params["container"], "imageDigest": PLATFORM}]
            return {"serviceRevisions": [{"serviceRevisionArn": revision, "containerImages": images}], "failures": []}
        if operation == "BatchGetImage":
            index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"digest": PLATFORM}]})
            return {"images": [{"imageId": {"imageDigest": digest}, "imageManifest": index, "imageManifestMediaType": OCI_INDEX}], "failures": []}
        return {}

    answer = d.function(name, event, respond)
    assert answer["result"] == "success", answer


# -- what AWS and Kubernetes decide ----------------------------------------------------------------


def refusals(d: Delivery, *results: StackResult) -> list[str]:
    world = runtime.world_from(*results)
    out = []
    for caller, call in d.calls:
        for request in runtime.iam_requests(results, caller, call):
            out += authorize(world, caller, request).reasons
    return sorted(set(out))


def kubernetes_refusals(d: Delivery) -> list[str]:
    if not d.kube:
        return []
    role = d.projects()[d.project("deploy")].role_arn
    return refused(runtime.kubernetes_grants(d.result, role), d.kube)


@pytest.fixture(scope="module")
def delivered(variants, tmp_path_factory):
    """Each variant's delivery, run once for the IAM and the Kubernetes checks."""
    done: dict[str, Delivery] = {}

    def get(label: str) -> Delivery:
        if label not in done:
            done[label] = deliver(tmp_path_factory.mktemp(label), *variants[label])
        return done[label]

    return get


@pytest.mark.parametrize("label", ["dev", "dev-canary", "dev-eks", "prod", "prod-ecs", "prod-existing-cluster"])
def test_iam_allows_every_call_the_runtime_code_makes(variants, delivered, label):
    result, upstream = variants[label]
    d = delivered(label)
    assert set(runtime.steps(result)) <= set(d.ran), "every CodeBuild step ran"
    assert {f for f, fn in runtime.functions(result).items() if "smoke_test" not in fn.handler} <= set(d.ran), "every function with AWS calls ran"
    assert refusals(d, *(r for r in (result, upstream) if r is not None)) == []


@pytest.mark.parametrize("label", ["dev-eks", "prod", "prod-existing-cluster"])
def test_kubernetes_allows_every_request_the_deploy_step_makes(delivered, label):
    d = delivered(label)
    assert {r.resource for r in d.kube} >= {"deployments", "services", "targetgroupbindings", "pods"}
    assert kubernetes_refusals(d) == []


@pytest.mark.parametrize("target", ["eks", "ecs"])
def test_a_promotion_across_two_accounts_works_end_to_end(tmp_path, two_accounts, target):
    """dev builds, deploys and publishes in its account; prod's collector, Check and deploy steps (EKS: the
    deploy step; ECS: the verifier and the record step) read dev's registry from the other account: every call
    lands in the registry that holds the image, and both accounts' policies allow it."""
    upstream, downstream = two_accounts[target]
    dev_run = deliver(tmp_path / "dev", upstream, None)
    assert refusals(dev_run, upstream) == []
    prod_run = deliver(tmp_path / "prod", downstream, upstream)
    ecr = [(c.account, c.operation, c.params.get("registryId")) for _, c in prod_run.calls if c.service == "ecr"]
    assert ecr and all(registry == UPSTREAM_ACCOUNT for _, _, registry in ecr), ecr
    assert refusals(prod_run, downstream, upstream) == []
