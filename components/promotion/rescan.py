"""The promoting stack's scan gate, as bash for the Check step: the upstream's SBOM of the promoted digest, rescanned
now against THIS stack's threshold, and kept with this stack's records.

CodePipeline's InspectorScan action scans only a repository of the pipeline's own account and region, so the
promoted digest (in the upstream's registry, often another account) is not scanned by it again. Instead the step
reads the SBOM the upstream's scan kept (`sbom/<digest>.json` in the upstream's records bucket, which the upstream's
share lets this account read) and sends it to the Amazon Inspector Scan API (ScanSbom: a CycloneDX 1.5 SBOM in,
the vulnerabilities found with today's data out; https://docs.aws.amazon.com/inspector/v2/APIReference/API_scan_ScanSbom.html).
The API needs no Amazon Inspector activation in the account, only `inspector-scan:ScanSbom` for the caller
(https://docs.aws.amazon.com/inspector/latest/user/configure-cicd-account.html).

The counts per severity are the response's CycloneDX metadata properties
`amazon:inspector:sbom_scanner:<severity>_vulnerabilities` (the ScanSbom example of the AWS SDK for JavaScript v3,
https://docs.aws.amazon.com/AWSJavaScriptSDK/v3/latest/client/inspector-scan/command/ScanSbomCommand/, and
Amazon Inspector's own CI/CD plugins read the same properties). A finding at or above the threshold blocks the image:
the SBOM and the verdict are still kept (`sbom/<digest>.json`, `scan/<digest>.json` in this stack's records bucket),
then the step prints `Refusing <image>: <reason>` and fails.
"""

from __future__ import annotations

import json
import shlex

from components.settings import Severity

# The scan's output: CycloneDX 1.5 (its metadata carries Amazon Inspector's counts).
OUTPUT_FORMAT = "CYCLONE_DX_1_5"
COUNT_PROPERTY_PREFIX = "amazon:inspector:sbom_scanner:"
# Where the step keeps its files: a directory of its own (mktemp), so two steps on one host never read each
# other's SBOM or answer.
SBOM_FILE = '"$RESCAN_DIR/sbom.json"'
SCAN_FILE = '"$RESCAN_DIR/scan.json"'
VERDICT_FILE = '"$RESCAN_DIR/verdict.json"'
# The counts as {critical, high, medium, low}: each severity's property, 0 when absent.
COUNTS_FILTER = (
    f'[.sbom.metadata.properties[]? | select(.name | startswith("{COUNT_PROPERTY_PREFIX}")) '
    f'| {{key: (.name | ltrimstr("{COUNT_PROPERTY_PREFIX}") | rtrimstr("_vulnerabilities")), value: (.value | tonumber)}}] | from_entries '
    "| {" + ", ".join(f"{s.value}: (.{s.value} // 0)" for s in Severity) + "}"
)
# The most severe level with a finding, "" for none.
HIGHEST_FILTER = "[" + ", ".join(json.dumps(s.value) for s in Severity) + '] as $levels | first($levels[] as $s | select(.[$s] > 0) | $s) // ""'


def blocking_filter(threshold: Severity) -> str:
    """jq over the counts: "<n> critical, <m> high" for the blocking severities with findings, "" for none."""
    levels = json.dumps([s.value for s in Severity if s.rank <= threshold.rank])
    return f'[{levels}[] as $s | select(.[$s] > 0) | "\\(.[$s]) \\($s)"] | join(", ")'


def rescan_lines(threshold: Severity) -> list[str]:
    """Bash lines (after IMAGE_URI, DIGEST are set; `refuse REASON` defined) that rescan the upstream's SBOM of
    DIGEST against `threshold`, keep SBOM and verdict in RECORDS_BUCKET, and set SBOM_URI and SCAN_VERDICT.

    Reads UPSTREAM_RECORDS_BUCKET and RECORDS_BUCKET (the buildspec's variables, fixed at `pulumi up`) and
    EXECUTION_ID (the pipeline execution, passed by the action)."""
    q = shlex.quote
    verdict = (
        f'jq -n --arg digest "$DIGEST" --arg threshold {q(threshold.value)} --arg highest "$HIGHEST" --argjson counts "$COUNTS" '
        '--arg verdict "$SCAN_VERDICT" --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg execution "${EXECUTION_ID:-}" '
        '\'{digest: $digest, threshold: $threshold, highestSeverity: (if $highest == "" then null else $highest end), counts: $counts, '
        f'verdict: $verdict, scannedAt: $at, source: "ScanSbom", execution: $execution}}\' > {VERDICT_FILE}'
    )
    return [
        'RESCAN_DIR="$(mktemp -d)"',
        'SBOM_KEY="sbom/$DIGEST.json"',
        f'aws s3api get-object --bucket "$UPSTREAM_RECORDS_BUCKET" --key "$SBOM_KEY" {SBOM_FILE} > /dev/null '
        '|| refuse "the upstream keeps no SBOM of it (s3://$UPSTREAM_RECORDS_BUCKET/$SBOM_KEY), so it cannot be rescanned; '
        'promote an image the upstream scanned (its Scan stage writes the SBOM)"',
        f"aws inspector-scan scan-sbom --sbom file://{SBOM_FILE} --output-format {OUTPUT_FORMAT} --output json > {SCAN_FILE} "
        '|| refuse "Amazon Inspector could not scan its SBOM (see the error above); run the pipeline again, or check inspector-scan:ScanSbom"',
        f'COUNTS="$(jq -c {q(COUNTS_FILTER)} {SCAN_FILE})" || refuse "the scan\'s answer holds no severity counts"',
        f'HIGHEST="$(jq -r {q(HIGHEST_FILTER)} <<<"$COUNTS")"',
        f'BLOCKING="$(jq -r {q(blocking_filter(threshold))} <<<"$COUNTS")"',
        'if [ -z "$BLOCKING" ]; then SCAN_VERDICT=PASSED; else SCAN_VERDICT=BLOCKED; fi',
        verdict,
        # Kept before the verdict is acted on: a blocked image's SBOM and verdict are evidence too.
        f'aws s3api put-object --bucket "$RECORDS_BUCKET" --key "$SBOM_KEY" --body {SBOM_FILE} --content-type application/json > /dev/null '
        '&& aws s3api put-object --bucket "$RECORDS_BUCKET" --key "scan/$DIGEST.json" '
        f"--body {VERDICT_FILE} --content-type application/json > /dev/null "
        '|| refuse "its SBOM and scan verdict could not be kept in s3://$RECORDS_BUCKET (see the error above)"',
        f'[ "$SCAN_VERDICT" = PASSED ] || refuse "the rescan of its SBOM found $BLOCKING (this stack blocks {threshold.value} and above; '
        'verdict in s3://$RECORDS_BUCKET/scan/$DIGEST.json)"',
        'SBOM_URI="s3://$RECORDS_BUCKET/$SBOM_KEY"',
        'echo "Rescanned the SBOM of $IMAGE_URI: ${HIGHEST:-no} finding${HIGHEST:+ at most $HIGHEST}; verdict $SCAN_VERDICT ($SBOM_URI)"',
    ]
