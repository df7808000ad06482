"""The offline plan's "Supply chain" section: the threshold in words, the signing profile, where the pipeline scans and
verifies (the Scan stage of a building stack on either target, the Check stage of a promoting one), and nothing but
one line when the gate is off."""

from __future__ import annotations

import yaml

from components.settings import Severity
from components.supply.notation import verify_commands
from offline.plan.supply import supply_section, threshold_words, trusted_profiles

PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/container_cicd_dev_app_20261127"
OTHER = "arn:aws:signer:us-east-1:210987654321:/signing-profiles/container_cicd_dev_app_20261201"


def test_threshold_in_words():
    assert threshold_words(Severity.CRITICAL) == "blocks an image with any critical finding"
    assert threshold_words(Severity.HIGH) == "blocks an image with any critical or high finding"
    assert threshold_words(Severity.MEDIUM) == "blocks an image with any critical, high or medium finding"
    assert threshold_words(Severity.LOW) == "blocks an image with any critical, high, medium or low finding"
    assert threshold_words(None) == "scans nothing (scanSeverityThreshold off)"


def test_the_trusted_profiles_are_read_from_the_step_s_trust_policy():
    buildspec = yaml.safe_dump({"version": 0.2, "phases": {"build": {"commands": verify_commands("IMAGE_URI", [PROFILE, OTHER])}}}, width=1000)
    assert trusted_profiles(buildspec) == [PROFILE, OTHER]
    assert trusted_profiles("version: 0.2\n") == []


def test_with_the_gate_off_the_section_says_so_in_one_line(evaluate):
    assert supply_section(evaluate("dev", scanSeverityThreshold="off", imageSigning="off")) == [
        "Off: scanSeverityThreshold and imageSigning are both off; images deploy without a scan or a signature check (refused in production)."
    ]


def _signing_profile_arn(result) -> str:
    [profile] = result.of_type("aws:signer/signingProfile:SigningProfile")
    return profile.outputs["arn"]


def test_a_promoting_stack_shows_its_check_and_its_eks_step_verifying_against_the_upstream_s_profile(dev, prod):
    upstream = _signing_profile_arn(dev)
    records = prod.outputs["recordsBucket"]
    assert supply_section(prod) == [
        "- Scan threshold: `high`: blocks an image with any critical or high finding",
        "- Signing: this stack builds and signs nothing; it accepts only images signed by the profile of `dev` (its contract)",
        f"- Records: SBOMs and verdicts in `{records}` (`sbom/<digest>.json`, `scan/<digest>.json`); `python -m tools.sbom --stack prod --package NAME`",
        "- Scans: stage `Check`, action `CheckVerified` (the upstream's SBOM, with the Inspector Scan API)",
        f"- Verifies the signature: stage `Check`, action `CheckVerified`, against `{upstream}`",
        f"- Verifies the signature: stage `Deploy`, action `DeployToEks`, against `{upstream}`",
        "- Blocked images: EventBridge rule `notifications-image-blocked` notifies the delivery topic",
    ]


def test_the_report_has_the_section_after_the_pipeline(prod):
    from offline.plan import render_report

    report = render_report(prod, {}, [], {"pipeline": "", "architecture": ""}, [], {})
    section = report.split("## Supply chain\n\n", 1)[1].split("\n\n## ", 1)[0]
    assert section.splitlines() == supply_section(prod)
    assert report.index("## Pipeline") < report.index("## Supply chain") < report.index("## Deploy target")


def _building_lines(result, *, eks: bool) -> list[str]:
    profile = _signing_profile_arn(result)
    lines = [
        "- Scan threshold: `critical`: blocks an image with any critical finding",
        f"- Signing: the build signs each pushed digest with AWS Signer profile `{profile}` (platform `Notation-OCI-SHA384-ECDSA`); only the build's role may sign",
        f"- Records: SBOMs and verdicts in `{result.outputs['recordsBucket']}` (`sbom/<digest>.json`, `scan/<digest>.json`); `python -m tools.sbom --stack dev --package NAME`",
        "- Signs: stage `Build`, action `BuildImage`, with the stack's profile (the digest it pushed)",
        "- Scans: stage `Scan`, action `ImageScan` (InspectorScan on `container-cicd-dev-app`:`#{BuildVariables.IMAGE_TAG}`; CriticalThreshold=0)",
        f"- Verifies the signature: stage `Scan`, action `VerifyImage`, against `{profile}`",
    ]
    if eks:
        lines.append(f"- Verifies the signature: stage `Deploy`, action `DeployToEks`, against `{profile}`")
    return [*lines, "- Blocked images: EventBridge rule `notifications-image-blocked` notifies the delivery topic"]


def test_a_building_stack_on_ecs_scans_and_verifies_in_its_scan_stage(dev):
    assert supply_section(dev) == _building_lines(dev, eks=False)


def test_a_building_stack_on_eks_verifies_again_in_its_deploy_step(evaluate):
    result = evaluate("dev", deployTarget="eks")
    assert supply_section(result) == _building_lines(result, eks=True)


def test_a_production_threshold_sets_every_key_down_to_it(prod_building):
    [scan] = [line for line in supply_section(prod_building) if line.startswith("- Scans:")]
    assert scan.endswith("; CriticalThreshold=0, HighThreshold=0)")
    assert supply_section(prod_building)[0] == "- Scan threshold: `high`: blocks an image with any critical or high finding"
