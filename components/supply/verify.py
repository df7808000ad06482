"""VerifyImage: the Scan stage's CodeBuild step, after InspectorScan and before the approval and the deploy stages.

It refuses the image unless (1) the digest the build exported carries a valid signature by the stack's signing
profile, and (2) the scan of that digest found nothing at or above the threshold. It re-reads the severity counts
from the SBOM InspectorScan wrote (the scan's own thresholds already failed the scan action above them; this is the
second look, and it is what writes the record), keeps the SBOM and the verdict in the records bucket by digest, and
exports SBOM_URI and SCAN_VERDICT for the deployment records.

Counts come from the SBOM, not from the scan's HighestScannedSeverity variable: that variable's values are
medium, high and critical only (a low-threshold gate could not read it), and a variable the scan did not set
would fail the action that references it. Amazon Inspector writes the counts as CycloneDX properties
`amazon:inspector:sbom_scanner:<severity>_vulnerabilities`
(https://docs.aws.amazon.com/inspector/latest/user/cyclonedx-namespace.html); without them, the vulnerabilities'
first rating is counted.
"""

from __future__ import annotations

import shlex

from components.settings import CpuArchitecture, Severity
from components.supply import notation
from components.supply.records import SBOM_PREFIX, SCAN_PREFIX

SCAN_ARTIFACT = "ScanReport"
"""The InspectorScan action's output artifact (the SBOM), VerifyImage's second input."""
SCAN_REPORT_DIR = f"$CODEBUILD_SRC_DIR_{SCAN_ARTIFACT}"
"""Where CodeBuild puts a secondary input artifact: CODEBUILD_SRC_DIR_<artifact name>."""
EXPORTED = ("SBOM_URI", "SCAN_VERDICT")
"""What VerifyImage exports (namespace SupplyVariables) when it scans: the SBOM's s3:// URI and PASSED."""
PROPERTY = "amazon:inspector:sbom_scanner:{}_vulnerabilities"

# {critical, high, medium, low} of the SBOM: Inspector's count properties, else the first rating of each vulnerability.
_COUNTS = (
    'def prop($s): [.metadata.properties[]? | select(.name == "amazon:inspector:sbom_scanner:\\($s)_vulnerabilities") | .value | tonumber] | first; '
    'def rated($s): [.vulnerabilities[]? | select(((.ratings[0].severity // "") | ascii_downcase) == $s)] | length; '
    '{critical: (prop("critical") // rated("critical")), high: (prop("high") // rated("high")), '
    'medium: (prop("medium") // rated("medium")), low: (prop("low") // rated("low"))}'
)


def blocking(threshold: Severity) -> list[str]:
    """The severities that block an image at `threshold`: it and every more severe one."""
    return [s.value for s in Severity if s.rank <= threshold.rank]


