"""The stand-in `aws` answers of the supply-chain gate's rescan (imported by tests/fake_aws_cli.py, which answers
`s3api get-object` and `put-object` from its state's `s3` section, `<bucket>/<key>` -> body; bucket names are global,
as in S3):

- `inspector-scan scan-sbom --sbom file://F --output-format CYCLONE_DX_1_5`: the SBOM must be CycloneDX 1.5
  (ValidationException otherwise, as the API documents); the answer is the SBOM with Amazon Inspector's
  severity counts as metadata properties (`amazon:inspector:sbom_scanner:<severity>_vulnerabilities`) and one
  vulnerability per finding. Findings: `$STATE/inspector-findings.json`, {purl: severity}, what today's
  vulnerability data says of each package (a test writes it; absent: no finding).

The logged arguments are what the API receives: a `file://` value is the file's content (the CLI reads it
before it builds the request), and get-object's positional OUTFILE is the CLI's, not the API's.
Standard library only (the stand-in starts without site-packages).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SEVERITIES = ("critical", "high", "medium", "low", "other")
PROPERTY = "amazon:inspector:sbom_scanner:{}_vulnerabilities"
SERVICES = ("s3api", "inspector-scan")
"""The services whose logged arguments `logged_args` rewrites; fake_aws_cli.py answers s3api itself."""


def fail(code: str, message: str, exit_code: int = 254) -> None:
    sys.stderr.write(f"An error occurred ({code}) when calling the operation: {message}\n")
    sys.exit(exit_code)


def logged_args(service: str, command: str, args: list[str]) -> list[str]:
    """The arguments as the API request carries them."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("file://"):
            out.append(Path(arg[len("file://") :]).read_text())
        elif (service, command) == ("s3api", "get-object") and not arg.startswith("--") and (i == 0 or not args[i - 1].startswith("--")):
            pass  # the positional outfile
        else:
            out.append(arg)
        i += 1
    return out


def answer(service: str, command: str, args: list[str], root: Path) -> object:
    opts: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        if args[i].startswith("--"):
            opts[args[i]] = args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else ""
            i += 2 if opts[args[i]] else 1
        else:
            positional.append(args[i])
            i += 1
    if (service, command) == ("inspector-scan", "scan-sbom"):
        return scan(opts, root)
    fail("InvalidAction", f"the stand-in does not answer {service} {command}")
    return None


def scan(opts: dict[str, str], root: Path) -> dict:
    source = opts["--sbom"]
    sbom = json.loads(Path(source[len("file://") :]).read_text())
    if sbom.get("bomFormat") != "CycloneDX" or sbom.get("specVersion") != "1.5":
        fail("ValidationException", "The SBOM must be in CycloneDX 1.5 format.", 254)
    if opts.get("--output-format", "CYCLONE_DX_1_5") != "CYCLONE_DX_1_5":
        fail("ParamValidation", "the stand-in answers scan-sbom in CYCLONE_DX_1_5 only", 252)
    known = root / "inspector-findings.json"
    findings = json.loads(known.read_text()) if known.exists() else {}
    counts = dict.fromkeys(SEVERITIES, 0)
    vulnerabilities = []
    for number, component in enumerate(sbom.get("components", [])):
        severity = findings.get(component.get("purl"))
        if severity:
            counts[severity] += 1
            vulnerabilities.append({"id": f"CVE-2026-{1000 + number}", "ratings": [{"severity": severity}], "affects": [{"ref": component.get("bom-ref", "")}]})
    properties = [{"name": PROPERTY.format(s), "value": str(counts[s])} for s in SEVERITIES]
    return {"sbom": {**sbom, "metadata": {**sbom.get("metadata", {}), "properties": properties}, "vulnerabilities": vulnerabilities}}


# -- for the tests: what an upstream's pipeline left in the stand-in ----------------------------------


def sbom(*purls: str) -> dict:
    """A CycloneDX 1.5 SBOM holding one component per package URL (what InspectorScan writes)."""
    components = [{"type": "library", "bom-ref": f"comp-{n}", "name": purl.split("/")[-1].split("@")[0], "purl": purl} for n, purl in enumerate(purls)]
    return {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": components}


def _state(state: Path) -> dict:
    path = state / "aws.json"
    return json.loads(path.read_text()) if path.exists() else {}


def put(state: Path, bucket: str, key: str, document: dict) -> None:
    """An object in the stand-in S3, as a pipeline step would have written it (tests/fake_aws_cli.py keeps objects)."""
    data = _state(state)
    data.setdefault("s3", {})[f"{bucket}/{key}"] = json.dumps(document)
    (state / "aws.json").write_text(json.dumps(data, indent=1, sort_keys=True))


def get(state: Path, bucket: str, key: str) -> dict | None:
    body = _state(state).get("s3", {}).get(f"{bucket}/{key}")
    return json.loads(body) if body is not None else None


def findings(state: Path, known: dict[str, str]) -> None:
    """What today's vulnerability data says: {package URL: severity}."""
    (state / "inspector-findings.json").write_text(json.dumps(known))
