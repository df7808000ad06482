"""The promoting stack's Check step with the supply-chain gate on (prod: imageSigning on, threshold high), run as
CodeBuild runs it against the stand-ins (tests/runtime.py): the upstream's signature is verified with the profile
its contract names, and the upstream's SBOM is rescanned against THIS stack's threshold before anything deploys."""

from __future__ import annotations

import json

import pytest

from tests import fake_aws, fake_notation, fake_supply_cli, runtime
from tests.delivery import COMMIT, EXECUTION, PACKAGES

CHECK = "container-cicd-prod-app-check"
OTHER_PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/someone_else_20261127000000000000000001"


class Upstream:
    """dev's registry and records as its pipeline left them, and prod's Check step run against them."""

    def __init__(self, tmp_path, dev, prod):
        self.dev, self.prod = dev, prod
        self.contract = dev.outputs["promotion"]
        self.cloud = fake_aws.FakeAws(tmp_path)
        built = fake_aws.image([COMMIT[:7]])
        self.digest = built["imageDigest"]
        self.image_uri = f"{self.contract['repositoryUrl']}@{self.digest}"
        tags = [COMMIT[:7], f"verified-{COMMIT[:7]}", f"execution-{EXECUTION}"]
        self.cloud.repository(self.contract["repositoryName"], [dict(built, imageTags=tags)])
        self.own_bucket = runtime.steps(prod)[CHECK].buildspec["env"]["variables"]["RECORDS_BUCKET"]

    def signed_by(self, profile: str) -> Upstream:
        fake_notation.sign_as(self.cloud.state, account=self.contract["accountId"], region="us-east-1", digest=self.digest, profile_arn=profile)
        return self

    def sbom(self) -> Upstream:
        fake_supply_cli.put(self.cloud.state, self.contract["recordsBucket"], f"sbom/{self.digest}.json", fake_supply_cli.sbom(*PACKAGES))
        return self

    def check(self) -> runtime.Run:
        promotion = {"commit": COMMIT[:7], "digest": self.digest, "upstreamExecutionId": EXECUTION}
        variables = {"codepipeline.PipelineExecutionId": "9f8e7d6c-5b4a-4f3e-8d2c-1b0a9f8e7d6c"}
        return runtime.run_step(self.prod, CHECK, self.cloud, variables=variables, files={"promotion.json": json.dumps(promotion)})

    def kept(self, prefix: str) -> dict | None:
        return fake_supply_cli.get(self.cloud.state, self.own_bucket, f"{prefix}/{self.digest}.json")


@pytest.fixture
def upstream(tmp_path, dev, prod) -> Upstream:
    return Upstream(tmp_path, dev, prod)


def refusal(run: runtime.Run) -> str:
    [line] = [line for line in run.stdout.splitlines() if line.startswith("Refusing ")]
    return line


def test_an_image_the_upstream_signed_and_scanned_clean_passes_and_its_evidence_is_kept(upstream):
    run = upstream.signed_by(upstream.contract["signingProfileArn"]).sbom().check()
    assert run.code == 0, run.stdout
    sbom_uri = f"s3://{upstream.own_bucket}/sbom/{upstream.digest}.json"
    assert run.exported["SBOM_URI"] == sbom_uri and run.exported["SCAN_VERDICT"] == "PASSED"
    assert run.exported["IMAGE_URI"] == upstream.image_uri
    assert upstream.kept("sbom") == fake_supply_cli.sbom(*PACKAGES)
    verdict = upstream.kept("scan")
    assert verdict is not None
    assert {k: verdict[k] for k in ("digest", "threshold", "highestSeverity", "counts", "verdict", "source", "execution")} == {
        "digest": upstream.digest,
        "threshold": "high",
        "highestSeverity": None,
        "counts": {"critical": 0, "high": 0, "medium": 0, "low": 0},
        "verdict": "PASSED",
        "source": "ScanSbom",
        "execution": "9f8e7d6c-5b4a-4f3e-8d2c-1b0a9f8e7d6c",
    }
    # The signature was checked against the upstream's profile, its revocation asked of AWS Signer.
    assert ("signer", "GetRevocationStatus") in {(c.service, c.operation) for _, c in run.calls}
    [scan] = [c for _, c in run.calls if c.operation == "ScanSbom"]
    assert scan.params == {"sbom": fake_supply_cli.sbom(*PACKAGES), "outputFormat": "CYCLONE_DX_1_5"}


