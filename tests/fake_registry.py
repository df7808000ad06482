"""A stand-in for the AWS CLI's ECR calls (describe-images, batch-get-image, put-image) that the record and
deploy steps make, for tests that run their bash.

It keeps the repository's images in a JSON file, as ECR would: each image is a manifest (bytes), its media
type, its digest (sha256 of the manifest's bytes) and its tags. Every request is checked against botocore's
ECR model (tests/aws_models.py), and put-image behaves as the PutImage API documents it: it needs the media
type when the manifest has no `mediaType` field, refuses a digest that is not the manifest's, refuses a tag
that is already on an image, and adds the tag to the image with the same digest. The calling stub logs the
command line; this program only answers.

Each request is checked after the test, in the test's own process (`assert_logged_requests_valid`, run by an
autouse fixture in tests/conftest.py): the program logs it, so it starts without loading botocore, which
cost about a second of every test that runs a step's bash.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from tests.aws_models import validate

ROOT = Path(__file__).resolve().parent.parent
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REGISTRY_FILE = "registry.json"
REQUESTS_FILE = "ecr-requests.jsonl"

PROGRAM = r'''
import hashlib, json, os, sys
from pathlib import Path

OPERATIONS = {"describe-images": "DescribeImages", "batch-get-image": "BatchGetImage", "put-image": "PutImage"}
LISTS = {"acceptedMediaTypes"}


def fail(code, message, exit_code=254):
    sys.stderr.write(f"An error occurred ({code}) when calling the operation: {message}\n")
    sys.exit(exit_code)


def camel(option):
    head, *rest = option.split("-")
    return head + "".join(word.title() for word in rest)


def parse(argv):
    """`--repository-name x --accepted-media-types a b` -> ({repositoryName: x, acceptedMediaTypes: [a, b]}, cli options)."""
    params, cli, key = {}, {}, None
    for arg in argv:
        if arg.startswith("--"):
            key = camel(arg[2:])
            continue
        target = cli if key in ("query", "output") else params
        if key in LISTS:
            target.setdefault(key, []).append(arg)
        elif key == "imageIds":  # shorthand: imageDigest=sha256:... or imageTag=...
            name, _, value = arg.partition("=")
            target.setdefault(key, []).append({name: value})
        else:
            target[key] = arg
    return params, cli


def query(response, cli):
    expression = cli.get("query")
    if expression is None:
        return response
    value = response
    for part in expression.replace("[", ".[").split("."):
        if not part:
            continue
        value = value[int(part[1:-1])] if part.startswith("[") else value.get(part)
        if value is None:
            return None
    return value


def find(images, image_id):
    for image in images:
        if image_id.get("imageDigest") == image["imageDigest"] or image_id.get("imageTag") in image["imageTags"]:
            return image
    return None


def main():
    service, command, *rest = sys.argv[1:]
    operation = OPERATIONS[command]
    params, cli = parse(rest)
    with (Path(os.environ["STATE"]) / "ecr-requests.jsonl").open("a") as log:
        log.write(json.dumps({"operation": operation, "params": params}) + "\n")
    path = Path(os.environ["STATE"]) / "registry.json"
    images = json.loads(path.read_text())
    if command == "describe-images":
        [image_id] = params["imageIds"]
        image = find(images, image_id)
        if image is None:
            fail("ImageNotFoundException", f"The image with imageId {image_id} does not exist")
        response = {"imageDetails": [{"imageDigest": image["imageDigest"], "imageTags": image["imageTags"], "imageManifestMediaType": image["imageManifestMediaType"]}]}
    elif command == "batch-get-image":
        [image_id] = params["imageIds"]
        image = find(images, image_id)
        accepted = params.get("acceptedMediaTypes")
        if image is None or (accepted and image["imageManifestMediaType"] not in accepted):
            response = {"images": [], "failures": [{"imageId": image_id, "failureCode": "ImageNotFound" if image is None else "UnsupportedImageType"}]}
        else:
            found = {"imageId": {"imageDigest": image["imageDigest"]}, "imageManifest": image["imageManifest"], "imageManifestMediaType": image["imageManifestMediaType"]}
            response = {"images": [found]}
    else:
        manifest = params["imageManifest"]
        digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
        if "mediaType" not in json.loads(manifest) and "imageManifestMediaType" not in params:
            fail("InvalidParameterException", "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'", 255)
        if params.get("imageDigest", digest) != digest:
            fail("ImageDigestDoesNotMatchException", "The digest does not match the manifest", 255)
        tag = params.get("imageTag")
        if any(tag in image["imageTags"] for image in images):
            fail("ImageTagAlreadyExistsException", f"The image tag '{tag}' already exists", 255)
        image = find(images, {"imageDigest": digest})
        if image is None:
            image = {"imageDigest": digest, "imageTags": [], "imageManifest": manifest, "imageManifestMediaType": params.get("imageManifestMediaType")}
            images.append(image)
        image["imageTags"].append(tag)
        path.write_text(json.dumps(images))
        response = {"image": {"imageId": {"imageDigest": digest, "imageTag": tag}}}
    print(json.dumps(query(response, cli)))


main()
'''


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


# The states of the registries installed by the running test, whose logged requests are checked after it.
_INSTALLED: list[Path] = []


def install(bin_dir: Path, state: Path, images: list[dict]) -> Path:
    """Write the program and the registry's images; return the program."""
    program = bin_dir / "fake-ecr"
    program.write_text(f"#!{sys.executable}\n" + PROGRAM)
    program.chmod(0o755)
    (state / REGISTRY_FILE).write_text(json.dumps(images))
    _INSTALLED.append(state)
    return program


def logged_requests(state: Path) -> list[dict]:
    log = state / REQUESTS_FILE
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def assert_logged_requests_valid() -> None:
    """Every request the registries of the test received is one ECR accepts (botocore's model, strictly)."""
    states = list(_INSTALLED)
    _INSTALLED.clear()
    errors = [f"{r['operation']} {r['params']}: {e}" for state in states for r in logged_requests(state) for e in validate("ecr", r["operation"], r["params"])]
    assert not errors, "ECR would reject:\n" + "\n".join(errors)


def images_in(state: Path) -> list[dict]:
    return json.loads((state / REGISTRY_FILE).read_text())


def tags_of(state: Path, digest: str) -> list[str]:
    [found] = [i for i in images_in(state) if i["imageDigest"] == digest]
    return found["imageTags"]
