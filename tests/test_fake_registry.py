"""The stand-in registry's request check: it must catch a request ECR would refuse."""

from __future__ import annotations

import json

import pytest

from tests import fake_registry


def test_a_request_ecr_refuses_fails_the_check(tmp_path):
    fake_registry.install(tmp_path, tmp_path, [])
    bad = {"operation": "DescribeImages", "params": {"repositoryName": "app", "imageIds": [{"imageTag": ""}]}}
    (tmp_path / fake_registry.REQUESTS_FILE).write_text(json.dumps(bad) + "\n")
    with pytest.raises(AssertionError, match=r"ECR would reject:\nDescribeImages .*imageIds\[0\]\.imageTag"):
        fake_registry.assert_logged_requests_valid()


def test_valid_requests_pass_and_each_state_is_checked_once(tmp_path):
    fake_registry.install(tmp_path, tmp_path, [])
    good = {"operation": "DescribeImages", "params": {"repositoryName": "app", "imageIds": [{"imageTag": "0a1b2c3"}]}}
    (tmp_path / fake_registry.REQUESTS_FILE).write_text(json.dumps(good) + "\n")
    fake_registry.assert_logged_requests_valid()
    (tmp_path / fake_registry.REQUESTS_FILE).write_text('{"operation": "DescribeImages", "params": {}}\n')
    fake_registry.assert_logged_requests_valid()  # the state was checked and forgotten after the first call
