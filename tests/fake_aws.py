"""The stand-in AWS of the tests that run the product's bash steps: install it, give it images and parameters,
read what the steps did, and turn what they called into API requests (botocore's model) for the checks.

The command itself is tests/fake_aws_cli.py (its docstring says what it answers and how). Resources are
kept per (account, region), and a call lands where the real CLI would send it: an ECR registry id defaults
to the caller's account, `--region` to the step's region. Every request a test's stand-ins received is
checked after the test against botocore's model, strictly (`assert_logged_requests_valid`, run by an
autouse fixture in tests/conftest.py), in the test's own process: the stand-in starts without botocore.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from botocore import xform_name
from botocore.model import ListShape, Shape, StructureShape

from tests import aws_models
from tests.aws_models import validate

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(__file__).with_name("fake_aws_cli.py")
FRONT = Path(__file__).with_name("fake_aws_cli.sh")
ACCOUNT = "123456789012"
REGION = "us-east-1"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REQUESTS_FILE = "aws-requests.jsonl"
STATE_FILE = "aws.json"


def manifest(name: str, media_type: str = OCI_INDEX, with_media_type_field: bool = False) -> str:
    """An image index (BuildKit's shape with provenance attestations), distinct per `name`. Without the
    `mediaType` field by default: the case where put-image must be told the media type."""
    document: dict = {"schemaVersion": 2, "manifests": [], "annotations": {"example": name}}
    if with_media_type_field:
        document["mediaType"] = media_type
    return json.dumps(document, separators=(",", ":"))


def digest_of(manifest_text: str) -> str:
    return "sha256:" + hashlib.sha256(manifest_text.encode()).hexdigest()


def image(tags: list[str], name: str | None = None, media_type: str = OCI_INDEX) -> dict:
    """A stored image; its digest is its manifest's."""
    text = manifest(name or tags[0], media_type)
    return {"imageDigest": digest_of(text), "imageTags": list(tags), "imageManifest": text, "imageManifestMediaType": media_type}


@dataclass(frozen=True)
class Call:
    """One call a step made, as the API receives it."""

    account: str
    """The caller's account (the credentials')."""
    region: str
    service: str
    """The botocore service name (ecr, ssm, cloudwatch, eks)."""
    operation: str
    """The API operation (DescribeImages, ...)."""
    params: dict[str, Any] = field(default_factory=dict)


# The states installed by the running test, whose logged requests are checked after it.
_INSTALLED: list[Path] = []


class FakeAws:
    """A stand-in AWS under `root`: `bin` (the `aws` command) and `state`. The caller is `account` in `region`."""

    def __init__(self, root: Path, account: str = ACCOUNT, region: str = REGION):
        self.bin = root / "bin"
        self.state = root / "state"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(parents=True, exist_ok=True)
        self.account, self.region = account, region
        (self.bin / "aws").write_text(FRONT.read_text())
        program = self.bin / "aws-ecr"
        # -S: no site-packages (the program needs none); the module's bytecode is cached after its first import.
        program.write_text(f"#!{sys.executable} -S\nimport sys\nsys.path.insert(0, {str(CLI.parent)!r})\nimport fake_aws_cli\nfake_aws_cli.main()\n")
        for command in (self.bin / "aws", program):
            command.chmod(0o755)
        _INSTALLED.append(self.state)

    def env(self, **extra: str) -> dict[str, str]:
        """What a step's process needs to reach the stand-in as this caller (prepend `bin` to PATH yourself)."""
        return {"STATE": str(self.state), "STANDIN_ACCOUNT": self.account, "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region, **extra}

    # -- state -----------------------------------------------------------------------------------

    def _load(self) -> dict:
        path = self.state / STATE_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    def _save(self, data: dict) -> None:
        # Replaced whole, as the stand-in `aws` saves it (tests/fake_aws_cli.py State).
        partial = self.state / f"{STATE_FILE}.{os.getpid()}.partial"
        partial.write_text(json.dumps(data, indent=1, sort_keys=True))
        partial.replace(self.state / STATE_FILE)

    def repository(self, name: str, images: Iterable[dict] = (), *, account: str | None = None, region: str | None = None) -> None:
        """Create repository `name` (in the caller's account and region unless given) holding `images`."""
        data = self._load()
        data.setdefault("ecr", {})[f"{account or self.account}/{region or self.region}/{name}"] = [dict(i, imageTags=list(i["imageTags"])) for i in images]
        self._save(data)

    def images(self, repository: str, *, account: str | None = None, region: str | None = None) -> list[dict]:
        return self._load()["ecr"][f"{account or self.account}/{region or self.region}/{repository}"]

    def tags_of(self, repository: str, digest: str, *, account: str | None = None) -> list[str]:
        [found] = [i for i in self.images(repository, account=account) if i["imageDigest"] == digest]
        return found["imageTags"]

    def _parameter_file(self, name: str, account: str | None, region: str | None) -> Path:
        return self.state / "ssm" / (account or self.account) / f"{region or self.region}{name}"

    def set_parameter(self, name: str, value: str, *, account: str | None = None, region: str | None = None) -> None:
        path = self._parameter_file(name, account, region)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")

    def parameter(self, name: str, *, account: str | None = None, region: str | None = None) -> str | None:
        path = self._parameter_file(name, account, region)
        return path.read_text().removesuffix("\n") if path.exists() else None

    def objects(self) -> dict[str, str]:
        """`<bucket>/<key>` -> the body of every object the steps put (`aws s3api put-object`)."""
        return dict(self._load().get("s3", {}))

    def metric_data(self) -> list[dict] | None:
        sent = self.state / "metric-data"
        return json.loads(sent.read_text()) if sent.exists() else None

    def calls(self) -> list[Call]:
        return logged_calls(self.state)

    def clear_calls(self) -> None:
        """Check the calls logged so far against botocore now, then start a new log."""
        log = self.state / REQUESTS_FILE
        errors = [f"{c.service} {c.operation} {c.params}: {e}" for c in logged_calls(self.state) for e in validate(c.service, c.operation, c.params)]
        assert not errors, "AWS would reject:\n" + "\n".join(errors)
        log.unlink(missing_ok=True)


def logged_calls(state: Path) -> list[Call]:
    log = state / REQUESTS_FILE
    lines = log.read_text().splitlines() if log.exists() else []
    return [to_call(json.loads(line)) for line in lines]


def assert_logged_requests_valid() -> None:
    """Every request the stand-ins of the test received is one AWS accepts (botocore's model, strictly)."""
    states = list(_INSTALLED)
    _INSTALLED.clear()
    errors = [f"{c.service} {c.operation} {c.params}: {e}" for state in states for c in logged_calls(state) for e in validate(c.service, c.operation, c.params)]
    assert not errors, "AWS would reject:\n" + "\n".join(errors)


# -- the CLI's arguments as an API request -------------------------------------------------------

# CLI commands that are not one API operation of the same name (aws-cli customizations) -> the operation
# they call, and how their options map onto its input.
CUSTOM = {
    ("ecr", "get-login-password"): ("GetAuthorizationToken", {}),
    ("eks", "update-kubeconfig"): ("DescribeCluster", {"--name": "name"}),
}
# CLI service names that are not botocore's.
SERVICE_MODELS = {"s3api": "s3"}
GLOBAL_WITH_VALUE = {"--region", "--output", "--query", "--profile", "--endpoint-url", "--color", "--cli-read-timeout", "--cli-connect-timeout"}
GLOBAL_FLAGS = {"--no-cli-pager", "--no-paginate", "--debug", "--no-verify-ssl", "--no-sign-request"}


@cache
def _model(service: str):
    return aws_models.session().get_service_model(service)


@cache
def _operations(service: str) -> dict[str, str]:
    return {xform_name(name, "-"): name for name in _model(service).operation_names}


def to_call(entry: dict) -> Call:
    """A logged stand-in call ({account, region, service, command, args}) as the API request it makes."""
    service, command, args = SERVICE_MODELS.get(entry["service"], entry["service"]), entry["command"], list(entry["args"])
    if (service, command) in CUSTOM:
        operation, options = CUSTOM[(service, command)]
        params = {}
        values = _options(args)
        for option, member in options.items():
            params[member] = values[option][0]
        return Call(entry["account"], entry["region"], service, operation, params)
    operation = _operations(service)[command]
    shape = _model(service).operation_model(operation).input_shape
    members = {xform_name(name, "-"): (name, member) for name, member in (shape.members.items() if shape else [])}
    params: dict[str, Any] = {}
    for option, values in _options(args).items():
        if option in GLOBAL_WITH_VALUE or option in GLOBAL_FLAGS:
            continue
        flag = option[2:]
        negated = flag.startswith("no-") and flag[3:] in members
        name, member = members[flag[3:] if negated else flag]
        params[name] = False if negated else _value(member, values)
    return Call(entry["account"], entry["region"], service, operation, params)


def _options(args: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    key = None
    for arg in args:
        if arg.startswith("--"):
            key = arg
            out[key] = []
        elif key is not None:
            out[key].append(arg)
    return out


def _value(shape: Shape, values: list[str]) -> Any:
    """The CLI's reading of an option's values for a member of `shape` (JSON or shorthand for structures)."""
    if shape.type_name == "boolean":
        return True if not values else values[0] == "true"
    if isinstance(shape, ListShape):
        if len(values) == 1 and values[0].lstrip().startswith("["):
            return json.loads(values[0])
        return [_scalar(shape.member, v) for v in values]
    [value] = values
    return _scalar(shape, value)


def _scalar(shape: Shape, value: str) -> Any:
    if isinstance(shape, StructureShape):
        if value.lstrip().startswith("{"):
            return json.loads(value)
        return dict(part.split("=", 1) for part in value.split(","))
    if shape.type_name in ("integer", "long"):
        return int(value)
    if shape.type_name in ("double", "float"):
        return float(value)
    return value