def scan_commands(threshold: Severity) -> list[str]:
    """Find the SBOM, check the digest and the counts, keep SBOM and verdict; refuse above the threshold."""
    q = shlex.quote
    # "2 critical, 1 high": the findings at or above the threshold.
    found = "[(" + ", ".join(f'"{s}"' for s in blocking(threshold)) + ') as $s | select(.[$s] > 0) | "\\(.[$s]) \\($s)"] | join(", ")'
    return [
        'DIGEST="${IMAGE_URI##*@}"',
        # The tag InspectorScan scanned names this digest (tags are immutable in the repository); a mismatch means
        # the scan looked at other bytes than the ones that would deploy.
        'SCANNED="$(aws ecr describe-images --repository-name "$REPOSITORY_NAME" --image-ids imageTag="$IMAGE_TAG" '
        '--query \'imageDetails[0].imageDigest\' --output text)" || SCANNED=""; '
        f'[ "$SCANNED" = "$DIGEST" ] || {{ echo "{notation.REFUSING} $IMAGE_URI: the scan looked at tag $IMAGE_TAG, which names \'$SCANNED\', not this digest"; exit 1; }}',
        f'SBOM=""; for f in $(find "{SCAN_REPORT_DIR}" -type f | sort); do if jq -e \'.bomFormat == "CycloneDX"\' "$f" >/dev/null 2>&1; then SBOM="$f"; break; fi; done; '
        f'[ -n "$SBOM" ] || {{ echo "{notation.REFUSING} $IMAGE_URI: the scan wrote no CycloneDX SBOM ({SCAN_REPORT_DIR} holds none)"; exit 1; }}',
        f'COUNTS="$(jq -c {q(_COUNTS)} "$SBOM")" && echo "Findings of $DIGEST: $COUNTS (threshold: {threshold.value})"',
        'HIGHEST="$(jq -r \'[("critical","high","medium","low") as $s | select(.[$s] > 0) | $s] | first // ""\' <<<"$COUNTS")"',
        f'FOUND="$(jq -r {q(found)} <<<"$COUNTS")"',
        'if [ -n "$FOUND" ]; then SCAN_VERDICT=BLOCKED; else SCAN_VERDICT=PASSED; fi',
        'SBOM_URI="s3://$RECORDS_BUCKET/' + SBOM_PREFIX + '$DIGEST.json"',
        'aws s3api put-object --bucket "$RECORDS_BUCKET" --key "' + SBOM_PREFIX + '$DIGEST.json" --body "$SBOM" --content-type application/json >/dev/null',
        f'jq -n --arg digest "$DIGEST" --arg threshold {threshold.value} --arg highest "$HIGHEST" --argjson counts "$COUNTS" '
        '--arg verdict "$SCAN_VERDICT" --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg execution "$EXECUTION" '
        '\'{digest: $digest, threshold: $threshold, highestSeverity: (if $highest == "" then null else $highest end), counts: $counts, '
        'verdict: $verdict, scannedAt: $at, source: "InspectorScan", execution: $execution}\' > scan-verdict.json',
        'aws s3api put-object --bucket "$RECORDS_BUCKET" --key "' + SCAN_PREFIX + '$DIGEST.json" --body scan-verdict.json --content-type application/json >/dev/null',
        f'if [ "$SCAN_VERDICT" = BLOCKED ]; then echo "{notation.REFUSING} $IMAGE_URI: the scan found $FOUND vulnerabilities (threshold: {threshold.value})"; exit 1; fi',
        "export SBOM_URI SCAN_VERDICT",
        'echo "$IMAGE_URI passed the scan (threshold: ' + threshold.value + '); SBOM: $SBOM_URI"',
    ]


def verify_buildspec(*, threshold: Severity | None, profile_arn: str | None, records_bucket: str | None, repository_name: str, architecture: CpuArchitecture) -> dict:
    """The buildspec (version 0.2) as data. `threshold` None: no scan (only the signature); `profile_arn` None:
    imageSigning is off (the log says the signature is not verified). IMAGE_URI, IMAGE_TAG and EXECUTION come from
    the action's environment variables."""
    assert threshold is not None or profile_arn is not None, "VerifyImage with neither a scan nor a signature"
    assert (threshold is None) == (records_bucket is None), "a scan keeps its records"
    signature = notation.verify_commands("IMAGE_URI", [profile_arn]) if profile_arn is not None else ['echo "imageSigning is off: the signature of $IMAGE_URI is not verified"']
    scan = scan_commands(threshold) if threshold is not None else ['echo "scanSeverityThreshold is off: $IMAGE_URI is not scanned"']
    env: dict = {"shell": "bash", "variables": {"REPOSITORY_NAME": repository_name}}
    if threshold is not None:
        env["variables"]["RECORDS_BUCKET"] = records_bucket
        env["exported-variables"] = list(EXPORTED)
    phases: dict = {}
    if profile_arn is not None:
        phases["install"] = {"on-failure": "ABORT", "commands": notation.install_commands(architecture)}
    phases["build"] = {"on-failure": "ABORT", "commands": [*signature, *scan]}
    return {"version": 0.2, "env": env, "phases": phases}
