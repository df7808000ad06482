"""AWS Lambda functions the stack deploys, as plain Python: each module imports only the standard library,
boto3/botocore (what the Lambda Python runtimes provide) and `functions.deployment_record`, so a function is
packaged as its module plus `functions/deployment_record.py` under `functions/`."""
