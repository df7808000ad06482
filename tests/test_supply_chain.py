"""The building stack's supply-chain gate, run with its own code against the stand-ins: the build signs the digest it
pushed, the Scan stage's VerifyImage refuses an unsigned, foreign-signed, revoked or vulnerable digest and keeps the
SBOM and the verdict of a passing one; the pipeline's shape and roles follow the settings."""

from __future__ import annotations

import json
import os
import subprocess

from components.settings import CpuArchitecture
from components.supply import notation
from tests import fake_aws, fake_notation, runtime, supply
from tests.delivery import COMMIT, EXECUTION

REPOSITORY = "container-cicd-dev-app"
OTHER_PROFILE = f"arn:aws:signer:{fake_aws.REGION}:{fake_aws.ACCOUNT}:/signing-profiles/someone_else_20261127000000000000000001"


def profile_arn(result) -> str:
    return result.one("aws:signer/signingProfile:SigningProfile").outputs["arn"]


def records_bucket(result) -> str:
    return result.outputs["recordsBucket"]


def project(result, kind: str) -> str:
    return next(name for name in runtime.steps(result) if name.endswith(f"-{kind}"))


def stages(result) -> list[dict]:
    return result.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]


def stage(result, name: str) -> dict:
    return next(s for s in stages(result) if s["name"] == name)


class World:
    """The stand-in registry holding the built image (unsigned unless a test signs it)."""

    def __init__(self, tmp_path, result, tags=(COMMIT[:7],)):
        self.cloud = fake_aws.FakeAws(tmp_path)
        self.image = fake_aws.image(list(tags))
        url = result.outputs["repositoryUrl"]
        self.repository = url.split("/", 1)[1]
        self.cloud.repository(self.repository, [self.image])
        self.digest = self.image["imageDigest"]
        self.uri = f"{url}@{self.digest}"
        self.variables = {
            "BuildVariables.IMAGE_URI": self.uri,
            "BuildVariables.IMAGE_TAG": COMMIT[:7],
            "BuildVariables.IMAGE_DIGEST": self.digest,
            "codepipeline.PipelineExecutionId": EXECUTION,
        }

    def sign(self, profile: str) -> None:
        fake_notation.sign_as(self.cloud.state, account=fake_aws.ACCOUNT, region=fake_aws.REGION, digest=self.digest, profile_arn=profile)

    def verify(self, result, report: str | None = None, **env: str) -> runtime.Run:
        return supply.verify_image(result, project(result, "verify"), self.cloud, self.variables, report=report, env=env)

    def record(self, result, kind: str) -> dict | None:
        body = self.cloud.objects().get(f"{records_bucket(result)}/{kind}/{self.digest}.json")
        return json.loads(body) if body is not None else None


def refusal(run: runtime.Run) -> str:
    """The one line a step prints when it refuses an image."""
    [line] = [line for line in run.stdout.splitlines() if line.startswith("Refusing ")]
    return line


# -- VerifyImage -------------------------------------------------------------------------------------


def test_a_signed_clean_image_passes_and_its_sbom_and_verdict_are_kept_by_digest(tmp_path, dev):
    world = World(tmp_path, dev)
    world.sign(profile_arn(dev))
    report = supply.sbom(high=2, medium=1)  # below dev's threshold (critical)
    run = world.verify(dev, report=report)
    assert run.code == 0, run.stdout
    assert f"Successfully verified signature for {world.uri}" in run.stdout
    assert world.cloud.objects()[f"{records_bucket(dev)}/sbom/{world.digest}.json"] == report
    verdict = world.record(dev, "scan")
    assert verdict is not None
    assert {k: v for k, v in verdict.items() if k != "scannedAt"} == {
        "digest": world.digest,
        "threshold": "critical",
        "highestSeverity": "high",
        "counts": {"critical": 0, "high": 2, "medium": 1, "low": 0},
        "verdict": "PASSED",
        "source": "InspectorScan",
        "execution": EXECUTION,
    }
    assert f"SBOM: s3://{records_bucket(dev)}/sbom/{world.digest}.json" in run.stdout


def test_a_finding_at_the_threshold_refuses_the_image_naming_digest_and_reason(tmp_path, dev):
    world = World(tmp_path, dev)
    world.sign(profile_arn(dev))
    run = world.verify(dev, report=supply.sbom(critical=1, high=3))
    assert run.code == 1
    assert refusal(run) == f"Refusing {world.uri}: the scan found 1 critical vulnerabilities (threshold: critical)"
    verdict = world.record(dev, "scan")
    assert verdict is not None and verdict["verdict"] == "BLOCKED" and verdict["highestSeverity"] == "critical"


