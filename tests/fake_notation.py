"""The stand-in `notation` command (the Notation CLI with the AWS Signer plugin) of the tests that run the product's
bash steps, and the signatures it keeps.

Installed next to the stand-in `aws` (tests/fake_aws.py) in the same state folder: it reads the stand-in registry
($STATE/aws.json, `ecr`), and keeps signatures in $STATE/notation.json under `<registry account>/<region>/<digest>`
(where ECR keeps a signature: in the signed image's repository), each naming the signing profile ARN. Answers, with
the real CLI's argument shapes (https://notaryproject.dev/docs/user-guides/cli-reference/):

- `notation version`, `notation plugin ls`;
- `notation cert add --type signingAuthority --store <store> <file>`: the file goes where the CLI keeps it
  ($HOME/.config/notation/truststore/x509/signingAuthority/<store>/);
- `notation policy import [--force] <file>`: the trust policy, checked for the fields the product writes;
- `notation sign --plugin com.amazonaws.signer.notation.plugin --id <profile ARN> <reference>`;
- `notation verify <reference>`: valid when a signature's profile is among the trusted identities of a trust policy
  whose trust store holds a certificate; the real CLI's messages otherwise (exit 1);
- `notation inspect --output json <reference>`: v1.3's JSON (`mediaType`, `Signatures`: each signature manifest's
  `digest`, its signed attributes with the AWS Signer plugin's profile version and job, the signed artifact).

A signature is also what ECR stores: an untagged OCI image manifest (artifactType application/vnd.cncf.notary.signature,
`subject` the image) in the image's repository in $STATE/aws.json, which the stand-in `aws` describes, gets and tags.

Registry credentials: NOTATION_USERNAME and NOTATION_PASSWORD must be set (the steps give an ECR token), else the
registry answers 401 as ECR would. The plugin's AWS calls (SignPayload, GetRevocationStatus) and the registry's
(BatchGetImage, PutImage of the signature) are appended to $STATE/aws-requests.jsonl as the stand-in `aws` logs its
own, so the tests check them against botocore and IAM with the step's role. REVOKED (environment): profile ARNs
whose signatures AWS Signer reports revoked.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sys
import uuid
from pathlib import Path

PLUGIN = "com.amazonaws.signer.notation.plugin"
STATE_FILE = "notation.json"

REFERENCE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repository>[a-z0-9._/-]+)(?::(?P<tag>[\w.-]+))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
PROFILE = re.compile(r"^arn:aws:signer:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):/signing-profiles/(?P<name>[0-9A-Za-z_]{2,64})$")


def fail(message, code=1):
    sys.stderr.write(f"Error: {message}\n")
    sys.exit(code)


def log(service, command, region, args):
    with (_state() / "aws-requests.jsonl").open("a") as out:
        out.write(json.dumps({"account": os.environ.get("STANDIN_ACCOUNT", "123456789012"), "region": region, "service": service, "command": command, "args": args}) + "\n")


def options(argv):
    opts, rest, i = {}, [], 0
    while i < len(argv):
        if argv[i] == "--force":
            opts["--force"] = True
            i += 1
        elif argv[i].startswith("-"):
            opts[argv[i]] = argv[i + 1]
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    return opts, rest


def locked():
    lock = (_state() / "aws.lock").open("a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def load(name):
    path = _state() / name
    return json.loads(path.read_text()) if path.exists() else {}


def save(name, data):
    partial = _state() / f"{name}.{os.getpid()}.partial"
    partial.write_text(json.dumps(data, indent=1, sort_keys=True))
    partial.replace(_state() / name)


def resolve(reference):
    """(registry key, digest, repository, registry account, region) of a reference in the stand-in registry."""
    found = REFERENCE.match(reference)
    if not found:
        fail(f'"{reference}": invalid reference: expected <registry>/<repository>@<digest>')
    if not (os.environ.get("NOTATION_USERNAME") and os.environ.get("NOTATION_PASSWORD")):
        fail(f"failed to resolve {reference}: GET https://{reference.split('/')[0]}/v2/: response status code 401: unauthorized: authentication required")
    account, region, repository = found["account"], found["region"], found["repository"]
    images = load("aws.json").get("ecr", {}).get(f"{account}/{region}/{repository}", [])
    wanted = found["digest"]
    image = next((i for i in images if (wanted and i["imageDigest"] == wanted) or (not wanted and found["tag"] in i["imageTags"])), None)
    log(
        "ecr",
        "batch-get-image",
        region,
        ["--registry-id", account, "--repository-name", repository, "--image-ids", f"imageDigest={wanted}" if wanted else f"imageTag={found['tag']}"],
    )
    if image is None:
        fail(f"failed to resolve {reference}: {reference}: not found")
    if not wanted:
        sys.stderr.write(f"Warning: Always sign the artifact using digest(@sha256:...) rather than a tag(:{found['tag']}) because tags are mutable\n")
    return f"{account}/{region}/{image['imageDigest']}", image["imageDigest"], repository, account, region


def sign(opts, reference):
    if opts.get("--plugin") != PLUGIN:
        fail(f"the stand-in signs with the AWS Signer plugin only, not {opts.get('--plugin')!r}")
    profile = PROFILE.match(opts.get("--id", ""))
    if not profile:
        fail(f"failed to sign with the plugin {PLUGIN}: invalid signing profile ARN {opts.get('--id')!r}")
    with locked():
        key, digest, repository, account, region = resolve(reference)
        payload = json.dumps({"targetArtifact": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest}})
        log(
            "signer",
            "sign-payload",
            profile["region"],
            ["--profile-name", profile["name"], "--profile-owner", profile["account"], "--payload", payload, "--payload-format", "application/vnd.cncf.notary.payload.v1+json"],
        )
        job = f"arn:aws:signer:{profile['region']}:{profile['account']}:/signing-jobs/{uuid.uuid4()}"
        manifest = signature_manifest(digest, job)
        signature = {"profile": opts["--id"], "profileVersionArn": f"{opts['--id']}/a1b2c3d4e5", "job": job, "digest": digest_of(manifest)}
        log(
            "ecr",
            "put-image",
            region,
            ["--registry-id", account, "--repository-name", repository, "--image-manifest", manifest, "--image-manifest-media-type", "application/vnd.oci.image.manifest.v1+json"],
        )
        data = load("notation.json")
        data.setdefault("signatures", {}).setdefault(key, []).append(signature)
        save("notation.json", data)
        registry = load("aws.json")
        store(registry, f"{account}/{region}/{repository}", manifest)
        save("aws.json", registry)
    print(f"Successfully signed {reference.split('@')[0]}@{digest}")


SIGNATURE_ARTIFACT = "application/vnd.cncf.notary.signature"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def signature_manifest(subject: str, job: str) -> str:
    """The signature's manifest as Notation pushes it (one per signature: the envelope blob differs per job)."""
    envelope = {"mediaType": "application/jose+json", "digest": "sha256:" + hashlib.sha256(job.encode()).hexdigest(), "size": 2048}
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SIGNATURE_ARTIFACT, "subject": {"digest": subject}, "layers": [envelope]}
    return json.dumps(document, separators=(",", ":"))


