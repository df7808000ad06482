"""The stand-in `kubectl` of the EKS deploy step's tests, and what Kubernetes RBAC decides about what it did.

The stand-in keeps the cluster as the step sees it: the image the Deployment runs (what the last `kubectl
apply` set, in $STATE/running). A rollout of an image listed in BAD fails (or hangs, with HANG set, while an
alarm fires; with HANG_ONCE only the first such rollout hangs and later ones complete); `get` answers a
complete rollout of what was applied last, with every ready pod reporting the image it runs as containerd
does (`<repository>@sha256:...`); DEPLOYMENT_PATCH and PODS_PATCH (jq, with $running) change those answers.
`auth can-i` answers yes, unless CANNOT names the resource; `version` reports kubectl 1.<KUBECTL_CLIENT_MINOR>
(unset: 1.35). It appends `kubectl <args>` to $CALLS (and `APPLIED <image>` after an apply), and one JSON line
per call to $STATE/kubectl-requests.jsonl, with a copy of the file an apply sent.

`requests` turns that log into the API requests the server authorizes (verb, API group, resource, namespace),
and `allowed` evaluates one against RBAC rules (an EKS access policy's, or a Role's) the way the RBAC
authorizer does: a rule matches when its apiGroups, resources and verbs each contain the request's (or `*`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

KUBECTL = r"""#!/bin/bash
echo "kubectl $*" >> "$CALLS"
# The request log, without jq (a jq start costs 20 ms): the arguments as JSON strings, and for an apply a copy of
# the file it sent.
json() { local s="$1"; s="${s//\\/\\\\}"; s="${s//\"/\\\"}"; printf '"%s"' "$s"; }
logged=""; for a in "$@"; do logged+="${logged:+,}$(json "$a")"; done
sent=null
if [ "$1" = apply ]; then sent="$STATE/kubectl-applied-$RANDOM$RANDOM.json"; cp "${@: -1}" "$sent"; sent="$(json "$sent")"; fi
printf '{"args":[%s],"file":%s}\n' "$logged" "$sent" >> "$STATE/kubectl-requests.jsonl"
case "$1" in
  auth)
    # can-i: yes, unless CANNOT names the resource asked about.
    case " ${CANNOT:-} " in *" $4 "*) echo no; exit 1 ;; esac
    echo yes; exit 0 ;;
  version)
    # The CodeBuild image's kubectl (KUBECTL_CLIENT_MINOR: another minor version).
    echo "{\"clientVersion\": {\"major\": \"1\", \"minor\": \"${KUBECTL_CLIENT_MINOR:-35}\", \"gitVersion\": \"v1.${KUBECTL_CLIENT_MINOR:-35}.2\"}}"
    exit 0 ;;
  apply)
    file="${@: -1}"
    image="$(jq -r '.items[] | select(.kind == "Deployment") | .spec.template.spec.containers[0].image' "$file")"
    echo "$image" > "$STATE/running"
    echo "APPLIED $image" >> "$CALLS"
    exit 0 ;;
