"""AWS Lambda functions the stack deploys, as plain Python: each module imports only the standard library,
boto3/botocore (what the Lambda Python runtimes provide), `functions.deployment_record` and `functions.canary_judge`
(the canary hook's pure judge), so a function is packaged as its module plus those two under `functions/`."""
