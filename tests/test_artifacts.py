"""Artifact store: private, KMS-encrypted, versioned, expiring, TLS-only bucket and its rotating key."""

from __future__ import annotations

import json

import pytest

from components.delivery.artifacts import MIN_EXPIRY_DAYS, ArtifactStoreArgs
from components.settings import PROJECT, SettingsError, parse_settings

ARTIFACTS = "container-cicd:pipeline:ArtifactStore"


def store(result):
    return [r for r in result.resources if r.custom and f"{ARTIFACTS}$" in r.urn]


def test_exact_resources(dev):
    assert sorted(r.type for r in store(dev)) == sorted(
        [
            "aws:kms/key:Key",
            "aws:s3/bucket:Bucket",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "aws:s3/bucketVersioning:BucketVersioning",
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "aws:s3/bucketPolicy:BucketPolicy",
        ]
    )


def bucket_id(result) -> str:
    return result.named("artifacts-bucket").outputs["bucket"]


def test_bucket_is_not_force_destroyed(dev):
    assert dev.named("artifacts-bucket").inputs["forceDestroy"] is False


def test_public_access_is_blocked(dev):
    block = dev.named("artifacts-public-access").inputs
    assert block == {
        "bucket": bucket_id(dev),
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    ownership = dev.named("artifacts-ownership").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}  # ACLs disabled


def test_sse_kms_with_the_stack_key(dev):
    key = dev.named("artifacts-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    [rule] = dev.named("artifacts-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.outputs["arn"]}
    assert rule["bucketKeyEnabled"] is True


def test_versioning_enabled(dev):
    versioning = dev.named("artifacts-versioning").inputs
    assert versioning == {"bucket": bucket_id(dev), "versioningConfiguration": {"status": "Enabled"}}


def test_lifecycle_expires_old_artifacts(dev, prod):
    for result, days in ((dev, 30), (prod, 90)):  # default; Pulumi.prod.yaml artifactExpiryDays
        [rule] = result.named("artifacts-lifecycle").inputs["rules"]
        assert rule["status"] == "Enabled"
        assert rule["filter"] == {}
        assert rule["expiration"] == {"days": days}
        assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": days}
        assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}


def test_bucket_policy_denies_non_tls(dev):
    bucket = dev.named("artifacts-bucket")
    policy = json.loads(dev.named("artifacts-tls-only").inputs["policy"])
    assert policy["Version"] == "2012-10-17"
    assert policy["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket.outputs["arn"], bucket.outputs["arn"] + "/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


def test_stateful_resources_protected_in_production_only(dev, prod):
    for type_ in ("artifacts-bucket", "artifacts-key"):
        assert prod.named(type_).protect is True, type_
        assert dev.named(type_).protect is False, type_


def test_pipeline_uses_the_bucket_and_key(dev):
    [store_decl] = dev.one("aws:codepipeline/pipeline:Pipeline").inputs["artifactStores"]
    assert store_decl == {
        "location": bucket_id(dev),
        "type": "S3",
        "encryptionKey": {"id": dev.named("artifacts-key").outputs["arn"], "type": "KMS"},
    }


def test_artifacts_live_long_enough_for_a_stage_rollback():
    """Rollback re-deploys the last successful execution's artifacts; a week is the shortest expiry allowed."""
    assert MIN_EXPIRY_DAYS == 7
    assert ArtifactStoreArgs(expiry_days=MIN_EXPIRY_DAYS, production=False).expiry_days == 7
    with pytest.raises(ValueError, match=r"^expiry_days: 6 is too short; stage rollback needs .* Fix: use at least 7 days$"):
        ArtifactStoreArgs(expiry_days=MIN_EXPIRY_DAYS - 1, production=False)
    # The config key enforces the same floor before anything is created.
    assert parse_settings({"artifactExpiryDays": MIN_EXPIRY_DAYS}, PROJECT, "dev").artifact_expiry_days == 7
    with pytest.raises(SettingsError, match=r"^artifactExpiryDays: 6 is not valid; allowed: 7 to 3650\."):
        parse_settings({"artifactExpiryDays": MIN_EXPIRY_DAYS - 1}, PROJECT, "dev")
