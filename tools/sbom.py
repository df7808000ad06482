"""Which image the gate scanned contains a package (and version): answered from the SBOMs the stack keeps.

    venv/bin/python -m tools.sbom --stack prod --package openssl                       # any version
    venv/bin/python -m tools.sbom --stack prod --package openssl --version 3.0.2-0ubuntu1.10
    venv/bin/python -m tools.sbom --stack dev --package log4j-core --json              # one JSON document

It reads Pulumi.<stack>.yaml for the region, the stack's `recordsBucket` output (`pulumi stack output`) for
its records bucket, then every SBOM there (`sbom/<digest>.json`, CycloneDX JSON: the bill of materials of
each digest the supply-chain gate scanned, kept as long as the deployment records) and the scan verdict
beside it (`scan/<digest>.json`). It lists each digest whose SBOM holds a component of that name (and
version), with the component's version and purl, the verdict (PASSED: the image went on to the deploy
stages; BLOCKED: it never ran) and when it was scanned, newest first. Names match case-insensitively, on
the component's name or the name in its purl; a version matches exactly. Nothing is changed. The records
bucket is the stack's: in a stack with `services` it holds every service's SBOMs, and the answer covers them
all (there is no --service).

Exit codes: 0 at least one digest holds the package; 2 no SBOM holds it (or the bucket holds no SBOM);
64 usage error (arguments, stack file; checked before any AWS call); 1 an AWS or Pulumi CLI error (or the
stack has no records bucket: its gate is off or it predates the gate).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tools.stack import ROOT, UsageError, read_settings, tool_parser

EXIT_FOUND, EXIT_AWS_ERROR, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2, 64
SBOM_PREFIX, SCAN_PREFIX = "sbom/", "scan/"
RECORDS_OUTPUT = "recordsBucket"
# What the caller's credentials must allow: the API call -> the IAM action it is authorized as (Service Authorization
# Reference: ListObjectsV2 is s3:ListBucket). GetCallerIdentity needs no permission; reading an SSE-KMS object also
# needs kms:Decrypt on its key (the pipeline's artifact key).
IAM_ACTIONS: dict[tuple[str, str], str] = {("s3", "ListObjectsV2"): "s3:ListBucket", ("s3", "GetObject"): "s3:GetObject"}
KMS_ACTION = "kms:Decrypt"
UNKNOWN = "unknown"
"""Verdict and scan time of a digest whose scan/<digest>.json is missing."""


@dataclass(frozen=True)
class Match:
    digest: str
    package: str
    version: str
    purl: str
    verdict: str
    """PASSED or BLOCKED (scan/<digest>.json), or unknown."""
    scanned_at: str
    sbom: str
    """s3://<bucket>/sbom/<digest>.json"""


