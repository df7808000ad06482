"""The Notation CLI and the AWS Signer plugin in a CodeBuild step: how they are installed (pinned, integrity-checked),
and the bash that signs an image digest and verifies its signature against trusted signing profiles.

Installed at run time, never trusted on download alone:
- the Notation CLI: a pinned release from the Notary Project's GitHub releases, checked against its SHA-256
  (the release's notation_<version>_checksums.txt)
  https://github.com/notaryproject/notation/releases/tag/v1.3.2;
- the AWS Signer plugin: AWS publishes it only under a `latest` path, with a detached GPG signature of the
  plugin binary; the binary is installed only when that signature is good and made by the key whose fingerprint
  AWS Signer's guide publishes (the key is downloaded, its fingerprint is pinned here)
  https://docs.aws.amazon.com/signer/latest/developerguide/image-signing-prerequisites.html;
- AWS Signer's Notation root certificate (the trust store `signingAuthority:aws-signer-ts`): pinned SHA-256.

Every command here is one bash command string of a buildspec phase, reading the image from an environment
variable, so the same text runs in the build, in VerifyImage and in the deploy steps.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from components.delivery.registry import SIGNATURE_TAG_PREFIX
from components.settings import CpuArchitecture

NOTATION_VERSION = "1.3.2"
"""The Notation CLI release every step installs."""
NOTATION_SHA256 = {
    CpuArchitecture.X86_64: "e1a0f060308086bf8020b2d31defb7c5348f133ca0dba6a1a7820ef3cbb6dfe5",
    CpuArchitecture.ARM64: "34143c7b816a50104824278080a5cf12bbf855488e003f62e6acf27ed25c423c",
}
"""SHA-256 of notation_<NOTATION_VERSION>_linux_<arch>.tar.gz, as the release's checksums file lists it."""
SIGNER_PLUGIN_VERSION = "1.0.2292"
"""The AWS Signer plugin version this product was written against (aws/aws-signer-notation-plugin v1.0.2292). AWS
serves only the latest build, so the step installs whatever AWS signed last and logs its version; the plugin's
integrity rests on AWS's signature (SIGNER_KEY_FINGERPRINT), not on this number."""
SIGNER_KEY_FINGERPRINT = "E84AF8A2A9B52F1F4435AE71A3B52DA65461CF90"
"""The "AWS Signer Notation" OpenPGP key (rsa3072, 2023-04-24), as AWS Signer's guide prints its fingerprint."""
SIGNER_ROOT_SHA256 = "0ccf529561f610b9eb7f9b0ee02fffe2f74f7ffdf0ac56348ca224e879461c9b"
"""SHA-256 of the AWS Signer Notation root certificate file (aws-signer-notation-root.cert)."""
PLUGIN = "com.amazonaws.signer.notation.plugin"
"""The plugin's name, as `notation sign --plugin` takes it."""
TRUST_STORE = "aws-signer-ts"
"""The signingAuthority trust store the root certificate goes into (AWS Signer's guide names it so)."""
_CDN = "https://d2hvyiie56hcat.cloudfront.net"
_ARCH = {CpuArchitecture.X86_64: "amd64", CpuArchitecture.ARM64: "arm64"}
SIGNATURE_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
"""The manifest media type of a Notation signature in ECR: an OCI image manifest with artifactType
application/vnd.cncf.notary.signature and the signed image as its `subject`."""
PROFILE_VERSION_ATTRIBUTE = "com.amazonaws.signer.signingProfileVersion"
"""The signed attribute in which the AWS Signer plugin names the profile version that signed (`<profile ARN>/<version>`;
https://github.com/aws/aws-signer-notation-plugin/blob/main/internal/verifier/verifier.go)."""
REFUSING = "Refusing"
"""The first word of the one line a step prints when it refuses an image: `Refusing <image>: <reason>`."""