def digest_of(manifest: str) -> str:
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()


def store(registry: dict, repository_key: str, manifest: str) -> None:
    """Keep a signature manifest in the stand-in registry's repository as ECR does: an untagged image."""
    images = registry.setdefault("ecr", {}).setdefault(repository_key, [])
    images.append({"imageDigest": digest_of(manifest), "imageTags": [], "imageManifest": manifest, "imageManifestMediaType": OCI_MANIFEST, "artifactMediaType": SIGNATURE_ARTIFACT})


def inspect(opts, reference):
    """`notation inspect --output json`: every signature of the artifact, parsed (nothing is verified)."""
    if opts.get("--output", opts.get("-o")) != "json":
        fail("the stand-in answers `notation inspect --output json` only")
    with locked():
        key, digest, repository, account, region = resolve(reference)
        signatures = load("notation.json").get("signatures", {}).get(key, [])
    listed = []
    for signature in signatures:
        envelope = "sha256:" + hashlib.sha256(signature["job"].encode()).hexdigest()
        log("ecr", "get-download-url-for-layer", region, ["--registry-id", account, "--repository-name", repository, "--layer-digest", envelope])
        attributes = {
            "signingScheme": "notary.x509.signingAuthority",
            "signingTime": "2026-12-07T23:00:00Z",
            "com.amazonaws.signer.signingProfileVersion": signature["profileVersionArn"],
            "com.amazonaws.signer.signingJob": signature["job"],
        }
        listed.append(
            {
                "mediaType": "application/jose+json",
                "digest": signature["digest"],
                "signatureAlgorithm": "ECDSA-SHA-384",
                "signedAttributes": attributes,
                "userDefinedAttributes": None,
                "unsignedAttributes": {"signingAgent": "notation-go/1.3.2 aws-signer-notation-plugin/1.0.2292"},
                "certificates": [],
                "signedArtifact": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": 512},
            }
        )
    # v1.3's inspectOutput: `Signatures` has no json tag, so the key is the Go field's name.
    print(json.dumps({"mediaType": "application/vnd.oci.image.index.v1+json", "Signatures": listed}, indent=2))


