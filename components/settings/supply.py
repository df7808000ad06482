"""The supply-chain part: the scan gate's severity threshold and image signing (scanSeverityThreshold,
imageSigning), and how a threshold maps to CodePipeline's InspectorScan action."""

from __future__ import annotations

from dataclasses import dataclass

from components.settings.enums import ScanThreshold, Severity, Toggle
from components.settings.reading import _enum, _fail, _Reader

# InspectorScan's configuration key per severity: "the number of vulnerabilities of the specified severity
# ... beyond which CodePipeline should fail the action" (action reference, InspectorScan).
# https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-InspectorScan.html
INSPECTOR_THRESHOLD_KEYS = {
    Severity.CRITICAL: "CriticalThreshold",
    Severity.HIGH: "HighThreshold",
    Severity.MEDIUM: "MediumThreshold",
    Severity.LOW: "LowThreshold",
}


@dataclass(frozen=True)
class SupplyChainSettings:
    """The supply-chain gate: which findings block an image, and whether images are signed and verified."""

    threshold: Severity | None
    """The least severe finding that blocks an image. None: no scan (scanSeverityThreshold off)."""
    signing: bool
    """The build signs each pushed digest and VerifyImage verifies the signature (imageSigning)."""

    @property
    def scans(self) -> bool:
        """The Scan stage scans images (the threshold is not off)."""
        return self.threshold is not None

    @property
    def gated(self) -> bool:
        """Anything of the gate is on: a Scan stage exists (scan, signature or both)."""
        return self.threshold is not None or self.signing

    def thresholds(self) -> dict[str, str]:
        """The InspectorScan action's threshold configuration: `0` (fail on the first finding) for the threshold
        severity and every more severe one; the less severe keys are left out (never fail). Empty when off."""
        if self.threshold is None:
            return {}
        return {INSPECTOR_THRESHOLD_KEYS[s]: "0" for s in Severity if s.rank <= self.threshold.rank}

    def blocks(self, severity: Severity | str | None) -> bool:
        """A finding of `severity` (None or "": no finding) blocks an image."""
        if self.threshold is None or not severity:
            return False
        return Severity(str(severity).lower()).rank <= self.threshold.rank


# "The CodePipeline action for InspectorScan is not available in the China (Beijing) and China (Ningxia)
# Regions": https://docs.amazonaws.cn/en_us/codepipeline/latest/userguide/action-reference-InspectorScan.html
NO_INSPECTOR_SCAN_REGIONS = ("cn-north-1", "cn-northwest-1")


def _supply(reader: _Reader, production: bool, region: str | None = None) -> SupplyChainSettings:
    threshold = _enum(reader, "scanSeverityThreshold")
    if region in NO_INSPECTOR_SCAN_REGIONS:
        if threshold is ScanThreshold.AUTO:
            threshold = ScanThreshold.OFF  # auto there: no scan; the signature is still verified
        elif threshold is not ScanThreshold.OFF:
            raise _fail(
                "scanSeverityThreshold",
                reader.get("scanSeverityThreshold"),
                f"CodePipeline's InspectorScan action is not available in {region}; allowed there: off",
                "set scanSeverityThreshold to off (the signature is still verified) and scan the images another way",
            )
    elif production and threshold is ScanThreshold.OFF:
        raise _fail(
            "scanSeverityThreshold",
            reader.get("scanSeverityThreshold"),
            "a production stack deploys only scanned images; allowed in production: auto, critical, high, medium or low",
            "set scanSeverityThreshold to critical, high, medium or low, or remove it (auto: high)",
        )
    signing = _enum(reader, "imageSigning")
    if production and signing is Toggle.OFF:
        raise _fail(
            "imageSigning",
            reader.get("imageSigning"),
            "a production stack deploys only signed images; allowed in production: auto or on",
            "remove imageSigning (auto: on) or set it to on",
        )
    return SupplyChainSettings(threshold=threshold.resolve(production), signing=signing.resolve(True))
