"""Supply-chain settings (scanSeverityThreshold, imageSigning): defaults, the production refusals, and the exact
InspectorScan threshold configuration each threshold maps to."""

from __future__ import annotations

import re

import pytest

from components.settings import SettingsError, Severity, SupplyChainSettings, parse_settings

PROJECT = "container-cicd"
PRODUCTION = {"production": True, "allowPlainHttp": True}


def parse(stack: str = "dev", **raw):
    return parse_settings(raw, PROJECT, stack)


def test_defaults_scan_critical_and_sign_outside_production():
    assert parse().supply == SupplyChainSettings(threshold=Severity.CRITICAL, signing=True)


def test_defaults_scan_high_and_sign_in_production():
    assert parse("prod", **PRODUCTION).supply == SupplyChainSettings(threshold=Severity.HIGH, signing=True)


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        ("critical", {"CriticalThreshold": "0"}),
        ("high", {"CriticalThreshold": "0", "HighThreshold": "0"}),
        ("medium", {"CriticalThreshold": "0", "HighThreshold": "0", "MediumThreshold": "0"}),
        ("low", {"CriticalThreshold": "0", "HighThreshold": "0", "MediumThreshold": "0", "LowThreshold": "0"}),
        ("off", {}),
    ],
)
def test_each_threshold_maps_to_the_inspector_scan_configuration_exactly(threshold, expected):
    assert parse(scanSeverityThreshold=threshold).supply.thresholds() == expected


@pytest.mark.parametrize(
    ("threshold", "blocked", "passed"),
    [
        ("critical", ["critical", "CRITICAL"], ["high", "medium", "low", "", None]),
        ("high", ["critical", "high"], ["medium", "low", ""]),
        ("medium", ["critical", "high", "medium"], ["low", ""]),
        ("low", ["critical", "high", "medium", "low"], [""]),
        ("off", [], ["critical", "high", "medium", "low", ""]),
    ],
)
def test_blocks_exactly_the_threshold_and_more_severe(threshold, blocked, passed):
    supply = parse(scanSeverityThreshold=threshold).supply
    assert [s for s in blocked if not supply.blocks(s)] == []
    assert [s for s in passed if supply.blocks(s)] == []


def test_off_outside_production_turns_each_part_off():
    assert parse(scanSeverityThreshold="off", imageSigning="off").supply == SupplyChainSettings(threshold=None, signing=False)
    assert parse(scanSeverityThreshold="off").supply.gated is True
    assert parse(scanSeverityThreshold="off", imageSigning="off").supply.gated is False


def test_production_refuses_no_scan_with_key_value_allowed_and_fix():
    message = (
        "scanSeverityThreshold: 'off' is not valid; a production stack deploys only scanned images; allowed in production: auto, critical, high, "
        "medium or low. Fix: set scanSeverityThreshold to critical, high, medium or low, or remove it (auto: high)"
    )
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        parse("prod", **PRODUCTION, scanSeverityThreshold="off")


def test_production_refuses_unsigned_images_with_key_value_allowed_and_fix():
    message = (
        "imageSigning: 'off' is not valid; a production stack deploys only signed images; allowed in production: auto or on. Fix: remove imageSigning (auto: on) or set it to on"
    )
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        parse("prod", **PRODUCTION, imageSigning="off")


def test_unknown_threshold_names_the_allowed_values_and_the_closest():
    with pytest.raises(SettingsError, match=r"^scanSeverityThreshold: 'hihg' is not supported; use 'auto', 'critical', 'high', 'medium', 'low' or 'off'; did you mean 'high'\?$"):
        parse(scanSeverityThreshold="hihg")


def test_in_the_china_regions_auto_does_not_scan_and_a_threshold_is_refused():
    """CodePipeline documents no InspectorScan action in cn-north-1 and cn-northwest-1."""
    for stack, raw in (("dev", {}), ("prod", PRODUCTION)):
        assert parse_settings(raw, PROJECT, stack, region="cn-north-1").supply == SupplyChainSettings(threshold=None, signing=True)
    message = (
        "scanSeverityThreshold: 'high' is not valid; CodePipeline's InspectorScan action is not available in cn-northwest-1; allowed there: off. "
        "Fix: set scanSeverityThreshold to off (the signature is still verified) and scan the images another way"
    )
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        parse_settings({"scanSeverityThreshold": "high"}, PROJECT, "dev", region="cn-northwest-1")
    assert parse_settings({}, PROJECT, "dev", region="us-east-1").supply.threshold is Severity.CRITICAL
