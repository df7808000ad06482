"""The stand-in `aws` command of the tests (installed by tests/fake_aws.py): the AWS CLI calls the product's bash
steps make, answered from state files the way the services would, in the caller's account and region. This
program answers ECR (and the docker stand-in's push) and S3's put-object (`aws s3api`, logged as botocore's `s3`:
the object's body is kept in the state); tests/fake_aws_cli.sh, the command itself, answers SSM,
CloudWatch and EKS in bash and passes ECR here.

Who calls: STANDIN_ACCOUNT (the account of the credentials the step runs with; CodeBuild gives a step
its role's) and the region of `--region`, else AWS_REGION, else AWS_DEFAULT_REGION (CodeBuild sets both).
Every resource lives in one (account, region): an ECR registry is `registryId` (default: the caller's
account, as the ECR API documents it) in the request's region; an SSM parameter and a CloudWatch alarm
are the caller's. So a step that forgets `--registry-id` looks in its own account's registry, as the
real CLI does, and finds nothing there.

Each call appends one JSON line to $STATE/aws-requests.jsonl: {account, region, service, command, args}
(args as typed, without the CLI's global options); the test process turns it into the API request and
checks it against botocore's model and IAM (tests/fake_aws.py). With CALLS set, `aws <args>` is also
appended there, for tests that read the command lines.

Behaviour switches (environment, answered by fake_aws_cli.sh): FIRING_AT_START, FIRING_LATER (alarm names in
ALARM at the first describe-alarms and at every later one; unset FIRING_LATER: as at the start), METRICS_FAIL
(put-metric-data is throttled), SSM_FAILS (put-parameter is refused), CLUSTER_VERSION_REPORTED (what
describe-cluster says of the cluster's version; unset: 1.35).

Standard library only, started without site-packages (`python -S`): each call starts in a few milliseconds. `--query`
takes the JMESPath subset the steps use: dotted names, `[n]` and the `[]` projection (anything else is refused).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sys
from pathlib import Path

import fake_supply_cli

GLOBAL_WITH_VALUE = {"--region", "--output", "--query", "--profile", "--endpoint-url", "--color", "--cli-read-timeout", "--cli-connect-timeout"}
GLOBAL_FLAGS = {"--no-cli-pager", "--no-paginate", "--debug", "--no-verify-ssl", "--no-sign-request"}
LISTS = {"--accepted-media-types", "--alarm-names", "--image-ids"}


def fail(code: str, message: str, exit_code: int = 254) -> None:
    sys.stderr.write(f"An error occurred ({code}) when calling the operation: {message}\n")
    sys.exit(exit_code)


def split(argv: list[str]) -> tuple[dict[str, str], dict[str, object]]:
    """(global options, command options) of `aws <service> <command> ...`; an option without a value is True."""
    glob: dict[str, str] = {}
    opts: dict[str, object] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in GLOBAL_FLAGS:
            i += 1
            continue
        values = []
        j = i + 1
        while j < len(argv) and not argv[j].startswith("--"):
            values.append(argv[j])
            j += 1
        if arg in GLOBAL_WITH_VALUE:
            glob[arg] = values[0]
        elif arg in LISTS:
            opts[arg] = values
        else:
            opts[arg] = values[0] if values else True
        i = j
    return glob, opts


class State:
    """The stand-in's state for one command. A step may run commands concurrently (`&`), so each holds the
    state's lock from reading to exit, and a save replaces the file whole (a reader never sees half of it)."""

    def __init__(self, root: Path):
        self.path = root / "aws.json"
        self._lock = (root / "aws.lock").open("a")
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # released when the process exits
        self.data = json.loads(self.path.read_text()) if self.path.exists() else {}

    def section(self, name: str) -> dict:
        return self.data.setdefault(name, {})

    def save(self) -> None:
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        partial.replace(self.path)


def image_id(spec: str) -> dict[str, str]:
    name, _, value = spec.partition("=")
    return {name: value}


