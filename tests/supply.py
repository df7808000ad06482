"""What the supply-chain tests feed the Scan stage's VerifyImage step: the SBOM InspectorScan writes (CycloneDX with
Amazon Inspector's count properties), and the step's run as the pipeline runs it (its two input artifacts)."""

from __future__ import annotations

import json

from tests import runtime

PROPERTY = "amazon:inspector:sbom_scanner:{}_vulnerabilities"
PACKAGES = (("openssl", "3.0.13"), ("zlib", "1.3.1"))


def sbom(critical: int = 0, high: int = 0, medium: int = 0, low: int = 0, *, counted: bool = True) -> str:
    """A CycloneDX 1.5 SBOM as Inspector's scan writes it: components, one vulnerability per finding with its rating,
    and (`counted`) the count properties in its metadata."""
    findings = [(s, n) for s, n in (("critical", critical), ("high", high), ("medium", medium), ("low", low))]
    vulnerabilities = [
        {"id": f"CVE-2026-{1000 + i}-{severity}", "ratings": [{"severity": severity}], "affects": [{"ref": "pkg:generic/openssl@3.0.13"}]}
        for severity, count in findings
        for i in range(count)
    ]
    metadata: dict = {"timestamp": "2026-12-07T23:00:00Z"}
    if counted:
        metadata["properties"] = [{"name": PROPERTY.format(s), "value": str(n)} for s, n in findings]
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "metadata": metadata,
        "components": [{"type": "library", "name": n, "version": v, "purl": f"pkg:generic/{n}@{v}", "bom-ref": f"pkg:generic/{n}@{v}"} for n, v in PACKAGES],
        "vulnerabilities": vulnerabilities,
    }
    return json.dumps(document)


def verify_image(result, project: str, cloud, variables: dict, *, report: str | None = None, env: dict | None = None) -> runtime.Run:
    """Run VerifyImage with the build's artifact as its primary input and the scan's SBOM (`report`, None: a clean
    SBOM) in CODEBUILD_SRC_DIR_ScanReport, as CodeBuild lays out a secondary input artifact."""
    folder = cloud.state.parent / f"work-{project}" / "scan-report"
    files = {"imagedefinitions.json": "[]", "scan-report/report.json": sbom() if report is None else report}
    return runtime.run_step(result, project, cloud, variables=variables, files=files, env={"CODEBUILD_SRC_DIR_ScanReport": str(folder), **(env or {})})
