"""The partition, region and account a component deploys into, looked up once, and the ARNs built from them.

Every ARN the stack writes into a policy or a configuration is built here, so a stack in another
partition (aws-cn, aws-us-gov) gets that partition's ARNs instead of `arn:aws:` ones. ARNs the user
gives (certificateArn, sourceConnectionArn) may name any `aws*` partition: the settings check that
they are in the stack's region, and a region belongs to exactly one partition.
"""

from __future__ import annotations

from functools import cached_property

import pulumi
import pulumi_aws as aws

# The account that owns AWS managed policies and EKS access policies: arn:<partition>:iam::aws:policy/<name>.
AWS_OWNED = "aws"


class AwsContext:
    """One component's view of where it runs. Each lookup is made at most once, when first used,
    as an invoke parented to the component."""

    def __init__(self, parent: pulumi.Resource):
        self._invoke = pulumi.InvokeOutputOptions(parent=parent)

    @cached_property
    def partition(self) -> pulumi.Output[str]:
        return aws.get_partition_output(opts=self._invoke).partition

    @cached_property
    def region(self) -> pulumi.Output[str]:
        return aws.get_region_output(opts=self._invoke).region

    @cached_property
    def account_id(self) -> pulumi.Output[str]:
        return aws.get_caller_identity_output(opts=self._invoke).account_id

    def arn(
        self,
        service: str,
        resource: pulumi.Input[str],
        *,
        region: bool | str = True,
        account: bool | str = True,
    ) -> pulumi.Output[str]:
        """`arn:<partition>:<service>:<region>:<account>:<resource>`.

        `region`/`account`: True for this stack's, False for none (global services such as IAM, S3),
        or a literal (`"*"`, `AWS_OWNED`)."""
        return pulumi.Output.concat(
            "arn:",
            self.partition,
            ":",
            service,
            ":",
            self._part(region, self.region),
            ":",
            self._part(account, self.account_id),
            ":",
            resource,
        )

    def root(self) -> pulumi.Output[str]:
        """The account's root principal: whoever IAM in this account allows."""
        return self.arn("iam", "root", region=False)

    def managed_policy(self, name: str) -> pulumi.Output[str]:
        """An AWS managed IAM policy."""
        return self.arn("iam", f"policy/{name}", region=False, account=AWS_OWNED)

    @staticmethod
    def _part(value: bool | str, own: pulumi.Output[str]) -> pulumi.Input[str]:
        if value is True:
            return own
        return value or ""