def test_without_inspector_count_properties_the_ratings_are_counted(tmp_path, prod_building):
    world = World(tmp_path, prod_building)
    world.sign(profile_arn(prod_building))
    run = world.verify(prod_building, report=supply.sbom(high=1, counted=False))
    assert run.code == 1
    assert refusal(run) == f"Refusing {world.uri}: the scan found 1 high vulnerabilities (threshold: high)"


def test_an_unsigned_digest_is_refused_before_the_scan(tmp_path, dev):
    world = World(tmp_path, dev)
    run = world.verify(dev)
    assert run.code == 1
    assert refusal(run) == (
        f"Refusing {world.uri}: no valid signature by {profile_arn(dev)} (Error: signature verification failed: no signature is associated "
        f'with "{world.uri}", make sure the artifact was signed successfully)'
    )
    assert world.record(dev, "scan") is None and world.record(dev, "sbom") is None


def test_a_digest_signed_by_another_profile_is_refused(tmp_path, dev):
    world = World(tmp_path, dev)
    world.sign(OTHER_PROFILE)
    run = world.verify(dev)
    assert run.code == 1
    assert refusal(run).startswith(f"Refusing {world.uri}: no valid signature by {profile_arn(dev)} (")
    assert "Signature publisher doesn't match any trusted identities." in run.stdout


def test_a_revoked_signature_is_refused(tmp_path, dev):
    world = World(tmp_path, dev)
    world.sign(profile_arn(dev))
    run = world.verify(dev, REVOKED=profile_arn(dev))
    assert run.code == 1
    assert "have been revoked." in refusal(run)


def test_a_scan_of_another_digest_under_the_tag_is_refused(tmp_path, dev):
    world = World(tmp_path, dev, tags=("other",))
    world.sign(profile_arn(dev))
    run = world.verify(dev)
    assert run.code == 1
    assert refusal(run) == f"Refusing {world.uri}: the scan looked at tag {COMMIT[:7]}, which names '', not this digest"


def test_without_signing_verify_image_says_it_does_not_verify(tmp_path, evaluate):
    result = evaluate("dev", imageSigning="off")
    world = World(tmp_path, result)
    run = world.verify(result)
    assert run.code == 0, run.stdout
    assert f"imageSigning is off: the signature of {world.uri} is not verified" in run.stdout
    assert world.record(result, "scan")["verdict"] == "PASSED"


# -- the build's signature --------------------------------------------------------------------------


def build(world: World, result, **env: str) -> runtime.Run:
    return runtime.run_step(result, project(result, "build"), world.cloud, variables=world.variables, files={"app/Dockerfile": "FROM scratch\n"}, source_version=COMMIT, env=env)


def test_the_build_signs_the_digest_it_pushed_with_the_stacks_profile(tmp_path, dev):
    cloud = fake_aws.FakeAws(tmp_path)
    cloud.repository(REPOSITORY)
    run = runtime.run_step(dev, project(dev, "build"), cloud, variables={}, files={"app/Dockerfile": "FROM scratch\n"}, source_version=COMMIT)
    assert run.code == 0, run.stdout
    [image] = [i for i in cloud.images(REPOSITORY) if COMMIT[:7] in i["imageTags"]]
    signed = fake_notation.signatures(cloud.state)[f"{fake_aws.ACCOUNT}/{fake_aws.REGION}/{image['imageDigest']}"]
    assert [s["profile"] for s in signed] == [profile_arn(dev)]
    assert [c.operation for _, c in run.calls if c.service == "signer"] == ["SignPayload"]


def signature_tags(cloud, digest: str) -> list[list[str]]:
    """The tags of each signature manifest the registry holds for `digest`, in push order."""
    return [i["imageTags"] for i in cloud.images(REPOSITORY) if json.loads(i["imageManifest"]).get("subject") == {"digest": digest}]


