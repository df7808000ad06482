"""Lambda functions the stacks deploy: standard library and boto3 only (what the Lambda Python runtime has)."""