def policy():
    for name in ("trustpolicy.oci.json", "trustpolicy.json"):
        if (_config() / name).exists():
            return json.loads((_config() / name).read_text())
    fail("trust policy is not present. To create a trust policy, see: https://notaryproject.dev/docs/quickstart/#create-a-trust-policy")


def verify(reference):
    policies = [p for p in policy()["trustPolicies"] if "*" in p["registryScopes"] or reference.split("@")[0] in p["registryScopes"]]
    if not policies:
        fail(f"artifact {reference!r} has no applicable trust policy in the trust policy configuration")
    [trust] = policies
    for store in trust["trustStores"]:
        kind, _, name = store.partition(":")
        folder = _config() / "truststore" / "x509" / kind / name
        if not folder.is_dir() or not any(folder.iterdir()):
            fail(f'signature verification failed: failed to get trust store: the trust store "{name}" of type "{kind}" does not exist')
    with locked():
        key, digest, repository, account, region = resolve(reference)
        signatures = load("notation.json").get("signatures", {}).get(key, [])
    if not signatures:
        fail(f'signature verification failed: no signature is associated with "{reference}", make sure the artifact was signed successfully')
    revoked = set(os.environ.get("REVOKED", "").split())
    for signature in signatures:
        log(
            "ecr",
            "get-download-url-for-layer",
            region,
            ["--registry-id", account, "--repository-name", repository, "--layer-digest", "sha256:" + hashlib.sha256(signature["job"].encode()).hexdigest()],
        )
        if signature["profile"] not in trust["trustedIdentities"]:
            continue
        profile = PROFILE.match(signature["profile"])
        log(
            "signer",
            "get-revocation-status",
            profile["region"],
            [
                "--signature-timestamp",
                "2026-01-01T00:00:00Z",
                "--platform-id",
                "Notation-OCI-SHA384-ECDSA",
                "--profile-version-arn",
                signature["profileVersionArn"],
                "--job-arn",
                signature["job"],
                "--certificate-hashes",
                "0" * 64,
            ],
        )
        if signature["profile"] in revoked:
            fail(f"signature verification failed for all the signatures associated with {reference}: Resource(s) {signature['profileVersionArn']} have been revoked.")
        print(f"Successfully verified signature for {reference.split('@')[0]}@{digest}")
        return
    fail(f"signature verification failed for all the signatures associated with {reference}: Signature publisher doesn't match any trusted identities.")


