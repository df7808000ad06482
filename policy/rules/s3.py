"""S3 rules, all stack rules: since pulumi-aws 7 a bucket's settings live in companion resources
(public access block, encryption, versioning, policy), matched to their bucket here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .common import Subject, _document, _get, _items, _public_principal, _statements, _true, stack_rule

S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
S3_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
S3_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
S3_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
S3_LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _refers_to(companion: Subject, bucket: Subject) -> bool:
    """Whether `companion`'s `bucket` property is `bucket`: by the engine's property dependency when
    known (it is, even in preview), else by value, else by a plain dependency."""
    deps = companion.property_dependencies.get("bucket")
    if deps:
        return bucket.urn in deps
    value = _get(companion.props, "bucket")
    names = {_get(bucket.props, k) for k in ("bucket", "id")} - {None}
    if isinstance(value, str) and value in names:
        return True
    return bucket.urn in companion.dependencies


def _companions(resources: Sequence[Subject], bucket: Subject, types: tuple[str, ...]) -> list[Subject]:
    return [r for r in resources if r.type in types and _refers_to(r, bucket)]


def _each_bucket(resources: Sequence[Subject], check: Callable[[Subject], str | None]) -> list[tuple[str, str]]:
    found = []
    for bucket in resources:
        if bucket.type in S3_BUCKETS:
            message = check(bucket)
            if message:
                found.append((bucket.urn, message))
    return found


@stack_rule(
    "s3-public-access-blocked",
    "S3 buckets have a public access block with all four settings on (checkov CKV2_AWS_6, cdk-nag AwsSolutions-S2).",
    types=(*S3_BUCKETS, *S3_PUBLIC_ACCESS_BLOCK),
)
def s3_public_access_blocked(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    def check(bucket: Subject) -> str | None:
        blocks = _companions(resources, bucket, S3_PUBLIC_ACCESS_BLOCK)
        if not blocks:
            return f"S3 bucket {bucket.name} has no aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock: add one with {', '.join(PUBLIC_ACCESS_FLAGS)} all true"
        off = sorted({f for b in blocks for f in PUBLIC_ACCESS_FLAGS if not _true(_get(b.props, f))})
        if off:
            return f"S3 bucket {bucket.name}: public access block leaves {', '.join(off)} off; set all four to true"
        return None

    return _each_bucket(resources, check)


def _kms_algorithms(config: Any) -> list[Any]:
    rules = _items(_get(config, "rules")) + _items(_get(config, "rule"))
    return [_get(r, "applyServerSideEncryptionByDefault", "sseAlgorithm") for r in rules]


LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")


def _alb_access_log_bucket(resources: Sequence[Subject], bucket: Subject) -> bool:
    """Whether a load balancer writes its access logs to `bucket`: by the engine's property dependency
    when known, else by name, else by a plain dependency (as `_refers_to`)."""
    names = {_get(bucket.props, k) for k in ("bucket", "id")} - {None}
    for lb in resources:
        if lb.type not in LOAD_BALANCERS or not _true(_get(lb.props, "accessLogs", "enabled")):
            continue
        deps = lb.property_dependencies.get("accessLogs")
        if deps:
            if bucket.urn in deps:
                return True
        elif _get(lb.props, "accessLogs", "bucket") in names or bucket.urn in lb.dependencies:
            return True
    return False


def _server_access_log_bucket(resources: Sequence[Subject], bucket: Subject) -> bool:
    """Whether S3 server access logging (a BucketLogging) delivers to `bucket`: by the engine's property
    dependency of `targetBucket` when known, else by name. Not by a plain dependency: a BucketLogging
    depends on its source bucket too, and that one is no log target."""
    names = {_get(bucket.props, k) for k in ("bucket", "id")} - {None}
    for logging in resources:
        if logging.type not in S3_LOGGING:
            continue
        deps = logging.property_dependencies.get("targetBucket")
        if deps:
            if bucket.urn in deps:
                return True
        elif _get(logging.props, "targetBucket") in names:
            return True
    return False


@stack_rule(
    "s3-kms-encryption",
    "S3 buckets use server-side encryption with KMS by default (checkov CKV_AWS_145); exceptions use SSE-S3 "
    "(AES256) because their writer supports nothing else: an ALB's access-log bucket (ELB docs, 'Enable access "
    "logs for your Application Load Balancer') and the target bucket of S3 server access logging (S3 docs, "
    "'Enabling Amazon S3 server access logging').",
    types=(*S3_BUCKETS, *S3_ENCRYPTION, *LOAD_BALANCERS, *S3_LOGGING),
)
def s3_kms_encryption(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    def check(bucket: Subject) -> str | None:
        configs = [c.props for c in _companions(resources, bucket, S3_ENCRYPTION)]
        inline = _get(bucket.props, "serverSideEncryptionConfiguration")
        algorithms = [a for c in [*configs, inline] if c is not None for a in _kms_algorithms(c)]
        if algorithms and all(a in ("aws:kms", "aws:kms:dsse") for a in algorithms):
            return None
        if algorithms and all(a == "AES256" for a in algorithms) and (_alb_access_log_bucket(resources, bucket) or _server_access_log_bucket(resources, bucket)):
            return None
        shown = ", ".join(map(str, algorithms)) or "AES256 (the S3 default)"
        return f"S3 bucket {bucket.name} is encrypted with {shown}: add a BucketServerSideEncryptionConfiguration with sseAlgorithm 'aws:kms' and a KMS key"

    return _each_bucket(resources, check)


@stack_rule("s3-versioning", "S3 buckets have versioning enabled (checkov CKV_AWS_21).", types=(*S3_BUCKETS, *S3_VERSIONING))
def s3_versioning(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    def check(bucket: Subject) -> str | None:
        statuses = [_get(v.props, "versioningConfiguration", "status") for v in _companions(resources, bucket, S3_VERSIONING)]
        if "Enabled" in statuses or _true(_get(bucket.props, "versioning", "enabled")):
            return None
        shown = statuses[0] if statuses else "not configured"
        return f"S3 bucket {bucket.name} versioning is {shown}: add a BucketVersioning with versioningConfiguration.status 'Enabled'"

    return _each_bucket(resources, check)


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny" or not _public_principal(statement.get("Principal")):
        return False
    if not {"s3:*", "*"} & set(_items(statement.get("Action"))):
        return False
    secure = _get(statement, "Condition", "Bool", "aws:SecureTransport")
    return secure is False or (isinstance(secure, str) and secure.lower() == "false")


@stack_rule("s3-tls-only", "S3 bucket policies deny requests without TLS (cdk-nag AwsSolutions-S10).", types=(*S3_BUCKETS, *S3_POLICY))
def s3_tls_only(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    def check(bucket: Subject) -> str | None:
        documents = [_document(_get(p.props, "policy")) for p in _companions(resources, bucket, S3_POLICY)]
        documents.append(_document(_get(bucket.props, "policy")))
        if any(_denies_insecure_transport(st) for d in documents for st in _statements(d)):
            return None
        return f"S3 bucket {bucket.name} accepts plain HTTP: add a bucket policy statement Deny Principal '*' Action 's3:*' with Condition Bool aws:SecureTransport 'false'"

    return _each_bucket(resources, check)
