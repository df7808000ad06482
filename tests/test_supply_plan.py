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