def install_commands(architecture: CpuArchitecture) -> list[str]:
    """The buildspec commands that install Notation, the AWS Signer plugin and the trust store, each download checked
    before anything of it runs; a failed check ends the step (nothing is signed or verified)."""
    arch = _ARCH[architecture]
    archive = f"notation_{NOTATION_VERSION}_linux_{arch}.tar.gz"
    notation_url = f"https://github.com/notaryproject/notation/releases/download/v{NOTATION_VERSION}/{archive}"
    plugin_dir = f'"$HOME/.config/notation/plugins/{PLUGIN}"'
    script = f"""set -euo pipefail
tools="$(mktemp -d)"
curl -fsSL --retry 2 --max-time 60 -o "$tools/{archive}" {notation_url}
echo "{NOTATION_SHA256[architecture]}  $tools/{archive}" | sha256sum -c --quiet -
tar -xzf "$tools/{archive}" -C "$tools" notation && install -m 0755 "$tools/notation" /usr/local/bin/notation
curl -fsSL --retry 2 --max-time 60 -o "$tools/plugin.zip" {_CDN}/linux/{arch}/plugin/latest/notation-aws-signer-plugin.zip
curl -fsSL --retry 2 --max-time 60 -o "$tools/plugin.sig" {_CDN}/linux/{arch}/plugin/latest/notation-{PLUGIN}.sig
curl -fsSL --retry 2 --max-time 60 -o "$tools/public.key" {_CDN}/linux/public.key
export GNUPGHOME="$tools/gnupg" && mkdir -m 0700 "$GNUPGHOME"
gpg --batch --quiet --import "$tools/public.key"
unzip -q -o "$tools/plugin.zip" notation-{PLUGIN} -d "$tools"
gpg --batch --status-fd 1 --verify "$tools/plugin.sig" "$tools/notation-{PLUGIN}" 2>/dev/null | grep -q "^\\[GNUPG:\\] VALIDSIG {SIGNER_KEY_FINGERPRINT} " \\
  || {{ echo "The AWS Signer plugin's signature is not AWS's (key {SIGNER_KEY_FINGERPRINT}); not installing it" >&2; exit 1; }}
mkdir -p {plugin_dir} && install -m 0755 "$tools/notation-{PLUGIN}" {plugin_dir}/
curl -fsSL --retry 2 --max-time 60 -o "$tools/aws-signer-notation-root.cert" {_CDN}/aws-signer-notation-root.cert
echo "{SIGNER_ROOT_SHA256}  $tools/aws-signer-notation-root.cert" | sha256sum -c --quiet -
notation cert add --type signingAuthority --store {TRUST_STORE} "$tools/aws-signer-notation-root.cert" >/dev/null
notation version && notation plugin ls"""
    return [_subshell(script)]


def _subshell(script: str) -> str:
    """One buildspec command: `set -e` and the helper variables stay inside it (CodeBuild runs a phase's commands
    in one shell, and a later command must not inherit `set -e`)."""
    return f"(\n{script}\n)"


def registry_login_commands(image_var: str = "IMAGE_URI") -> list[str]:
    """Notation's registry credentials for the image's registry: an ECR token in NOTATION_USERNAME/NOTATION_PASSWORD
    (what `notation sign` and `notation verify` read when no credential store is set), never written to disk."""
    return [
        f'export NOTATION_USERNAME=AWS NOTATION_PASSWORD="$(aws ecr get-login-password --region "$(echo "${image_var}" | cut -d. -f4)")"',
    ]


def sign_commands(profile_arn: str, image_var: str = "IMAGE_URI") -> list[str]:
    """Sign the digest reference in `$image_var` with the signing profile (AWS Signer signs through the plugin:
    signer:SignPayload on the profile, as the step's role)."""
    return [
        *registry_login_commands(image_var),
        f'notation sign --plugin {PLUGIN} --id {shlex.quote(profile_arn)} "${image_var}"',
    ]


def sign_built_commands(profile_arn: str, image_var: str = "IMAGE_URI") -> list[str]:
    """The build's signature of the digest it pushed. A re-run or a revert finds the image already in the registry
    (IMAGE_EXISTS=true): when a valid signature by the profile is there it is kept (no second signature); when the
    digest has none by the profile (built before signing was on) it is signed now; when its signature by the profile
    is no longer valid (revoked, expired) the build refuses: re-signing would undo a revocation."""
    arn = shlex.quote(profile_arn)
    return [
        *registry_login_commands(image_var),
        *_import_trust_policy([profile_arn]),
        f'signed=""; if [ "$IMAGE_EXISTS" = "true" ]; then signed="$(notation verify "${image_var}" 2>&1)" && signed=valid; fi; '
        f'case "$signed" in valid) echo "${image_var} is already signed by {profile_arn}; not signing it again" ;; '
        f'""|*"no signature is associated"*|*"match any trusted identities"*) notation sign --plugin {PLUGIN} --id {arn} "${image_var}" ;; '
        f'*) echo "$signed" >&2; echo "{REFUSING} ${image_var}: its signature by {profile_arn} is no longer valid ($(echo "$signed" | tail -n 1)); '
        'a revoked or expired signature is not renewed: build a new commit"; exit 1 ;; esac',
        *keep_signature_commands(profile_arn, image_var),
    ]