def find(images: list[dict], wanted: dict[str, str]) -> dict | None:
    for image in images:
        if wanted.get("imageDigest") == image["imageDigest"] or wanted.get("imageTag") in image["imageTags"]:
            return image
    return None


def ecr(command: str, opts: dict, state: State, account: str, region: str) -> object:
    if command == "get-login-password":
        return "stand-in-token"
    registry = str(opts.get("--registry-id") or account)
    key = f"{registry}/{region}/{opts.get('--repository-name')}"
    repositories = state.section("ecr")
    if key not in repositories:
        fail("RepositoryNotFoundException", f"The repository with name '{opts.get('--repository-name')}' does not exist in the registry with id '{registry}'")
    images = repositories[key]
    if command == "describe-images":
        [wanted] = [image_id(s) for s in opts["--image-ids"]]  # type: ignore[union-attr]
        image = find(images, wanted)
        if image is None:
            fail("ImageNotFoundException", f"The image with imageId {wanted} does not exist within the repository in the registry with id '{registry}'")
        assert image is not None
        detail = {k: image[k] for k in ("imageDigest", "imageTags", "imageManifestMediaType")}
        return {"imageDetails": [{"registryId": registry, "repositoryName": opts["--repository-name"], **detail}]}
    if command == "batch-get-image":
        [wanted] = [image_id(s) for s in opts["--image-ids"]]  # type: ignore[union-attr]
        image = find(images, wanted)
        accepted = opts.get("--accepted-media-types") or DEFAULT_ACCEPTED
        if image is None:
            return {"images": [], "failures": [{"imageId": wanted, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"}]}
        if image["imageManifestMediaType"] not in accepted:
            return {"images": [], "failures": [{"imageId": wanted, "failureCode": "UnsupportedImageType", "failureReason": "Image manifest media type not accepted"}]}
        found = {"registryId": registry, "imageId": {"imageDigest": image["imageDigest"]}}
        found.update(imageManifest=image["imageManifest"], imageManifestMediaType=image["imageManifestMediaType"])
        return {"images": [found], "failures": []}
    if command == "put-image":
        manifest = str(opts["--image-manifest"])
        digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
        if "mediaType" not in json.loads(manifest) and "--image-manifest-media-type" not in opts:
            fail("InvalidParameterException", "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'", 255)
        if opts.get("--image-digest", digest) != digest:
            fail("ImageDigestDoesNotMatchException", "The digest does not match the manifest", 255)
        tag = str(opts["--image-tag"])
        if any(tag in image["imageTags"] for image in images):
            fail("ImageTagAlreadyExistsException", f"The image tag '{tag}' already exists", 255)
        image = find(images, {"imageDigest": digest})
        if image is None:
            image = {"imageDigest": digest, "imageTags": [], "imageManifest": manifest, "imageManifestMediaType": opts.get("--image-manifest-media-type")}
            images.append(image)
        image["imageTags"].append(tag)
        state.save()
        return {"image": {"registryId": registry, "repositoryName": opts["--repository-name"], "imageId": {"imageDigest": digest, "imageTag": tag}}}
    fail("InvalidAction", f"the stand-in does not answer ecr {command}")
    return None


def s3api(command: str, opts: dict, state: State, args: list[str]) -> object:
    """put-object: the object is kept as `s3` -> `<bucket>/<key>` (its body's text) in the state; get-object writes it
    to the outfile (the command's last, positional argument), NoSuchKey when there is none."""
    if command == "get-object":
        body = state.section("s3").get(f"{opts['--bucket']}/{opts['--key']}")
        if body is None:
            fail("NoSuchKey", "The specified key does not exist.")
        Path(args[-1]).write_text(str(body))
        return {"ContentLength": len(str(body).encode()), "ContentType": "application/json"}
    if command == "put-object":
        body = Path(str(opts["--body"])).read_text()
        state.section("s3")[f"{opts['--bucket']}/{opts['--key']}"] = body
        state.save()
        return {"ETag": '"' + hashlib.md5(body.encode()).hexdigest() + '"', "VersionId": "v1"}  # noqa: S324 - S3's ETag is an MD5
    fail("InvalidAction", f"the stand-in does not answer s3api {command}")
    return None


# BatchGetImage without acceptedMediaTypes: ECR's documented default (tests/fake_aws.py keeps it equal).
DEFAULT_ACCEPTED = ("application/vnd.docker.distribution.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json")


_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d*)\]|\.")


def query(expression: str, value: object) -> object:
    """A JMESPath subset: `a.b`, `a[0]`, `a[].b` (a projection over a list)."""
    if not expression:
        return value
    match = _STEP.match(expression)
    if match is None or not match.group(0):
        fail("ParamValidation", f"the stand-in does not take the query {expression!r}", 252)
    assert match is not None
    rest = expression[match.end() :]
    if match.group(0) == ".":
        return query(rest, value)
    if match.group(1):
        return query(rest, value.get(match.group(1)) if isinstance(value, dict) else None)
    if match.group(2) == "":
        return [query(rest, item) for item in value] if isinstance(value, list) else None
    items = value if isinstance(value, list) else []
    index = int(match.group(2))
    return query(rest, items[index]) if index < len(items) else None


def render(value: object, glob: dict[str, str]) -> str:
    if "--query" in glob:
        value = query(glob["--query"], value)
    if glob.get("--output") == "text":
        if value is None:
            return "None"
        if isinstance(value, list):
            return "\t".join("None" if v is None else str(v) for v in value)
        return str(value)
    return json.dumps(value, indent=4)


def push(reference: str, root: Path) -> None:
    """`docker push <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>` (the docker stand-in's): the
    registry stores the image under its tag (an image index, as BuildKit pushes it), unless the tag is taken."""
    host, _, rest = reference.partition("/")
    repository, _, tag = rest.rpartition(":")
    account, _, _, region = host.split(".")[:4]
    state = State(root)
    images = state.section("ecr").setdefault(f"{account}/{region}/{repository}", [])
    if any(tag in image["imageTags"] for image in images):
        fail("ImageTagAlreadyExistsException", f"tag invalid: The image tag '{tag}' already exists", 1)
    manifest = json.dumps({"schemaVersion": 2, "manifests": [], "annotations": {"example": tag}}, separators=(",", ":"))
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    images.append({"imageDigest": digest, "imageTags": [tag], "imageManifest": manifest, "imageManifestMediaType": "application/vnd.oci.image.index.v1+json"})
    state.save()


def main() -> None:
    if sys.argv[1] == "stand-in-push":
        push(sys.argv[2], Path(os.environ["STATE"]))
        return
    service, command, *rest = sys.argv[1:]
    glob, opts = split(rest)
    root = Path(os.environ["STATE"])
    account = os.environ.get("STANDIN_ACCOUNT", "123456789012")
    region = glob.get("--region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    if os.environ.get("CALLS"):
        with open(os.environ["CALLS"], "a") as calls:
            calls.write("aws " + " ".join(sys.argv[1:]) + "\n")
    logged = fake_supply_cli.logged_args(service, command, rest) if service in fake_supply_cli.SERVICES else rest
    with (root / "aws-requests.jsonl").open("a") as log:
        # `aws s3api` is the CLI's name of the S3 API (botocore's `s3`).
        name = "s3" if service == "s3api" else service
        log.write(json.dumps({"account": account, "region": region, "service": name, "command": command, "args": logged}) + "\n")
    state = State(root)
    if service == "ecr":
        answer = ecr(command, opts, state, account, region)
    elif service == "s3api":
        answer = s3api(command, opts, state, rest)
    elif service in fake_supply_cli.SERVICES:
        answer = fake_supply_cli.answer(service, command, [a for a in rest if a not in GLOBAL_FLAGS], root)
    else:
        fail("InvalidAction", f"the stand-in does not answer {service} {command}")
        return
    if answer is not None:
        print(render(answer, glob))


if __name__ == "__main__":
    main()
