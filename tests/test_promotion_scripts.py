"""The promotion steps' bash programs, run by bash against the stand-in AWS (tests/fake_aws.py).

The upstream repository holds images by digest (each the digest of its manifest, as ECR computes it) with
their tags; `put-image` adds a tag and refuses to move one, as an IMMUTABLE repository does.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from components.promotion import scripts
from tests import fake_aws

# Two images the upstream built: BuildKit image indexes (their manifests have no mediaType field).
IMAGES = {image["imageDigest"]: image for image in (fake_aws.image([], name="good"), fake_aws.image([], name="other"))}
GOOD, OTHER = IMAGES
EXECUTION = "0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d"
COMMIT = "3f2c1e9"
REPOSITORY = "container-cicd-dev-app"
UPSTREAM_URL = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{REPOSITORY}"


class Registry:
    """The upstream's repository in the stand-in AWS, and a step's working directory."""

    def __init__(self, tmp_path: Path):
        self.cloud = fake_aws.FakeAws(tmp_path)
        self.held: list[dict] = []
        self.cloud.repository(REPOSITORY)
        self.calls = tmp_path / "calls"
        self.calls.touch()
        self.work = tmp_path / "work"
        self.work.mkdir()

    def image(self, digest: str, *tags: str) -> None:
        self.held.append(dict(IMAGES[digest], imageTags=list(tags)))
        self.cloud.repository(REPOSITORY, self.held)

    def tags_of(self, digest: str) -> set[str]:
        return set(self.cloud.tags_of(REPOSITORY, digest))

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", script],
            cwd=self.work,
            env={"PATH": f"{self.cloud.bin}:{os.environ['PATH']}", "CALLS": str(self.calls), **self.cloud.env(), **env},
            capture_output=True,
            text=True,
            check=False,
        )


@pytest.fixture
def registry(tmp_path) -> Registry:
    return Registry(tmp_path)


# ---- Publish ----


def publish(registry: Registry, digest: str = GOOD, tag: str = COMMIT, execution: str = EXECUTION):
    return registry.run(scripts.publish_script(REPOSITORY), IMAGE_DIGEST=digest, IMAGE_TAG=tag, EXECUTION_ID=execution)


def test_publish_tags_the_deployed_digest_verified_then_with_its_execution(registry):
    registry.image(GOOD, COMMIT, f"deployed-{COMMIT}")
    done = publish(registry)
    assert done.returncode == 0, done.stdout + done.stderr
    assert registry.tags_of(GOOD) == {COMMIT, f"deployed-{COMMIT}", f"verified-{COMMIT}", f"execution-{EXECUTION}"}
    puts = [line for line in registry.calls.read_text().splitlines() if line.startswith("aws ecr put-image")]
    assert [p.split("--image-tag ")[1].split()[0] for p in puts] == [f"verified-{COMMIT}", f"execution-{EXECUTION}"]
    assert all(f"--image-digest {GOOD}" in p and "--repository-name container-cicd-dev-app" in p for p in puts)


def test_publish_is_idempotent(registry):
    registry.image(GOOD, COMMIT)
    assert publish(registry).returncode == 0
    again = publish(registry)
    assert again.returncode == 0, again.stderr
    assert f"verified-{COMMIT} already names {GOOD}" in again.stdout
    assert sum(line.startswith("aws ecr put-image") for line in registry.calls.read_text().splitlines()) == 2


def test_publish_never_moves_a_tag_onto_another_image(registry):
    registry.image(OTHER, f"verified-{COMMIT}")
    registry.image(GOOD, COMMIT)
    done = publish(registry)
    assert done.returncode == 1
    assert f"Publish: verified-{COMMIT} already names {OTHER}, not {GOOD} (tags are immutable)" in done.stdout
    assert registry.tags_of(GOOD) == {COMMIT}


def test_publish_fails_on_an_image_the_registry_does_not_hold(registry):
    done = publish(registry)
    assert done.returncode == 1
    assert f"Publish: no image {GOOD} in container-cicd-dev-app" in done.stdout


@pytest.mark.parametrize(
    ("digest", "tag", "execution", "message"),
    [
        ("", COMMIT, EXECUTION, "Publish: IMAGE_DIGEST '' is not an image digest"),
        ("sha256:xyz", COMMIT, EXECUTION, "Publish: IMAGE_DIGEST 'sha256:xyz' is not an image digest"),
        (GOOD, "3F2C1E9", EXECUTION, "Publish: IMAGE_TAG '3F2C1E9' is not a short commit id"),
        (GOOD, COMMIT, "not-an-id", "Publish: EXECUTION_ID 'not-an-id' is not a pipeline execution id"),
    ],
)
def test_publish_refuses_variables_of_the_wrong_shape_before_any_call(registry, digest, tag, execution, message):
    registry.image(GOOD, COMMIT)
    done = publish(registry, digest, tag, execution)
    assert done.returncode == 1
    assert message in done.stdout
    assert registry.calls.read_text() == ""


# ---- Check ----


def check(registry: Registry, promotion: dict | None):
    if promotion is not None:
        (registry.work / "promotion.json").write_text(json.dumps(promotion))
    script = scripts.check_script("app") + 'printf "%s\\n" "$IMAGE_URI" "$IMAGE_TAG" "$IMAGE_DIGEST" "$COMMIT_ID" "$UPSTREAM_EXECUTION_ID" > exported\n'
    return registry.run(
        script,
        UPSTREAM_REGISTRY_ID="123456789012",
        UPSTREAM_REGION="us-east-1",
        UPSTREAM_REPOSITORY="container-cicd-dev-app",
        UPSTREAM_REPOSITORY_URL=UPSTREAM_URL,
    )


def promotion(digest: str = GOOD, commit: str = COMMIT, execution: str = EXECUTION) -> dict:
    # What the collector writes; the image URI in it is not what gets deployed.
    return {"commit": commit, "digest": digest, "imageUri": "attacker.example/evil@" + digest, "upstreamExecutionId": execution, "upstreamPipeline": "p"}


def test_check_passes_a_verified_digest_and_stands_in_for_the_build(registry):
    registry.image(GOOD, COMMIT, f"verified-{COMMIT}", f"execution-{EXECUTION}")
    done = check(registry, promotion())
    assert done.returncode == 0, done.stdout + done.stderr
    # The deploy artifact and the build's variables, rebuilt from the upstream registry's URL, not from the inbox.
    assert json.loads((registry.work / "imagedefinitions.json").read_text()) == [{"name": "app", "imageUri": f"{UPSTREAM_URL}@{GOOD}"}]
    assert (registry.work / "exported").read_text().splitlines() == [f"{UPSTREAM_URL}@{GOOD}", COMMIT, GOOD, COMMIT, EXECUTION]
    assert registry.calls.read_text().splitlines() == [
        f"aws ecr describe-images --registry-id 123456789012 --region us-east-1 --repository-name container-cicd-dev-app "
        f"--image-ids imageDigest={GOOD} --query imageDetails[0].imageTags --output json"
    ]


@pytest.mark.parametrize(
    ("tags", "missing"),
    [
        ((COMMIT,), f"verified-{COMMIT}"),  # built, never verified (its deployment failed or rolled back)
        ((COMMIT, f"verified-{COMMIT}"), f"execution-{EXECUTION}"),  # verified, but not by the execution named
        (("verified-1234567", f"execution-{EXECUTION}"), f"verified-{COMMIT}"),  # verified as another commit
    ],
)
def test_check_refuses_a_digest_the_upstream_did_not_verify(registry, tags, missing):
    registry.image(GOOD, *tags)
    done = check(registry, promotion())
    assert done.returncode == 1
    assert f"Check: refusing {GOOD}: the upstream did not verify it (no tag {missing} in container-cicd-dev-app)" in done.stdout
    assert not (registry.work / "imagedefinitions.json").exists()


def test_check_refuses_an_untagged_image_and_an_unknown_digest(registry):
    registry.image(GOOD)
    assert f"no tag verified-{COMMIT}" in check(registry, promotion()).stdout
    unknown = check(registry, promotion(OTHER))
    assert unknown.returncode == 1
    assert f"Check: refusing {OTHER}: it is not in the upstream repository container-cicd-dev-app" in unknown.stdout


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (None, "Check: the source artifact holds no promotion.json"),
        (promotion(digest="sha256:abc"), "Check: promotion.json: DIGEST 'sha256:abc' is not an image digest"),
        (promotion(digest=f"{GOOD} --registry-id 999999999999"), "is not an image digest"),
        (promotion(commit="$(id)"), "Check: promotion.json: COMMIT '$(id)' is not a short commit id"),
        (promotion(execution=""), "Check: promotion.json: EXECUTION '' is not a pipeline execution id"),
    ],
)
def test_check_refuses_a_malformed_promotion_before_any_call(registry, document, message):
    registry.image(GOOD, COMMIT, f"verified-{COMMIT}", f"execution-{EXECUTION}")
    done = check(registry, document)
    assert done.returncode == 1
    assert message in done.stdout
    assert registry.calls.read_text() == ""


def test_buildspecs_export_the_builds_variables_and_artifact():
    spec = scripts.check_buildspec(container_name="app", registry_id="123456789012", region="us-east-1", repository_name="r", repository_url="u")
    assert spec["env"]["exported-variables"] == ["IMAGE_URI", "IMAGE_TAG", "IMAGE_DIGEST", "COMMIT_ID", "UPSTREAM_EXECUTION_ID"]
    assert spec["artifacts"] == {"files": ["imagedefinitions.json"]}
    assert spec["env"]["variables"] == {"UPSTREAM_REGISTRY_ID": "123456789012", "UPSTREAM_REGION": "us-east-1", "UPSTREAM_REPOSITORY": "r", "UPSTREAM_REPOSITORY_URL": "u"}
    assert spec["phases"]["build"]["commands"] == [scripts.check_script("app")]
    assert scripts.publish_buildspec("r")["phases"]["build"]["commands"] == [scripts.publish_script("r")]