def keep_signature_commands(profile_arn: str, image_var: str = "IMAGE_URI", tag_var: str = "IMAGE_TAG") -> list[str]:
    """Tag each signature by the profile on the digest in `$image_var` `sig-<$tag_var>-<12 hex of its digest>` (unique:
    the repository's tags are immutable), so the registry keeps it as long as the image (components/delivery/
    registry.py). A signature already carrying such a tag is left as it is. The signature's manifest goes back exactly
    as batch-get-image returned it, with its media type and digest: ECR refuses rather than stores different bytes.
    No signature by the profile, or a failed tag, fails the build: an untagged signature expires with the untagged
    images, and every later verification of the image would refuse it."""
    ecr = '--registry-id "${image%%.*}" --repository-name "$repository"'
    # `notation inspect --output json` (1.3) lists the signatures under `Signatures`: the Go field has no json tag
    # (https://github.com/notaryproject/notation/blob/v1.3.2/cmd/notation/inspect.go); each has the signature
    # manifest's `digest` and the signed attributes, among them the plugin's profile version.
    own = f'.Signatures[]? | select((.signedAttributes["{PROFILE_VERSION_ATTRIBUTE}"] // "") | startswith($profile)) | .digest'
    script = f"""set -euo pipefail
image="${image_var}"; repository="${{image#*/}}"; repository="${{repository%@*}}"
signatures="$(notation inspect --output json "$image" | jq -r --arg profile {shlex.quote(profile_arn + "/")} {shlex.quote(own)})"
[ -n "$signatures" ] || {{ echo "No signature by {profile_arn} on $image to keep" >&2; exit 1; }}
for signature in $signatures; do
  tag="{SIGNATURE_TAG_PREFIX}${tag_var}-${{signature:7:12}}"
  details="$(aws ecr describe-images {ecr} --image-ids imageDigest="$signature" --query 'imageDetails[0]' --output json)"
  if jq -e 'any(.imageTags[]?; startswith("{SIGNATURE_TAG_PREFIX}"))' <<<"$details" >/dev/null; then
    echo "Signature $signature of $image is already tagged $(jq -r '.imageTags | join(" ")' <<<"$details")"; continue
  fi
  found="$(aws ecr batch-get-image {ecr} --image-ids imageDigest="$signature" --accepted-media-types {SIGNATURE_MEDIA_TYPE} --query 'images[0]' --output json)"
  manifest="$(jq -r .imageManifest <<<"$found")"
  aws ecr put-image {ecr} --image-tag "$tag" --image-digest "$signature" --image-manifest "$manifest" --image-manifest-media-type {SIGNATURE_MEDIA_TYPE} >/dev/null
  echo "Tagged signature $signature of $image $tag: the registry keeps it as long as the image"
done"""
    return [_subshell(script)]


def _import_trust_policy(profile_arns: Sequence[str]) -> list[str]:
    policy = json.dumps(trust_policy(profile_arns), separators=(",", ":"))
    return [f'printf \'%s\' {shlex.quote(policy)} > "$HOME/trustpolicy.json" && notation policy import --force "$HOME/trustpolicy.json" >/dev/null']


def trust_policy(profile_arns: Sequence[str]) -> dict:
    """Notation's trust policy: a signature is valid only when AWS Signer's root issued it, the profile is one of
    `profile_arns`, and it is neither expired nor revoked (level strict; the plugin asks AWS Signer's
    GetRevocationStatus)."""
    return {
        "version": "1.0",
        "trustPolicies": [
            {
                "name": "supply-chain",
                "registryScopes": ["*"],
                "signatureVerification": {"level": "strict"},
                "trustStores": [f"signingAuthority:{TRUST_STORE}"],
                "trustedIdentities": list(profile_arns),
            }
        ],
    }


def verify_commands(image_var: str, profile_arns: Sequence[str]) -> list[str]:
    """Verify that the digest reference in `$image_var` carries a valid signature by one of `profile_arns`; else print
    `Refusing <image>: <reason>` and exit 1 (which ends the build at once)."""
    policy = json.dumps(trust_policy(profile_arns), separators=(",", ":"))
    return [
        *registry_login_commands(image_var),
        f'printf \'%s\' {shlex.quote(policy)} > "$HOME/trustpolicy.json" && notation policy import --force "$HOME/trustpolicy.json" >/dev/null',
        f'case "${image_var}" in *@sha256:*) ;; *) echo "{REFUSING} ${image_var}: not a digest reference; only a digest names what was signed"; exit 1 ;; esac',
        f'if ! verified="$(notation verify "${image_var}" 2>&1)"; then echo "$verified" >&2; '
        f'echo "{REFUSING} ${image_var}: no valid signature by {" or ".join(profile_arns)} ($(echo "$verified" | tail -n 1))"; exit 1; fi',
        'echo "$verified"',
    ]