def test_an_image_signed_by_another_profile_is_refused(upstream):
    run = upstream.signed_by(OTHER_PROFILE).sbom().check()
    assert run.code != 0
    assert refusal(run).startswith(f"Refusing {upstream.image_uri}: no valid signature by {upstream.contract['signingProfileArn']} (")
    assert "Signature publisher doesn't match any trusted identities." in refusal(run)
    assert upstream.kept("sbom") is None, "nothing is rescanned or kept for an image whose signature fails"


def test_an_unsigned_image_is_refused_with_the_fix(upstream):
    """An image the upstream built before it signed (what a revert to an old digest may name)."""
    run = upstream.sbom().check()
    assert run.code != 0
    assert refusal(run) == (
        f"Refusing {upstream.image_uri}: no valid signature by {upstream.contract['signingProfileArn']} (Error: signature verification failed: "
        f'no signature is associated with "{upstream.image_uri}", make sure the artifact was signed successfully); if the upstream built it before '
        "it signed its images, run the upstream's pipeline on that commit again (python -m tools.revert --stack <upstream> --commit <commit>): "
        "its build signs the digest, and its next success promotes it"
    )


@pytest.mark.parametrize(("severity", "blocked"), [("critical", True), ("high", True), ("medium", False)])
def test_the_rescan_blocks_at_this_stacks_threshold(upstream, severity, blocked):
    """prod blocks high and above, whatever the upstream's own threshold (dev: critical) let through."""
    fake_supply_cli.findings(upstream.cloud.state, {PACKAGES[1]: severity})
    run = upstream.signed_by(upstream.contract["signingProfileArn"]).sbom().check()
    verdict = upstream.kept("scan")
    assert verdict is not None and verdict["counts"][severity] == 1 and verdict["highestSeverity"] == severity
    if blocked:
        assert run.code != 0
        assert refusal(run) == (
            f"Refusing {upstream.image_uri}: the rescan of its SBOM found 1 {severity} (this stack blocks high and above; "
            f"verdict in s3://{upstream.own_bucket}/scan/{upstream.digest}.json)"
        )
        assert verdict["verdict"] == "BLOCKED"
    else:
        assert run.code == 0, run.stdout
        assert (run.exported["SCAN_VERDICT"], verdict["verdict"]) == ("PASSED", "PASSED")


def test_an_image_without_an_upstream_sbom_is_refused(upstream):
    run = upstream.signed_by(upstream.contract["signingProfileArn"]).check()
    assert run.code != 0
    assert refusal(run) == (
        f"Refusing {upstream.image_uri}: the upstream keeps no SBOM of it (s3://{upstream.contract['recordsBucket']}/sbom/{upstream.digest}.json), "
        "so it cannot be rescanned; promote an image the upstream scanned (its Scan stage writes the SBOM)"
    )


# ---- a revert by digest takes the same path ----


class _Pipeline:
    """CodePipeline's GetPipeline of the evaluated pipeline (its stages as the API returns them)."""

    def __init__(self, result):
        self.stages = [
            {"name": s["name"], "actions": [{"name": a["name"], "actionTypeId": {"provider": a["provider"]}, "configuration": a.get("configuration") or {}} for a in s["actions"]]}
            for s in result.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]
        ]

    def get_pipeline(self, name: str) -> dict:
        return {"pipeline": {"name": name, "stages": self.stages}}


@pytest.mark.parametrize("variant", ["prod", "prod_ecs"])
def test_a_revert_by_digest_enters_the_pipeline_before_the_gate_and_every_deploy_stage(variant, request):
    """`tools.revert --digest` writes the inbox object the pipeline's Source reads (tools/promote.py); the stage after
    Source is Check, whose step verifies the upstream's signature and rescans the SBOM, before any deploy stage."""
    from tools.promote import inbox_of

    result = request.getfixturevalue(variant)
    pipeline = _Pipeline(result)
    bucket, key = inbox_of(pipeline, "container-cicd-prod-app-pipeline")
    assert (bucket, key) == (result.named("promotion-inbox-bucket").outputs["bucket"], "promotion.zip")
    names = [s["name"] for s in pipeline.stages]
    deploys = [i for i, s in enumerate(pipeline.stages) if any(a["name"].startswith("Deploy") for a in s["actions"])]
    assert names[:2] == ["Source", "Check"] and deploys and min(deploys) > 1, names
    script = runtime.steps(result)[CHECK].buildspec["phases"]["build"]["commands"][0]
    assert script.index("verified-") < script.index("notation verify") < script.index("aws inspector-scan scan-sbom") < script.index("export IMAGE_URI")