esac
case "$1" in
  rollout)
    running="$(<"$STATE/running")"
    case " ${BAD:-} " in
      *" $running "*)
        # HANG_ONCE: the first such rollout hangs (until the script kills it), later ones complete.
        if [ -n "${HANG_ONCE:-}" ]; then [ -e "$STATE/hung-once" ] && exit 0; touch "$STATE/hung-once"; exec sleep 20; fi
        # exec: the script's kill must hit the waiting process itself, as it does with kubectl.
        if [ -n "${HANG:-}" ]; then exec sleep 20; fi
        exit 1 ;;
    esac
    exit 0 ;;
  get)
    running="$(<"$STATE/running")"
    case "$2" in
      # One jq each, the patch applied in the same program (a jq start costs 20 ms); the pods without a patch in bash.
      deployment/*)
        jq --arg running "$running" '(.items[] | select(.kind == "Deployment") | {metadata: {generation: 4}, spec: {replicas: .spec.replicas, selector: .spec.selector},
          status: {observedGeneration: 4, replicas: .spec.replicas, updatedReplicas: .spec.replicas, availableReplicas: .spec.replicas,
          conditions: [{type: "Available", status: "True"}, {type: "Progressing", status: "True", reason: "NewReplicaSetAvailable"}]}})
          '"| (${DEPLOYMENT_PATCH:-.})" <<<"$MANIFESTS" ;;
      pods)
        pod='{"metadata":{"name":"app-%s"},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],"containerStatuses":[{"name":"app","ready":true,"imageID":%s}]}}'
        id="$(json "$running")"
        pods="$(printf "{\"items\":[$pod,$pod]}" 0 "$id" 1 "$id")"
        if [ -n "${PODS_PATCH:-}" ]; then jq --arg running "$running" "$PODS_PATCH" <<<"$pods"; else echo "$pods"; fi ;;
    esac
    exit 0 ;;
esac
exit 0
"""

# kind -> (API group, resource) of the kinds the deploy step applies; the group of a custom kind comes from
# its apiVersion.
RESOURCES = {"Namespace": "namespaces", "NodePool": "nodepools", "Deployment": "deployments", "Service": "services", "TargetGroupBinding": "targetgroupbindings"}
CLUSTER_SCOPED = {"namespaces", "nodepools"}


@dataclass(frozen=True)
class KubeRequest:
    """One request the API server authorizes."""

    verb: str
    group: str
    resource: str
    namespace: str | None
    """None: a cluster-scoped request. A request for a Namespace object carries that namespace's name, as the
    API server's request parsing sets it (k8s.io/apiserver pkg/endpoints/request/requestinfo.go)."""


class FakeKubectl:
    def __init__(self, state: Path, bin_dir: Path):
        self.state, self.bin = state, bin_dir
        (bin_dir / "kubectl").write_text(KUBECTL)
        (bin_dir / "kubectl").chmod(0o755)

    def env(self) -> dict[str, str]:
        return {"STATE": str(self.state), "CALLS": os.environ.get("CALLS", str(self.state / "calls"))}

    def requests(self) -> list[KubeRequest]:
        log = self.state / "kubectl-requests.jsonl"
        entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        log.unlink(missing_ok=True)
        return [r for entry in entries for r in requests(entry["args"], _objects(entry["file"]))]


def _objects(file: str | None) -> list[dict] | None:
    """What an apply sent: each item's apiVersion, kind, namespace and name."""
    if file is None:
        return None
    items = json.loads(Path(file).read_text())["items"]
    return [{"apiVersion": i["apiVersion"], "kind": i["kind"], "namespace": i["metadata"].get("namespace"), "name": i["metadata"]["name"]} for i in items]


def _option(args: Sequence[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def requests(args: Sequence[str], objects: Sequence[Mapping] | None) -> list[KubeRequest]:
    """The authorization requests of one kubectl command the deploy step runs."""
    namespace = _option(args, "--namespace", "-n")
    if args[0] == "version":
        return []  # --client: kubectl's own version, no request
    if args[:2] == ["auth", "can-i"]:
        return [KubeRequest("create", "authorization.k8s.io", "selfsubjectaccessreviews", None)]
    if args[0] == "apply":
        # Server-side apply is a PATCH of each object; the API server also authorizes `create` for an object
        # that does not exist yet (k8s.io/apiserver endpoints/handlers/patch.go), and kubectl may GET on a conflict.
        out = []
        for obj in objects or []:
            group = obj["apiVersion"].rpartition("/")[0] if "/" in obj["apiVersion"] else ""
            resource = RESOURCES[obj["kind"]]
            scope = obj["name"] if resource == "namespaces" else obj.get("namespace")
            out += [KubeRequest(verb, group, resource, scope) for verb in ("get", "create", "patch")]
        return out
    if args[0] == "rollout" and args[1] == "status":
        # rollout status gets the Deployment and watches it (k8s.io/kubectl pkg/cmd/rollout/rollout_status.go).
        return [KubeRequest(verb, "apps", "deployments", namespace) for verb in ("get", "list", "watch")]
    if args[0] == "get":
        kind = args[1].split("/", 1)[0]
        if kind in ("namespace", "namespaces"):
            return [KubeRequest("get", "", "namespaces", args[2])]
        if kind in ("deployment", "deployments"):
            return [KubeRequest("get" if "/" in args[1] else "list", "apps", "deployments", namespace)]
        if kind in ("pod", "pods"):
            return [KubeRequest("get" if "/" in args[1] else "list", "", "pods", namespace)]
    raise ValueError(f"kubectl {' '.join(args)}: tests/fake_kubectl.py does not know what this command requests; add it to `requests`")


def _contains(values: Iterable[str], wanted: str) -> bool:
    return any(v in ("*", wanted) for v in values)


def allowed(rules: Sequence[Mapping], request: KubeRequest) -> bool:
    """Whether one of `rules` (apiGroups, resources, verbs) allows the request."""
    return any(
        _contains(rule.get("apiGroups", []), request.group) and _contains(rule.get("resources", []), request.resource) and _contains(rule.get("verbs", []), request.verb)
        for rule in rules
    )


@dataclass(frozen=True)
class Grant:
    """What an identity holds in a cluster: RBAC rules and where they apply."""

    rules: tuple[Mapping, ...]
    namespaces: tuple[str, ...] | None
    """None: the whole cluster (a ClusterRoleBinding, or an access policy with cluster scope)."""

    def allows(self, request: KubeRequest) -> bool:
        if self.namespaces is not None and request.namespace not in self.namespaces:
            return False
        return allowed(self.rules, request)


def refused(grants: Sequence[Grant], kube_requests: Iterable[KubeRequest]) -> list[str]:
    """Every request none of the grants allows, one line each."""
    out = []
    for request in dict.fromkeys(kube_requests):
        if not any(g.allows(request) for g in grants):
            where = f"in namespace {request.namespace}" if request.namespace else "cluster-wide"
            out.append(f"{request.verb} {request.resource}{'.' + request.group if request.group else ''} {where}")
    return out
