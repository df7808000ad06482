#!/bin/bash
# The stand-in `aws` command (installed by tests/fake_aws.py). SSM, CloudWatch and EKS are answered here, in bash:
# the steps call them often (the EKS step polls its alarms), and a Python start costs each call 20 ms. ECR goes to
# tests/fake_aws_cli.py, whose docstring documents both. An SSM parameter is the file $STATE/ssm/<account>/<region><name>.
set -u
service="$1" command="$2"
shift 2
orig=("$@")
account="${STANDIN_ACCOUNT:-123456789012}"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
name="" value="" overwrite="" query="" output="json" metric="" alarms=()
while [ $# -gt 0 ]; do
  case "$1" in
    --region) region="$2"; shift ;;
    --query) query="$2"; shift ;;
    --output) output="$2"; shift ;;
    --name) name="$2"; shift ;;
    --value) value="$2"; shift ;;
    --overwrite) overwrite=1 ;;
    --metric-data) metric="$2"; shift ;;
    --alarm-names) while [ $# -gt 1 ] && [[ "$2" != --* ]]; do alarms+=("$2"); shift; done ;;
  esac
  shift
done
case "$service $command" in
  "ssm get-parameter" | "ssm put-parameter" | "cloudwatch describe-alarms" | "cloudwatch put-metric-data" | "eks update-kubeconfig" | "eks describe-cluster") ;;
  *) exec "$(dirname "$0")/aws-ecr" "$service" "$command" "${orig[@]}" ;;
esac

json() {
  local s="$1"
  s="${s//\\/\\\\}"; s="${s//\"/\\\"}"; s="${s//$'\n'/\\n}"; s="${s//$'\t'/\\t}"; s="${s//$'\r'/\\r}"
  printf '"%s"' "$s"
}
[ -n "${CALLS:-}" ] && echo "aws $service $command ${orig[*]}" >> "$CALLS"
logged=""
for a in "${orig[@]}"; do logged+="${logged:+,}$(json "$a")"; done
printf '{"account":%s,"region":%s,"service":%s,"command":%s,"args":[%s]}\n' \
  "$(json "$account")" "$(json "$region")" "$(json "$service")" "$(json "$command")" "$logged" >> "$STATE/aws-requests.jsonl"
fail() { echo "An error occurred ($1) when calling the operation: $2" >&2; exit "${3:-254}"; }

case "$service $command" in
  "ssm get-parameter")
    file="$STATE/ssm/$account/$region$name"
    [ -f "$file" ] || fail ParameterNotFound "$name"
    [ "$query" = Parameter.Value ] && [ "$output" = text ] || fail ParamValidation "the stand-in answers get-parameter only with --query Parameter.Value --output text" 252
    cat "$file" ;;
  "ssm put-parameter")
    file="$STATE/ssm/$account/$region$name"
    [ -n "${SSM_FAILS:-}" ] && fail AccessDeniedException "not authorized to perform: ssm:PutParameter"
    [ -f "$file" ] && [ -z "$overwrite" ] && fail ParameterAlreadyExists "The parameter already exists."
    mkdir -p "$(dirname "$file")" && printf '%s\n' "$value" > "$file"
    [ -n "$query" ] || echo '{"Version": 2, "Tier": "Standard"}' ;;
  "cloudwatch describe-alarms")
    # FIRING_AT_START at the first call, FIRING_LATER (unset: the same) at every later one.
    names="${FIRING_AT_START:-}"
    [ -e "$STATE/alarms-polled" ] && names="${FIRING_LATER-${FIRING_AT_START:-}}"
    touch "$STATE/alarms-polled"
    [ "$query" = 'MetricAlarms[].AlarmName' ] && [ "$output" = text ] || fail ParamValidation "the stand-in answers describe-alarms only with --query 'MetricAlarms[].AlarmName' --output text" 252
    firing=()
    for n in $names; do for a in "${alarms[@]}"; do [ "$n" = "$a" ] && firing+=("$n"); done; done
    (IFS=$'\t'; echo "${firing[*]}") ;;
  "cloudwatch put-metric-data")
    printf '%s\n' "$metric" > "$STATE/metric-data"
    [ -n "${METRICS_FAIL:-}" ] && fail Throttling "Rate exceeded"
    exit 0 ;;
  "eks update-kubeconfig")
    echo "Updated context arn:aws:eks:$region:$account:cluster/$name in /root/.kube/config" ;;
  "eks describe-cluster")
    [ "$query" = cluster.version ] && [ "$output" = text ] || fail ParamValidation "the stand-in answers describe-cluster only with --query cluster.version --output text" 252
    echo "${CLUSTER_VERSION_REPORTED:-1.35}" ;;
esac
