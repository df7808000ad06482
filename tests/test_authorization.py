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

import pytest

from offline.mocks import StackResult, evaluate_stack
from tests import runtime
from tests.delivery import DOWNSTREAM_ACCOUNT, UPSTREAM_ACCOUNT, Delivery, deliver
from tests.delivery import delivered as shared_delivery
from tests.fake_kubectl import Grant, refused, requests
from tests.iam_authz import authorize

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
def delivered(variants):
    """Each variant's delivery, run once for the IAM and the Kubernetes checks (and the time check's steps)."""
    return lambda label: shared_delivery(label, *variants[label])


# dev covers the ECS steps; prod-ecs deploys a canary, whose judge hook calls ECS and CloudWatch (the smoke-test hook calls no AWS API).
@pytest.mark.parametrize("label", ["dev", "dev-eks", "prod", "prod-ecs", "prod-existing-cluster"])
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


def test_kubernetes_allows_the_arm64_node_pool_the_deploy_step_applies(evaluate):
    """A created cluster running arm64: the step's apply also sends the workload's cluster-scoped NodePool (the
    deliveries above run amd64 stacks; the apply's requests are the stand-in's, from the same manifests)."""
    result = evaluate("dev", deployTarget="eks", cpuArchitecture="arm64")
    deploy = next(step for name, step in runtime.steps(result).items() if name.endswith("-deploy"))
    items = json.loads(deploy.buildspec["env"]["variables"]["MANIFESTS"])["items"]
    sent = [{"apiVersion": i["apiVersion"], "kind": i["kind"], "namespace": i["metadata"].get("namespace"), "name": i["metadata"]["name"]} for i in items]
    applied = requests(["apply", "--server-side", "-f", "applied.json"], sent)
    assert {(r.verb, r.group, r.resource, r.namespace) for r in applied if r.resource == "nodepools"} == {
        (verb, "karpenter.sh", "nodepools", None) for verb in ("get", "create", "patch")
    }
    grants = runtime.kubernetes_grants(result, deploy.role_arn)
    assert refused(grants, applied) == []
    # The check is real: the namespace-scoped access an existing cluster's deploy identity holds would refuse it.
    narrowed = [Grant(g.rules, (items[0]["metadata"]["name"],)) for g in grants]
    assert "create nodepools.karpenter.sh cluster-wide" in refused(narrowed, applied)


@pytest.mark.parametrize("target", ["eks", "ecs"])
def test_a_promotion_across_two_accounts_works_end_to_end(tmp_path, two_accounts, target):
    """dev builds, deploys and publishes in its account; prod's collector, Check and deploy steps (EKS: the
    deploy step; ECS: the verifier and the record step) read dev's registry from the other account: every call
    lands in the registry that holds the image, and both accounts' policies allow it."""
    upstream, downstream = two_accounts[target]
    dev_run = deliver(tmp_path / "dev", upstream, None)
    assert refusals(dev_run, upstream) == []
    prod_run = deliver(tmp_path / "prod", downstream, upstream)
    # The registry login names no registry: its token serves every registry the role may pull from.
    ecr = [(c.account, c.operation, c.params.get("registryId")) for _, c in prod_run.calls if c.service == "ecr" and c.operation != "GetAuthorizationToken"]
    assert ecr and all(registry == UPSTREAM_ACCOUNT for _, _, registry in ecr), ecr
    # The supply-chain gate across the accounts: the upstream's signature (read in its repository, its revocation
    # asked of AWS Signer from this account) and its SBOM (read from its records bucket, decrypted with its key).
    made = {(c.service, c.operation) for _, c in prod_run.calls}
    assert {("ecr", "GetDownloadUrlForLayer"), ("signer", "GetRevocationStatus"), ("s3", "GetObject"), ("inspector-scan", "ScanSbom"), ("s3", "PutObject")} <= made
    sbom = next(c for _, c in prod_run.calls if (c.service, c.operation) == ("s3", "GetObject"))
    assert sbom.params["Bucket"] == upstream.outputs["promotion"]["recordsBucket"]
    assert refusals(prod_run, downstream, upstream) == []
