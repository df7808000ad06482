"""The EKS deploy step's signature check: a pipeline run verifies its image against the trusted signing profile
(the stack's own, or a promoting stack's upstream's) before anything is applied, with the stand-in `notation`
(tests/fake_notation.py) and the real verify commands (components/supply/notation.py)."""

from __future__ import annotations

from pathlib import Path

from components.deploy.eks import deploy_step as eks_deploy
from components.supply import notation
from tests import fake_notation
from tests.test_eks_deploy import GOOD, HOTFIX, IMAGES, KNOWN_GOOD, RECORD, REGISTRY, SERVICE, applied, deployment_records, outcome, run_step

TRUSTED = "arn:aws:signer:us-east-1:111111111111:/signing-profiles/container_cicd_dev_app_20261127000000000000000001"
OTHER = "arn:aws:signer:us-east-1:222222222222:/signing-profiles/someone_else_20261127000000000000000001"
HOTFIX_DIGEST = IMAGES[2]["imageDigest"]
SBOM_URI = f"s3://container-cicd-prod-app-records-20261127000000000000000001/sbom/{HOTFIX_DIGEST}.json"


def verifying_script() -> str:
    return eks_deploy.deploy_script(
        namespace="ns",
        deployment="app",
        container_name="app",
        timeout_minutes=15,
        alarm_names=("a-5xx",),
        record_parameter=RECORD,
        known_good_parameter=KNOWN_GOOD,
        repository_url=REGISTRY,
        repository_name="repo",
        create_namespace=True,
        service_id=SERVICE,
        verify=notation.verify_commands("IMAGE_URI", [TRUSTED]),
    )


def deploy(tmp_path: Path, signed_by: str | None):
    """A pipeline run of HOTFIX, signed by `signed_by` (None: unsigned), with the trust store the install leaves."""
    state, home = tmp_path / "state", tmp_path / "home"
    (tmp_path / "bin").mkdir(parents=True, exist_ok=True)
    fake_notation.install(tmp_path / "bin")
    store = home / ".config" / "notation" / "truststore" / "x509" / "signingAuthority" / notation.TRUST_STORE
    store.mkdir(parents=True)
    (store / "aws-signer-notation-root.cert").write_text("stand-in root\n")
    if signed_by:
        state.mkdir(parents=True, exist_ok=True)
        fake_notation.sign_as(state, account="123456789012", region="us-east-1", digest=HOTFIX_DIGEST, profile_arn=signed_by)
    return run_step(tmp_path, verifying_script(), record=GOOD, running=GOOD, IMAGE_URI=HOTFIX, HOME=str(home), SBOM_URI=SBOM_URI, SCAN_VERDICT="PASSED")


def test_an_image_signed_by_the_trusted_profile_is_verified_then_deployed(tmp_path):
    code, calls, running, record = deploy(tmp_path, TRUSTED)
    assert (code, running, record, applied(calls)) == (0, HOTFIX, HOTFIX, [HOTFIX])
    [rec] = deployment_records(tmp_path)
    assert (rec["outcome"], rec["sbom"], rec["scan"]) == ("SUCCEEDED", SBOM_URI, "PASSED")
    assert f"Successfully verified signature for {REGISTRY}@{HOTFIX_DIGEST}" in (tmp_path / "stdout").read_text()


def test_an_unsigned_digest_is_refused_before_kubectl_apply_and_recorded_as_failed(tmp_path):
    code, calls, running, record = deploy(tmp_path, None)
    assert (code, running, record) == (1, GOOD, GOOD)
    assert not [c for c in calls if c.startswith("kubectl")], "nothing reaches the cluster"
    reason = (
        f"Refusing {HOTFIX}: no valid signature by {TRUSTED} (Error: signature verification failed: no signature is associated with "
        f'"{HOTFIX}", make sure the artifact was signed successfully); nothing applied'
    )
    assert outcome(tmp_path) == ("FAILED", reason)
    assert reason in (tmp_path / "stdout").read_text().splitlines()


def test_an_image_signed_by_another_profile_is_refused_before_kubectl_apply(tmp_path):
    code, calls, running, record = deploy(tmp_path, OTHER)
    assert (code, running, record) == (1, GOOD, GOOD)
    assert applied(calls) == []
    status, reason = outcome(tmp_path)
    assert status == "FAILED"
    assert reason is not None and reason.startswith(f"Refusing {HOTFIX}: no valid signature by {TRUSTED} (")
    assert "Signature publisher doesn't match any trusted identities." in reason
