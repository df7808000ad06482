"""Operator tools that talk to AWS directly (boto3); not part of the Pulumi program."""