def components(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every component of a CycloneDX document, nested ones included (a component may hold `components`)."""
    stack = list(document.get("components") or [])
    while stack:
        component = stack.pop()
        if isinstance(component, Mapping):
            yield component
            stack.extend(component.get("components") or [])


def purl_name(purl: str) -> str:
    """The name of a package URL: pkg:type/namespace/name@version?qualifiers#subpath (purl spec)."""
    path = purl.split("#", 1)[0].split("?", 1)[0]
    if "@" in path.rsplit("/", 1)[-1]:
        path = path.rsplit("@", 1)[0]
    return unquote(path.rsplit("/", 1)[-1])


def matches(component: Mapping[str, Any], package: str, version: str | None) -> bool:
    names = {str(component.get("name") or "").lower(), purl_name(str(component.get("purl") or "")).lower()}
    if package.lower() not in names:
        return False
    return version is None or str(component.get("version") or "") == version


def check_package(package: str, version: str | None) -> None:
    if not package.strip():
        raise UsageError(f"--package: {package!r} is empty; give a package name as the SBOM lists it (e.g. openssl)")
    if version is not None and not version.strip():
        raise UsageError(f"--version: {version!r} is empty; leave it out to match every version")


def records_bucket(outputs: Mapping[str, Any], stack: str) -> str:
    bucket = outputs.get(RECORDS_OUTPUT)
    if not isinstance(bucket, str) or not bucket:
        raise LookupError(
            f"stack {stack} has no {RECORDS_OUTPUT} output: its supply-chain gate is off (scanSeverityThreshold and imageSigning both off), "
            "or it was last updated before the gate existed; run pulumi up, then ask again"
        )
    return bucket


def digests(s3: Any, bucket: str, owner: str) -> list[str]:
    """The digests with an SBOM in the bucket (sbom/<digest>.json)."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=SBOM_PREFIX, ExpectedBucketOwner=owner):
        for item in page.get("Contents") or []:
            key = item["Key"]
            if key.endswith(".json"):
                found.append(key[len(SBOM_PREFIX) : -len(".json")])
    return found


def _read_json(s3: Any, bucket: str, key: str, owner: str) -> Any:
    body = s3.get_object(Bucket=bucket, Key=key, ExpectedBucketOwner=owner)["Body"].read()
    return json.loads(body)


def search(s3: Any, bucket: str, owner: str, package: str, version: str | None, warn: Callable[[str], None]) -> list[Match]:
    """Every (digest, component) whose component is the package, newest scan first."""
    found: list[Match] = []
    for digest in digests(s3, bucket, owner):
        key = f"{SBOM_PREFIX}{digest}.json"
        try:
            document = _read_json(s3, bucket, key, owner)
        except (ValueError, UnicodeDecodeError):
            warn(f"skipped s3://{bucket}/{key}: not JSON")
            continue
        if not isinstance(document, Mapping) or document.get("bomFormat") != "CycloneDX":
            warn(f"skipped s3://{bucket}/{key}: not a CycloneDX document")
            continue
        hits = [c for c in components(document) if matches(c, package, version)]
        if not hits:
            continue
        verdict = _verdict(s3, bucket, digest, owner)
        for component in hits:
            found.append(
                Match(
                    digest=digest,
                    package=str(component.get("name") or ""),
                    version=str(component.get("version") or ""),
                    purl=str(component.get("purl") or ""),
                    verdict=str(verdict.get("verdict") or UNKNOWN),
                    scanned_at=str(verdict.get("scannedAt") or UNKNOWN),
                    sbom=f"s3://{bucket}/{key}",
                )
            )
    # ISO 8601 UTC times sort as text; an unknown time goes last.
    return sorted(found, key=lambda m: (m.scanned_at != UNKNOWN, m.scanned_at, m.digest), reverse=True)


def _verdict(s3: Any, bucket: str, digest: str, owner: str) -> Mapping[str, Any]:
    try:
        verdict = _read_json(s3, bucket, f"{SCAN_PREFIX}{digest}.json", owner)
    except s3.exceptions.NoSuchKey:
        return {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return verdict if isinstance(verdict, Mapping) else {}


def read_outputs(stack: str, root: Path) -> dict[str, Any]:
    """The stack's outputs as `pulumi stack output --json` prints them."""
    done = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", stack], cwd=root, capture_output=True, text=True, check=False)  # noqa: S603, S607
    if done.returncode != 0:
        raise RuntimeError(f"pulumi stack output --stack {stack} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def parser() -> argparse.ArgumentParser:
    parser = tool_parser("python -m tools.sbom", __doc__ or "")
    parser.add_argument("--stack", required=True, help="Pulumi stack; its Pulumi.<stack>.yaml gives the region, its recordsBucket output the SBOMs")
    parser.add_argument("--package", required=True, help="package name as the SBOM lists it (component name or purl name), case-insensitive")
    parser.add_argument("--version", help="exact package version; omitted: every version")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    return parser


def _session(region: str | None) -> Any:
    import boto3.session

    return boto3.session.Session(region_name=region)


def render(found: list[Match], package: str, version: str | None, stack: str) -> str:
    what = f"{package} {version}" if version else package
    if not found:
        return f"No SBOM of stack {stack} holds {what}."
    rows = [("DIGEST", "VERSION", "VERDICT", "SCANNED AT", "PURL")] + [(m.digest, m.version, m.verdict, m.scanned_at, m.purl) for m in found]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"{len({m.digest for m in found})} digests of stack {stack} hold {what}:"]
    lines += ["  ".join([*(row[i].ljust(widths[i]) for i in range(4)), row[4]]).rstrip() for row in rows]
    return "\n".join(lines)


def main(
    argv: list[str] | None = None,
    session_factory: Callable[[str | None], Any] = _session,
    outputs_reader: Callable[[str, Path], Mapping[str, Any]] = read_outputs,
    root: Path = ROOT,
) -> int:
    try:
        args = parser().parse_args(argv)
        check_package(args.package, args.version)
        _, _, region = read_settings(args.stack, root)
    except UsageError as error:
        print(f"sbom: {error}\n{parser().format_usage().rstrip()}", file=sys.stderr)
        return EXIT_USAGE
    try:
        bucket = records_bucket(outputs_reader(args.stack, root), args.stack)
        session = session_factory(region)
        # The records bucket is the stack's own: S3 refuses the call if another account owns a bucket of that name.
        owner = session.client("sts").get_caller_identity()["Account"]
        found = search(session.client("s3"), bucket, owner, args.package, args.version, lambda line: print(f"sbom: {line}", file=sys.stderr))
    except Exception as error:  # botocore ClientError, credentials, network, the Pulumi CLI: report, do not trace
        print(f"sbom: {error}", file=sys.stderr)
        return EXIT_AWS_ERROR
    if args.json:
        print(json.dumps({"stack": args.stack, "package": args.package, "version": args.version, "matches": [asdict(m) for m in found]}, indent=2))
    else:
        print(render(found, args.package, args.version, args.stack))
    return EXIT_FOUND if found else EXIT_NOT_FOUND


if __name__ == "__main__":
    sys.exit(main())
