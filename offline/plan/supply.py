"""What the plan shows of the supply-chain gate: the scan threshold in words, the signing profile, and where the
pipeline scans and verifies an image (per deploy target, and at a promoting stack's Check stage).

The threshold comes from the settings the program was evaluated with; everything else is read from the recorded
resources: the pipeline's actions, the CodeBuild projects they run (a step verifies when its buildspec runs
`notation verify`, and trusts the profiles its Notation trust policy names), the signing profile and the records
bucket.
"""

from __future__ import annotations

import json
import re

from components.settings import Severity
from offline.mocks import PROJECT, Resource, StackResult
from offline.plan.sections import pipeline_resource, stack_settings

PROJECT_TYPE = "aws:codebuild/project:Project"
PROFILE_TYPE = "aws:signer/signingProfile:SigningProfile"
RECORDS_TYPE = f"{PROJECT}:supply:Records"
RULE_TYPE = "aws:cloudwatch/eventRule:EventRule"
VERIFY_COMMAND = "notation verify"
SBOM_SCAN_COMMAND = "inspector-scan scan-sbom"
SIGN_COMMAND = "notation sign"
# The Notation trust policy a verifying step writes (components/supply/notation.py: trust_policy), as it appears in
# the buildspec: its trusted identities are the profiles whose signatures the step accepts.
_TRUSTED = re.compile(r'"trustedIdentities":\s*(\[[^\]]*\])')


def threshold_words(threshold: Severity | None) -> str:
    """What the threshold blocks, in words: "blocks an image with any critical or high finding"."""
    if threshold is None:
        return "scans nothing (scanSeverityThreshold off)"
    blocking = [s.value for s in Severity if s.rank <= threshold.rank]
    listed = blocking[0] if len(blocking) == 1 else f"{', '.join(blocking[:-1])} or {blocking[-1]}"
    return f"blocks an image with any {listed} finding"


def _projects(result: StackResult) -> dict[str, Resource]:
    return {str(r.inputs.get("name")): r for r in result.of_type(PROJECT_TYPE)}


def _buildspec(projects: dict[str, Resource], action: dict) -> str:
    if action.get("provider") != "CodeBuild":
        return ""
    project = projects.get(str((action.get("configuration") or {}).get("ProjectName")))
    buildspec = ((project.inputs.get("source") or {}).get("buildspec") if project else None) or ""
    return buildspec if isinstance(buildspec, str) else ""


def trusted_profiles(buildspec: str) -> list[str]:
    """The profiles the step's trust policy names, in its order, each once."""
    found: list[str] = []
    for match in _TRUSTED.finditer(buildspec.replace("\\", "")):
        for arn in json.loads(match.group(1)):
            if arn not in found:
                found.append(arn)
    return found


def gate_steps(result: StackResult) -> list[str]:
    """One line per action of the pipeline that scans or verifies an image, in pipeline order."""
    pipeline = pipeline_resource(result)
    if pipeline is None:
        return []
    projects = _projects(result)
    lines = []
    for stage in pipeline.inputs.get("stages") or []:
        for action in stage.get("actions") or []:
            where = f"stage `{stage.get('name')}`, action `{action.get('name')}`"
            config = action.get("configuration") or {}
            if action.get("provider") == "InspectorScan":
                limits = ", ".join(f"{k}={v}" for k, v in sorted(config.items()) if k.endswith("Threshold"))
                lines.append(f"- Scans: {where} (InspectorScan on `{config.get('ECRRepositoryName')}`:`{config.get('ImageTag')}`; {limits or 'no threshold'})")
            buildspec = _buildspec(projects, action)
            if SBOM_SCAN_COMMAND in buildspec:
                lines.append(f"- Scans: {where} (the upstream's SBOM, with the Inspector Scan API)")
            if SIGN_COMMAND in buildspec:
                lines.append(f"- Signs: {where}, with the stack's profile (the digest it pushed)")
            elif VERIFY_COMMAND in buildspec:
                profiles = trusted_profiles(buildspec)
                trusted = ", ".join(f"`{p}`" for p in profiles) or "the profiles its trust policy names"
                lines.append(f"- Verifies the signature: {where}, against {trusted}")
    return lines


def supply_section(result: StackResult) -> list[str]:
    """The report's "Supply chain" section."""
    settings = stack_settings(result)
    supply = settings.supply
    if not supply.gated:
        return ["Off: scanSeverityThreshold and imageSigning are both off; images deploy without a scan or a signature check (refused in production)."]
    lines = [f"- Scan threshold: `{supply.threshold.value if supply.threshold else 'off'}`: {threshold_words(supply.threshold)}"]
    profiles = result.of_type(PROFILE_TYPE)
    if not supply.signing:
        lines.append("- Signing: off (imageSigning off): no signature is made or checked")
    elif settings.promotes:
        lines.append(f"- Signing: this stack builds and signs nothing; it accepts only images signed by the profile of `{settings.promotion.promote_from}` (its contract)")
    else:
        for profile in profiles:
            arn, platform = profile.outputs.get("arn", "?"), profile.inputs.get("platformId")
            lines.append(f"- Signing: the build signs each pushed digest with AWS Signer profile `{arn}` (platform `{platform}`); only the build's role may sign")
    for records in result.of_type(RECORDS_TYPE):
        bucket = next((r for r in result.resources if r.parent_urn == records.ref and r.type == "aws:s3/bucket:Bucket"), None)
        name = bucket.outputs.get("bucket") if bucket else "?"
        lines.append(f"- Records: SBOMs and verdicts in `{name}` (`sbom/<digest>.json`, `scan/<digest>.json`); `python -m tools.sbom --stack {result.stack} --package NAME`")
    steps = gate_steps(result)
    lines += steps or ["- No pipeline action scans or verifies an image."]
    for rule in result.of_type(RULE_TYPE):
        if rule.name.endswith("-image-blocked"):
            lines.append(f"- Blocked images: EventBridge rule `{rule.name}` notifies the delivery topic")
    return lines