def test_the_build_tags_its_signature_so_the_registry_keeps_it_as_long_as_the_image(tmp_path, dev):
    """Notation leaves the signature untagged, and the repository's untagged rule would expire it a day later while
    the image is kept: a promoting stack's Check or a revert would then refuse a good image."""
    cloud = fake_aws.FakeAws(tmp_path)
    cloud.repository(REPOSITORY)
    run = runtime.run_step(dev, project(dev, "build"), cloud, variables={}, files={"app/Dockerfile": "FROM scratch\n"}, source_version=COMMIT)
    assert run.code == 0, run.stdout
    built, signature = cloud.images(REPOSITORY)
    assert json.loads(signature["imageManifest"])["subject"] == {"digest": built["imageDigest"]}
    tag = f"sig-{COMMIT[:7]}-{signature['imageDigest'][7:19]}"
    assert signature["imageTags"] == [tag]
    [put] = [c for _, c in run.calls if c.operation == "PutImage" and c.params.get("imageTag") == tag]
    assert put.params == {
        "registryId": fake_aws.ACCOUNT,
        "repositoryName": REPOSITORY,
        "imageTag": tag,
        "imageDigest": signature["imageDigest"],
        "imageManifest": signature["imageManifest"],
        "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
    }
    assert f"Tagged signature {signature['imageDigest']} of {cloud_uri(dev, built)} {tag}: the registry keeps it as long as the image" in run.stdout


def cloud_uri(result, image: dict) -> str:
    return f"{result.outputs['repositoryUrl']}@{image['imageDigest']}"


def test_a_rerun_tags_a_signature_left_untagged_once_and_only_the_stacks(tmp_path, dev):
    """A build from before signatures were tagged (or one that stopped after signing) left the signature untagged: the
    re-run or revert that finds it valid tags it; the next one finds it tagged. Another profile's signature is not the
    stack's to keep."""
    world = World(tmp_path, dev)
    world.sign(OTHER_PROFILE)
    world.sign(profile_arn(dev))
    run = build(world, dev)
    assert run.code == 0, run.stdout
    foreign, own = fake_notation.signatures(world.cloud.state)[f"{fake_aws.ACCOUNT}/{fake_aws.REGION}/{world.digest}"]
    assert signature_tags(world.cloud, world.digest) == [[], [f"sig-{COMMIT[:7]}-{own['digest'][7:19]}"]]
    again = build(world, dev)
    assert again.code == 0, again.stdout
    assert f"Signature {own['digest']} of {world.uri} is already tagged sig-{COMMIT[:7]}-{own['digest'][7:19]}" in again.stdout
    assert [c for _, c in again.calls if c.operation == "PutImage"] == []
    assert foreign["digest"] != own["digest"]


def test_a_rerun_keeps_a_valid_signature_and_signs_an_image_built_before_signing(tmp_path, dev):
    world = World(tmp_path, dev)
    world.sign(profile_arn(dev))
    again = build(world, dev)
    assert again.code == 0, again.stdout
    assert f"{world.uri} is already signed by {profile_arn(dev)}; not signing it again" in again.stdout
    key = f"{fake_aws.ACCOUNT}/{fake_aws.REGION}/{world.digest}"
    assert len(fake_notation.signatures(world.cloud.state)[key]) == 1

    unsigned = World(tmp_path / "unsigned", dev)
    run = build(unsigned, dev)
    assert run.code == 0, run.stdout
    assert [s["profile"] for s in fake_notation.signatures(unsigned.cloud.state)[key]] == [profile_arn(dev)]


def test_a_rerun_does_not_renew_a_revoked_signature(tmp_path, dev):
    world = World(tmp_path, dev)
    world.sign(profile_arn(dev))
    run = build(world, dev, REVOKED=profile_arn(dev))
    assert run.code != 0
    assert f"Refusing {world.uri}: its signature by {profile_arn(dev)} is no longer valid (" in run.stdout
    assert len(fake_notation.signatures(world.cloud.state)[f"{fake_aws.ACCOUNT}/{fake_aws.REGION}/{world.digest}"]) == 1


# -- the pipeline and the roles ---------------------------------------------------------------------


def test_scan_stage_sits_between_build_and_the_approval(prod_building):
    result = prod_building
    names = [s["name"] for s in stages(result)]
    assert names[: names.index("Scan") + 2] == ["Source", "Build", "Scan", "Approve"]
    scan, verify = stage(result, "Scan")["actions"]
    assert (scan["name"], scan["category"], scan["provider"], scan["runOrder"], scan["namespace"]) == ("ImageScan", "Invoke", "InspectorScan", 1, "ScanVariables")
    assert scan["outputArtifacts"] == ["ScanReport"] and not scan.get("inputArtifacts")
    assert (verify["name"], verify["provider"], verify["runOrder"], verify["namespace"]) == ("VerifyImage", "CodeBuild", 2, "SupplyVariables")
    assert verify["inputArtifacts"] == ["BuildOutput", "ScanReport"] and verify["configuration"]["PrimarySource"] == "BuildOutput"


