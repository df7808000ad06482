"""The stand-in AWS itself: where a call lands (account, region), how its arguments become the API request,
and the check that catches a request AWS would refuse."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests import fake_aws

UPSTREAM, DOWNSTREAM = "111111111111", "222222222222"
BUILT = fake_aws.image(["0a1b2c3"])


def aws(cloud: fake_aws.FakeAws, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["aws", *args], env={"PATH": f"{cloud.bin}:{os.environ['PATH']}", **cloud.env()}, capture_output=True, text=True, check=False)


def test_a_request_aws_refuses_fails_the_check(tmp_path):
    cloud = fake_aws.FakeAws(tmp_path)
    bad = {"account": fake_aws.ACCOUNT, "region": "us-east-1", "service": "ecr", "command": "describe-images", "args": ["--repository-name", "app", "--image-ids", "imageTag="]}
    (cloud.state / fake_aws.REQUESTS_FILE).write_text(json.dumps(bad) + "\n")
    with pytest.raises(AssertionError, match=r"AWS would reject:\necr DescribeImages .*imageIds\[0\]\.imageTag"):
        fake_aws.assert_logged_requests_valid()


def test_valid_requests_pass_and_each_state_is_checked_once(tmp_path):
    cloud = fake_aws.FakeAws(tmp_path)
    args = ["--repository-name", "app", "--image-ids", "imageTag=0a1b2c3"]
    good = {"account": fake_aws.ACCOUNT, "region": "us-east-1", "service": "ecr", "command": "describe-images", "args": args}
    (cloud.state / fake_aws.REQUESTS_FILE).write_text(json.dumps(good) + "\n")
    fake_aws.assert_logged_requests_valid()
    bad = dict(good, args=["--repository-name", "app", "--image-ids", "imageTag="])
    (cloud.state / fake_aws.REQUESTS_FILE).write_text(json.dumps(bad) + "\n")
    fake_aws.assert_logged_requests_valid()  # the state was checked and forgotten after the first call


def test_a_registry_id_defaults_to_the_callers_account(tmp_path):
    """As ECR documents registryId ("If you do not specify a registry, the default registry is assumed"):
    a downstream caller without --registry-id looks in its own account and finds no repository there."""
    cloud = fake_aws.FakeAws(tmp_path, account=DOWNSTREAM)
    cloud.repository("app", [BUILT], account=UPSTREAM)
    own = aws(cloud, "ecr", "describe-images", "--repository-name", "app", "--image-ids", f"imageDigest={BUILT['imageDigest']}")
    assert own.returncode == 254
    assert "RepositoryNotFoundException" in own.stderr and f"registry with id '{DOWNSTREAM}'" in own.stderr
    upstream = aws(cloud, "ecr", "describe-images", "--registry-id", UPSTREAM, "--repository-name", "app", "--image-ids", f"imageDigest={BUILT['imageDigest']}")
    assert upstream.returncode == 0
    assert json.loads(upstream.stdout)["imageDetails"][0]["imageTags"] == ["0a1b2c3"]
    assert [(c.account, c.operation, c.params.get("registryId")) for c in cloud.calls()] == [(DOWNSTREAM, "DescribeImages", None), (DOWNSTREAM, "DescribeImages", UPSTREAM)]


def test_the_region_is_the_option_then_the_environment(tmp_path):
    cloud = fake_aws.FakeAws(tmp_path, region="eu-west-1")
    cloud.set_parameter("/p", "v", region="eu-west-1")
    assert aws(cloud, "ssm", "get-parameter", "--name", "/p", "--query", "Parameter.Value", "--output", "text").stdout.strip() == "v"
    assert aws(cloud, "ssm", "get-parameter", "--name", "/p", "--region", "us-east-1").returncode == 254
    assert [c.region for c in cloud.calls()] == ["eu-west-1", "us-east-1"]


def test_cli_arguments_become_the_api_request():
    """Options map to members by botocore's names; lists, shorthand structures, JSON and flags as the CLI reads them."""
    entry = {
        "account": "1",
        "region": "r",
        "service": "ecr",
        "command": "batch-get-image",
        "args": ["--repository-name", "app", "--image-ids", "imageDigest=sha256:ab", "--accepted-media-types", "a", "b", "--query", "images[0]", "--output", "json"],
    }
    assert fake_aws.to_call(entry).params == {"repositoryName": "app", "imageIds": [{"imageDigest": "sha256:ab"}], "acceptedMediaTypes": ["a", "b"]}
    put = dict(entry, service="ssm", command="put-parameter", args=["--name", "/p", "--type", "String", "--overwrite", "--value", "x"])
    assert fake_aws.to_call(put).params == {"Name": "/p", "Type": "String", "Overwrite": True, "Value": "x"}
    metrics = dict(entry, service="cloudwatch", command="put-metric-data", args=["--namespace", "N", "--metric-data", '[{"MetricName": "M", "Value": 1}]'])
    assert fake_aws.to_call(metrics).params == {"Namespace": "N", "MetricData": [{"MetricName": "M", "Value": 1}]}
    kubeconfig = dict(entry, service="eks", command="update-kubeconfig", args=["--name", "c", "--region", "r"])
    assert (fake_aws.to_call(kubeconfig).operation, fake_aws.to_call(kubeconfig).params) == ("DescribeCluster", {"name": "c"})