def main():
    argv = sys.argv[1:]
    if os.environ.get("CALLS"):
        with open(os.environ["CALLS"], "a") as calls:
            calls.write("notation " + " ".join(argv) + "\n")
    command, opts_rest = argv[0], argv[1:]
    if command == "version":
        print("Notation - a tool to sign and verify artifacts.\n\nVersion:     1.3.2\nGo version:  go1.23.4\nGit commit:  stand-in")
    elif command == "plugin" and opts_rest[:1] in (["ls"], ["list"]):
        print(
            "NAME                                   DESCRIPTION                      VERSION   CAPABILITIES\n"
            f"{PLUGIN}   AWS Signer plugin for Notation   1.0.2292  [SIGNATURE_GENERATOR.ENVELOPE SIGNATURE_VERIFIER.TRUSTED_IDENTITY]"
        )
    elif command == "cert" and opts_rest[:1] == ["add"]:
        opts, files = options(opts_rest[1:])
        folder = _config() / "truststore" / "x509" / opts["--type"] / opts["--store"]
        folder.mkdir(parents=True, exist_ok=True)
        for file in files:
            (folder / Path(file).name).write_bytes(Path(file).read_bytes())
    elif command == "policy" and opts_rest[:1] == ["import"]:
        opts, [file] = options(opts_rest[1:])
        document = json.loads(Path(file).read_text())
        for trust in document["trustPolicies"]:
            assert set(trust) >= {"name", "registryScopes", "signatureVerification", "trustStores", "trustedIdentities"}, trust
            assert all(PROFILE.match(i) for i in trust["trustedIdentities"]), trust["trustedIdentities"]
        _config().mkdir(parents=True, exist_ok=True)
        target = _config() / "trustpolicy.oci.json"
        if target.exists() and not opts.get("--force"):
            fail("the trust policy file already exists; use --force to overwrite it")
        target.write_text(json.dumps(document))
        print("Trust policy configuration imported successfully.")
    elif command == "sign":
        opts, [reference] = options(opts_rest)
        sign(opts, reference)
    elif command == "verify":
        opts, [reference] = options(opts_rest)
        verify(reference)
    elif command == "inspect":
        opts, [reference] = options(opts_rest)
        inspect(opts, reference)
    else:
        fail(f"the stand-in does not answer notation {' '.join(argv)}")


def _state() -> Path:
    return Path(os.environ["STATE"])


def _config() -> Path:
    return Path(os.environ["HOME"]) / ".config" / "notation"


def install(bin_dir: Path) -> Path:
    """Put the stand-in `notation` into `bin_dir` (next to the stand-in `aws`); returns its path."""
    program = bin_dir / "notation"
    # -S: no site-packages (the program needs none), as the stand-in `aws` starts.
    program.write_text(f"#!{sys.executable} -S\nimport sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\nimport fake_notation\nfake_notation.main()\n")
    program.chmod(0o755)
    return program


def signatures(state: Path) -> dict[str, list[dict]]:
    """`<registry account>/<region>/<digest>` -> the signatures the stand-in registry holds for it."""
    path = state / STATE_FILE
    return json.loads(path.read_text()).get("signatures", {}) if path.exists() else {}


def sign_as(state: Path, *, account: str, region: str, digest: str, profile_arn: str) -> None:
    """A signature by `profile_arn` on a digest already in the stand-in registry (an image signed elsewhere), stored
    untagged next to the image, as `notation sign` leaves it."""
    path = state / STATE_FILE
    data = json.loads(path.read_text()) if path.exists() else {}
    head = profile_arn.split(":/signing-profiles/")[0]
    job = f"{head}:/signing-jobs/0f0e0d0c-0b0a-0908-0706-{sum(map(len, data.get('signatures', {}).values())):012d}"
    manifest = signature_manifest(digest, job)
    signature = {"profile": profile_arn, "profileVersionArn": f"{profile_arn}/a1b2c3d4e5", "job": job, "digest": digest_of(manifest)}
    data.setdefault("signatures", {}).setdefault(f"{account}/{region}/{digest}", []).append(signature)
    path.write_text(json.dumps(data, indent=1, sort_keys=True))
    registry_path = state / "aws.json"
    registry = json.loads(registry_path.read_text()) if registry_path.exists() else {}
    for repository_key, images in registry.get("ecr", {}).items():
        if repository_key.startswith(f"{account}/{region}/") and any(i["imageDigest"] == digest for i in images):
            store(registry, repository_key, manifest)
            registry_path.write_text(json.dumps(registry, indent=1, sort_keys=True))
            return
