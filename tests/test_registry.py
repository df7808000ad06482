"""Registry: a private ECR repository with scanning, immutable tags, KMS and a lifecycle policy."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass

import pytest

from components.delivery.registry import (
    DEPLOYED_IMAGE_RETENTION_COUNT,
    DEPLOYED_TAG_PREFIX,
    SIGNATURE_RETENTION_COUNT,
    SIGNATURE_TAG_PREFIX,
    VERIFIED_IMAGE_RETENTION_COUNT,
    VERIFIED_TAG_PREFIX,
    lifecycle_policy,
)
from components.settings import KEYS

REGISTRY = "container-cicd:registry:Registry"
# One non-default dev stack shared by several test modules (same dict => one cached evaluation).
CUSTOM = {
    "containerName": "Web_Frontend",
    "buildTimeoutMinutes": 45,
    "deploymentTimeoutMinutes": 9,
    "imageRetentionCount": 7,
    "untaggedImageExpiryDays": 3,
    "buildComputeType": "BUILD_GENERAL1_LARGE",
}


def registry_resources(result):
    return [r for r in result.resources if r.custom and f"{REGISTRY}$" in r.urn]


def test_exactly_a_repository_and_its_lifecycle_policy(dev):
    assert sorted(r.type for r in registry_resources(dev)) == [
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:ecr/repository:Repository",
    ]


def test_no_repository_policy_means_no_public_or_cross_account_access(dev, prod):
    for result in (dev, prod):
        assert result.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy") == []
        assert result.of_type("aws:ecr/registryPolicy:RegistryPolicy") == []
        assert result.of_type("aws:ecrpublic/repository:Repository") == []


def test_repository_is_scanned_immutable_and_kms_encrypted(dev):
    repo = dev.named("registry-repo")
    assert repo.inputs["name"] == "container-cicd-dev-app"
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    assert repo.inputs["forceDelete"] is False
    assert dev.outputs["repositoryUrl"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app"


def test_repository_is_protected_only_in_production(dev, prod_building):
    assert prod_building.named("registry-repo").protect is True
    assert dev.named("registry-repo").protect is False


def test_lifecycle_policy_rules(dev):
    policy = dev.named("registry-lifecycle")
    assert policy.inputs["repository"] == "container-cicd-dev-app"
    # Pulumi.dev.yaml: imageRetentionCount 20; untaggedImageExpiryDays defaults to 1.
    assert json.loads(policy.inputs["policy"]) == {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Keep the signatures of kept images (ECR deletes a signature with its image)",
                "selection": {"tagStatus": "tagged", "tagPatternList": ["sig-*"], "countType": "imageCountMoreThan", "countNumber": 10000},
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "Keep the last 30 verified images",
                "selection": {"tagStatus": "tagged", "tagPatternList": ["verified-*"], "countType": "imageCountMoreThan", "countNumber": 30},
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 3,
                "description": "Keep the last 10 deployed images",
                "selection": {"tagStatus": "tagged", "tagPatternList": ["deployed-*"], "countType": "imageCountMoreThan", "countNumber": 10},
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 4,
                "description": "Expire untagged images after 1 days",
                "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1},
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 5,
                "description": "Keep the last 20 tagged images",
                "selection": {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan", "countNumber": 20},
                "action": {"type": "expire"},
            },
        ]
    }
    assert (DEPLOYED_TAG_PREFIX, DEPLOYED_IMAGE_RETENTION_COUNT, VERIFIED_TAG_PREFIX, VERIFIED_IMAGE_RETENTION_COUNT) == ("deployed-", 10, "verified-", 30)
    # The config reference tells users how many deployed and verified images are kept.
    text = f"The last {DEPLOYED_IMAGE_RETENTION_COUNT} deployed images and the last {VERIFIED_IMAGE_RETENTION_COUNT} verified ones (Publish stage) are kept"
    assert text in KEYS["imageRetentionCount"].description


def test_lifecycle_counts_come_from_config(evaluate, prod_building):
    rules = json.loads(prod_building.named("registry-lifecycle").inputs["policy"])["rules"]
    assert rules[4]["selection"]["countNumber"] == KEYS["imageRetentionCount"].default
    r = evaluate("dev", **CUSTOM)
    rules = json.loads(r.named("registry-lifecycle").inputs["policy"])["rules"]
    assert [rule["selection"]["countNumber"] for rule in rules] == [10000, 30, 10, 3, 7]


# The documented lifecycle policy parameters:
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html
RULE_KEYS = {"rulePriority", "description", "selection", "action"}
SELECTION_KEYS = {"tagStatus", "tagPatternList", "tagPrefixList", "countType", "countUnit", "countNumber"}


@pytest.mark.parametrize(("retention", "untagged_days"), [(1, 1), (5, 2), (1000, 365)])
def test_lifecycle_policy_is_valid_for_ecr(retention, untagged_days):
    rules = json.loads(lifecycle_policy(retention, untagged_days))["rules"]
    priorities = [r["rulePriority"] for r in rules]
    assert len(set(priorities)) == len(rules) and all(isinstance(p, int) and p >= 1 for p in priorities)
    for rule in rules:
        assert set(rule) <= RULE_KEYS and {"rulePriority", "selection", "action"} <= set(rule)
        assert rule["action"] == {"type": "expire"}
        sel = rule["selection"]
        assert set(sel) <= SELECTION_KEYS
        assert sel["tagStatus"] in {"tagged", "untagged", "any"}
        lists = [k for k in ("tagPatternList", "tagPrefixList") if k in sel]
        if sel["tagStatus"] == "tagged":
            # Required when tagged, and a rule cannot carry both lists.
            assert len(lists) == 1 and sel[lists[0]], rule
        else:
            assert lists == [], rule  # untagged: "you must omit both"
        for pattern in sel.get("tagPatternList", []):
            assert pattern.count("*") <= 4  # "a maximum limit of four wildcards (*) per string"
        assert sel["countType"] in {"imageCountMoreThan", "sinceImagePushed"}
        if sel["countType"] == "sinceImagePushed":
            assert sel["countUnit"] == "days"
        else:
            assert "countUnit" not in sel
        assert isinstance(sel["countNumber"], int) and sel["countNumber"] >= 1
    # A rule with tagStatus any must have the highest priority.
    assert all(r["rulePriority"] == max(priorities) for r in rules if r["selection"]["tagStatus"] == "any")
    # The signatures' rule goes first (no other rule may expire or count a signature of a kept image), then the
    # verified-images rule, then the deployed-images rule before every other rule that could also select deployed
    # images (verified images are deployed ones kept longer).
    by_pattern = {tuple(r["selection"].get("tagPatternList", ())): r["rulePriority"] for r in rules}
    assert by_pattern[(f"{SIGNATURE_TAG_PREFIX}*",)] == min(priorities)
    assert by_pattern[(f"{VERIFIED_TAG_PREFIX}*",)] == sorted(priorities)[1]
    assert by_pattern[(f"{DEPLOYED_TAG_PREFIX}*",)] == sorted(priorities)[2]
    # The signatures' bound is never reached by the signatures of the images the other rules keep at most.
    assert SIGNATURE_RETENTION_COUNT > KEYS["imageRetentionCount"].maximum + DEPLOYED_IMAGE_RETENTION_COUNT + VERIFIED_IMAGE_RETENTION_COUNT


# ------------------------------------------------------------------------------------------
# ECR lifecycle semantics, as documented, applied to a synthetic repository
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    digest: str
    tags: frozenset[str]
    pushed_days_ago: float


def selects(selection: dict, image: Image) -> bool:
    """Whether a rule's tagging requirements match the image.

    "If you specify multiple tags, only the images with all specified tags are selected"; a prefix or
    pattern matches when any of the image's tags matches it.
    """
    status = selection["tagStatus"]
    if status == "untagged":
        return not image.tags
    if status == "any":
        return True
    if not image.tags:
        return False
    if "tagPrefixList" in selection:
        return all(any(t.startswith(p) for t in image.tags) for p in selection["tagPrefixList"])
    return all(any(fnmatch.fnmatchcase(t, p) for t in image.tags) for p in selection["tagPatternList"])


def expired_by(policy: str, images: list[Image], *, lower_rules_count_claimed: bool = True) -> set[str]:
    """Digests ECR would expire, following
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html:

    - rules apply in rulePriority order, lowest first; an image is expired by one rule or none;
    - "An image that matches the tagging requirements of a rule cannot be expired by a rule with a
      lower priority"; lower rules still count it ("can still identify them as if they haven't been
      expired"), so they may keep fewer other images, never more;
    - imageCountMoreThan sorts the selected images newest first by push time and expires those past
      countNumber; sinceImagePushed expires those older than countNumber days.

    The guide's examples read the counting both ways: in "Filtering on multiple rules" Example A the lower rule counts
    images the higher one matched, in Example B it "would see no images because all available images were already
    seen by Rule 1" (https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_examples.html).
    `lower_rules_count_claimed` False takes Example B's reading.
    """
    expired: set[str] = set()
    claimed: set[str] = set()  # matched by the tagging requirements of a higher-priority rule
    for rule in sorted(json.loads(policy)["rules"], key=lambda r: r["rulePriority"]):
        sel = rule["selection"]
        candidates = images if lower_rules_count_claimed else [i for i in images if i.digest not in claimed]
        selected = sorted((i for i in candidates if selects(sel, i)), key=lambda i: i.pushed_days_ago)
        if sel["countType"] == "imageCountMoreThan":
            over = selected[sel["countNumber"] :]
        else:
            over = [i for i in selected if i.pushed_days_ago > sel["countNumber"]]
        expired |= {i.digest for i in over if i.digest not in claimed}
        claimed |= {i.digest for i in selected}
    return expired


def history(builds: int, deployed: set[int], verified: frozenset[int] = frozenset()) -> list[Image]:
    """`builds` pushes one day apart, build 0 the oldest; the ones in `deployed` carry a deployed tag,
    the ones in `verified` (deployed too) a verified tag as well."""
    images = []
    for n in range(builds):
        tag = f"{n:07x}"
        tags = {tag}
        if n in deployed or n in verified:
            tags.add(f"{DEPLOYED_TAG_PREFIX}{tag}")
        if n in verified:
            tags.add(f"{VERIFIED_TAG_PREFIX}{tag}")
        images.append(Image(f"sha256:{n:064x}", frozenset(tags), pushed_days_ago=builds - n))
    return images


def test_deployed_image_outlives_newer_builds():
    """The image that last served traffic survives any number of newer builds: stage rollback needs it."""
    retention = 3
    images = history(builds=1 + 10, deployed={0})  # deployed, then ten builds that were never deployed
    expired = expired_by(lifecycle_policy(retention, 1), images)
    assert images[0].digest not in expired
    kept = [i for i in images if i.digest not in expired]
    assert [i.tags for i in kept] == [images[0].tags] + [i.tags for i in images[-retention:]]


def test_without_the_deployed_rule_the_same_image_expires():
    """The evaluator is not vacuous: the count rule alone removes the deployed image."""
    policy = json.loads(lifecycle_policy(3, 1))
    policy["rules"] = [r for r in policy["rules"] if r["selection"].get("tagPatternList") != [f"{DEPLOYED_TAG_PREFIX}*"]]
    images = history(builds=11, deployed={0})
    assert images[0].digest in expired_by(json.dumps(policy), images)


def test_only_the_last_deployed_images_are_kept_for_ever():
    images = history(builds=DEPLOYED_IMAGE_RETENTION_COUNT + 2, deployed=set(range(DEPLOYED_IMAGE_RETENTION_COUNT + 2)))
    expired = expired_by(lifecycle_policy(1000, 1), images)
    assert expired == {images[0].digest, images[1].digest}  # the two oldest deployments


def test_verified_images_outlive_newer_deployments_for_the_stacks_that_promote_them():
    """A promoting stack may run an image verified many upstream deployments ago: the last 30 verified
    images are kept although only the last 10 deployed ones would be."""
    n = VERIFIED_IMAGE_RETENTION_COUNT + 2
    images = history(builds=n, deployed=set(range(n)), verified=frozenset(range(n)))
    expired = expired_by(lifecycle_policy(1000, 1), images)
    assert expired == {images[0].digest, images[1].digest}  # the two oldest verifications
    # Without the verified rule, the deployed rule would keep only the last 10.
    policy = json.loads(lifecycle_policy(1000, 1))
    policy["rules"] = [r for r in policy["rules"] if r["selection"].get("tagPatternList") != [f"{VERIFIED_TAG_PREFIX}*"]]
    assert len(expired_by(json.dumps(policy), images)) == n - DEPLOYED_IMAGE_RETENTION_COUNT


def test_untagged_images_still_expire():
    images = [Image("sha256:old", frozenset(), 5.0), Image("sha256:new", frozenset(), 0.5)]
    assert expired_by(lifecycle_policy(30, 1), images) == {"sha256:old"}


# -- signatures: the build tags each signature it makes sig-<commit tag>-<12 hex> (components/supply/notation.py) -----


def signed(images: list[Image], *, tagged: bool = True) -> list[Image]:
    """The images with one Notation signature each, pushed a minute after its image; `tagged` as the build tags it,
    else untagged (as Notation leaves it)."""
    signatures = []
    for image in images:
        [commit] = [t for t in image.tags if len(t) == 7]
        digest = image.digest.replace("sha256:", "sha256:5")[:71]
        tags = frozenset({f"{SIGNATURE_TAG_PREFIX}{commit}-{digest[7:19]}"}) if tagged else frozenset()
        signatures.append(Image(digest, tags, image.pushed_days_ago - 1 / 1440))
    return images + signatures


def signature_of(image: Image) -> str:
    return image.digest.replace("sha256:", "sha256:5")[:71]


# Sixty daily builds, every fifth deployed, every tenth verified: more than each rule keeps.
BUILDS = history(builds=60, deployed=set(range(0, 60, 5)), verified=frozenset(range(0, 60, 10)))


@pytest.mark.parametrize("lower_rules_count_claimed", [True, False])
def test_every_kept_image_keeps_its_signature_and_keeps_what_it_kept_unsigned(lower_rules_count_claimed):
    """A promoting stack's Check and a revert verify an image's signature days after its build: the signature lives as
    long as the image, and no rule keeps another image, or fewer deployed and verified ones, because signatures exist.
    (A signature whose image expired goes with it: ECR deletes referrers within 24 hours of their subject.)"""
    policy = lifecycle_policy(20, 1)
    images = signed(BUILDS)
    expired = expired_by(policy, images, lower_rules_count_claimed=lower_rules_count_claimed)
    kept = [i for i in BUILDS if i.digest not in expired]
    assert kept and all(signature_of(i) not in expired for i in kept)
    unsigned_kept = [i for i in BUILDS if i.digest not in expired_by(policy, BUILDS, lower_rules_count_claimed=lower_rules_count_claimed)]
    served = [i for i in unsigned_kept if any(t.startswith(DEPLOYED_TAG_PREFIX) for t in i.tags)]
    assert [i for i in kept if i in served] == served
    if not lower_rules_count_claimed:
        # The guide's Example B reading: a signature, seen by the first rule, is not one of the last N tagged images.
        assert kept == unsigned_kept


def test_an_untagged_signature_expires_while_its_image_is_kept():
    """What the untagged rule does to a signature nobody tagged (and that the model is not vacuous)."""
    images = signed(BUILDS, tagged=False)
    expired = expired_by(lifecycle_policy(20, 1), images)
    kept = [i for i in BUILDS if i.digest not in expired]
    assert kept and all(signature_of(i) in expired for i in kept if i.pushed_days_ago > 1)
