"""The ALB's access-log bucket: private, versioned, SSE-S3, TLS-only, expiring, writable by ELB log delivery only."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.buckets import private_bucket, tls_only_statements

# "Enable access logs for your Application Load Balancer"
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html):
# in Regions available before August 2022 the bucket policy grants s3:PutObject to the Elastic Load
# Balancing account of the Region; in later Regions to the logdelivery.elasticloadbalancing.amazonaws.com
# service principal. The accounts below are that page's table.
ELB_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
}
LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
# The load balancer adds AWSLogs/<account>/... after this prefix.
LOG_PREFIX = "alb"


def log_writer(elb_account: str, elb_root: str) -> dict[str, str]:
    """The bucket-policy principal that ELB access-log delivery writes as: the Region's ELB account
    (`elb_root`) where there is one (`elb_account` not empty), else the log-delivery service."""
    return {"AWS": elb_root} if elb_account else {"Service": LOG_DELIVERY_SERVICE}


def access_log_bucket(
    name: str,
    *,
    expiry_days: int,
    parent: pulumi.Resource,
    protect: bool,
    tags: dict[str, str],
) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
    """The bucket the ALB writes its access logs to, and its policy (enable the logs after it).

    SSE-S3, not the stack's KMS keys: SSE-S3 is the only encryption ELB access logs support. Never
    force-destroyed: `pulumi destroy` stops while it holds logs.
    """
    # SSE-S3 (key_arn None): the only encryption ELB access logs support.
    created = private_bucket(f"{name}-access-logs", key_arn=None, parent=parent, protect=protect, tags=tags, bucket_resource_name=f"{name}-access-logs")
    bucket, versioning = created.bucket, created.versioning
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-access-logs-expiry",
        bucket=bucket.id,
        rules=[
            {
                "id": "expire-access-logs",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "expiration": {"days": expiry_days},
                # Versioning keeps an overwritten or deleted log for a day, then it goes too.
                "noncurrent_version_expiration": {"noncurrent_days": 1},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
            }
        ],
        # A lifecycle configuration on a bucket whose versioning is changing is refused.
        opts=pulumi.ResourceOptions(parent=bucket, depends_on=[versioning]),
    )
    aws_context = AwsContext(parent)
    elb_account = aws_context.region.apply(lambda region: ELB_ACCOUNTS.get(region, ""))
    elb_root = elb_account.apply(lambda account: aws_context.arn("iam", "root", region=False, account=account))
    writer = pulumi.Output.all(elb_account, elb_root).apply(lambda pair: log_writer(pair[0], pair[1]))
    policy = aws.s3.BucketPolicy(
        f"{name}-access-logs-policy",
        bucket=bucket.id,
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    *tls_only_statements(bucket.arn),
                    {
                        "Sid": "ElbAccessLogDelivery",
                        "Effect": "Allow",
                        "Principal": writer,
                        "Action": "s3:PutObject",
                        "Resource": pulumi.Output.concat(bucket.arn, f"/{LOG_PREFIX}/AWSLogs/", aws_context.account_id, "/*"),
                    },
                ],
            }
        ),
        # S3 refuses a policy while the public access block is being changed.
        opts=pulumi.ResourceOptions(parent=bucket, depends_on=[created.public_access]),
    )
    return bucket, policy