def test_the_threshold_is_the_inspector_scan_configuration(dev, evaluate):
    """critical (dev's default) sets one key, low all four; high is production's default (next test), and every
    threshold's keys are SupplyChainSettings.thresholds (tests/test_supply_settings.py)."""
    for result, keys in (
        (dev, {"CriticalThreshold": "0"}),
        (evaluate("dev", scanSeverityThreshold="low"), dict.fromkeys(("CriticalThreshold", "HighThreshold", "MediumThreshold", "LowThreshold"), "0")),
    ):
        scan = stage(result, "Scan")["actions"][0]
        assert scan["configuration"] == {"InspectorRunMode": "ECRImageScan", "ECRRepositoryName": REPOSITORY, "ImageTag": "#{BuildVariables.IMAGE_TAG}", **keys}


def test_production_scans_at_high_by_default(prod_building):
    scan = stage(prod_building, "Scan")["actions"][0]
    assert {k: v for k, v in scan["configuration"].items() if k.endswith("Threshold")} == {"CriticalThreshold": "0", "HighThreshold": "0"}


def test_threshold_off_leaves_verify_image_alone_and_keeps_no_records(evaluate):
    result = evaluate("dev", scanSeverityThreshold="off")
    [verify] = stage(result, "Scan")["actions"]
    assert (verify["name"], verify["runOrder"], verify["inputArtifacts"]) == ("VerifyImage", 1, ["BuildOutput"])
    assert "recordsBucket" not in result.outputs
    assert [b.name for b in result.of_type("aws:s3/bucket:Bucket") if b.name.startswith("records")] == []


def test_both_off_means_no_scan_stage_and_no_signing_profile(evaluate):
    result = evaluate("dev", scanSeverityThreshold="off", imageSigning="off")
    assert "Scan" not in [s["name"] for s in stages(result)]
    assert result.of_type("aws:signer/signingProfile:SigningProfile") == []
    phases = runtime.steps(result)[project(result, "build")].buildspec["phases"]
    assert [c for phase in phases.values() for c in phase["commands"] if "notation" in c] == []


def test_only_the_build_role_may_sign(dev):
    signers = []
    for role in dev.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(role.inputs["policy"])["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a in ("signer:SignPayload", "signer:*", "*") for a in actions):
                signers.append((role.inputs["role"], statement["Resource"]))
    build_role = runtime.steps(dev)[project(dev, "build")].role_arn.rsplit("/", 1)[-1]
    assert signers == [(build_role, profile_arn(dev))]


def test_the_signing_profile_is_notation_named_by_prefix_and_protected_in_production(dev, prod_building):
    profile = dev.one("aws:signer/signingProfile:SigningProfile")
    assert profile.inputs["platformId"] == "Notation-OCI-SHA384-ECDSA"
    assert profile.inputs["namePrefix"] == "container_cicd_dev_app_"
    assert not profile.protect and prod_building.one("aws:signer/signingProfile:SigningProfile").protect


def test_records_expire_with_the_log_retention(prod_building):
    [rule] = prod_building.named("records-lifecycle").inputs["rules"]
    assert rule["expiration"] == {"days": 90} and rule["noncurrentVersionExpiration"] == {"noncurrentDays": 90}


# -- installing the signing tools ---------------------------------------------------------------------


def test_a_download_that_does_not_match_its_pinned_checksum_is_not_installed(tmp_path):
    """The install's first download, tampered with: sha256sum refuses it and nothing after it runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text('#!/bin/bash\necho "curl $*" >> "$CALLS"\nwhile [ "$1" != -o ]; do shift; done\necho tampered > "$2"\n')
    (bin_dir / "curl").chmod(0o755)
    calls = tmp_path / "calls"
    [command] = notation.install_commands(CpuArchitecture.X86_64)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls), "HOME": str(tmp_path)}
    run = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode != 0
    assert "FAILED" in run.stdout + run.stderr
    [download] = calls.read_text().splitlines()
    assert download.endswith(f"https://github.com/notaryproject/notation/releases/download/v{notation.NOTATION_VERSION}/notation_{notation.NOTATION_VERSION}_linux_amd64.tar.gz")


def test_the_plugin_is_installed_only_with_aws_signature(tmp_path):
    [command] = notation.install_commands(CpuArchitecture.ARM64)
    assert f'grep -q "^\\[GNUPG:\\] VALIDSIG {notation.SIGNER_KEY_FINGERPRINT} "' in command
    verify_at = command.index("--verify")
    assert command.index('install -m 0755 "$tools/notation-com.amazonaws.signer.notation.plugin"') > verify_at
    assert notation.NOTATION_SHA256[CpuArchitecture.ARM64] in command and "linux_arm64" in command
