#!/usr/bin/env bash
# Renders every kustomize overlay under deploy/overlays and validates the output against
# the Kubernetes JSON schemas (PyPI kubernetes-validate, which ships them offline).
# Exits non-zero on the first overlay that does not render or does not validate.
# Installs kubectl and kubernetes-validate when missing.
set -euo pipefail
cd "$(dirname "$0")"

# Schema versions to validate against: the oldest Kubernetes these manifests aim at
# (native sidecars, gRPC probes and matchLabelKeys are on by default from 1.29) and a
# recent one that kubernetes-validate ships.
K8S_VERSIONS=${K8S_VERSIONS:-"1.30.0 1.37.0"}
KUBERNETES_VALIDATE_VERSION=${KUBERNETES_VALIDATE_VERSION:-1.37.0}

# Rendering needs kustomize v5 (kubectl 1.27 or later embeds it). Debian's
# kubernetes-client package (bookworm: kubectl 1.20, kustomize v2) is too old for these
# overlays; then a standalone `kustomize` is used, or built with Go if Go is there.
if ! command -v kubectl >/dev/null 2>&1 && ! command -v kustomize >/dev/null 2>&1; then
  echo "validate.sh: installing kubectl (Debian package kubernetes-client)" >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq kubernetes-client >/dev/null
fi
kustomize_major() { # the major version of kustomize that "$@" reports (empty when unknown)
  { "$@" 2>/dev/null || true; } | grep -i -e '^kustomize version' -e '^v[0-9]' \
    | grep -o 'v[0-9][0-9]*\.' | head -n1 | tr -dc '0-9' || true
}
render=()
if command -v kubectl >/dev/null 2>&1; then
  major=$(kustomize_major kubectl version --client)
  if [ "${major:-0}" -ge 5 ]; then render=(kubectl kustomize); fi
fi
if [ "${#render[@]}" -eq 0 ] && command -v kustomize >/dev/null 2>&1; then
  major=$(kustomize_major kustomize version)
  if [ "${major:-0}" -ge 5 ]; then render=(kustomize build); fi
fi
if [ "${#render[@]}" -eq 0 ] && command -v go >/dev/null 2>&1; then
  echo "validate.sh: no kustomize v5; building sigs.k8s.io/kustomize/kustomize/v5@v5.5.0 with Go" >&2
  gobin=$(mktemp -d)
  GOBIN="$gobin" go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0
  render=("$gobin/kustomize" build)
fi
if [ "${#render[@]}" -eq 0 ]; then
  echo "validate.sh: kustomize v5 is needed: kubectl 1.27 or later (pkgs.k8s.io), or a" \
    "standalone kustomize v5 on PATH, or Go to build one" >&2
  exit 1
fi

# Run as a module, so a pip install whose scripts directory is not on PATH works too.
if ! python3 -c 'import kubernetes_validate' >/dev/null 2>&1; then
  echo "validate.sh: installing kubernetes-validate==${KUBERNETES_VALIDATE_VERSION} (PyPI)" >&2
  python3 -m pip install --quiet "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}" \
    || python3 -m pip install --quiet --user --break-system-packages "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

overlays=(overlays/*/)
if [ "${#overlays[@]}" -eq 0 ] || [ ! -d "${overlays[0]}" ]; then
  echo "validate.sh: no overlays under deploy/overlays" >&2
  exit 1
fi

for dir in "${overlays[@]}"; do
  overlay=$(basename "$dir")
  rendered="$out/$overlay.yaml"
  if ! "${render[@]}" "$dir" > "$rendered"; then
    echo "validate.sh: overlay $overlay does not render" >&2
    exit 1
  fi
  count=$(grep -c '^kind: ' "$rendered" || true)
  if [ "$count" -eq 0 ]; then
    echo "validate.sh: overlay $overlay rendered no resources" >&2
    exit 1
  fi
  for version in $K8S_VERSIONS; do
    # --strict rejects properties the schema does not know (typos, wrong nesting).
    if ! python3 -m kubernetes_validate --strict --quiet --kubernetes-version "$version" "$rendered"; then
      echo "validate.sh: overlay $overlay is not valid against Kubernetes $version" >&2
      exit 1
    fi
    echo "overlay $overlay: $count resources rendered by '${render[*]}', valid against Kubernetes $version (strict)"
  done
  # A pod must get the time to stop cleanly before SIGKILL: terminationGracePeriodSeconds
  # above IDCARD_SHUTDOWN_GRACE + IDCARD_DRAIN_TIMEOUT + IDCARD_PEER_TIMEOUT (the relay's
  # last batch), as each service container gets them (ConfigMap, then env).
  if ! python3 - "$rendered" <<'PY'
import re, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
defaults = {"IDCARD_SHUTDOWN_GRACE": "5s", "IDCARD_DRAIN_TIMEOUT": "20s", "IDCARD_PEER_TIMEOUT": "10s"}
units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
def seconds(text):
    parts = re.findall(r"(\d+)\s*(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        sys.exit(f"cannot read the duration {text!r}")
    return sum(int(n) * units[u] for n, u in parts)
bad = False
for d in docs:
    if d["kind"] != "Deployment":
        continue
    pod = d["spec"]["template"]["spec"]
    limit = pod.get("terminationGracePeriodSeconds", 30)
    for c in pod["containers"]:
        env = dict(defaults)
        for source in c.get("envFrom", []):
            env.update(maps.get(source.get("configMapRef", {}).get("name"), {}))
        env.update({e["name"]: e["value"] for e in c.get("env", []) if "value" in e})
        needed = sum(seconds(env[k]) for k in defaults)
        if limit <= needed:
            print(f"{d['metadata']['name']}/{c['name']}: terminationGracePeriodSeconds {limit} <= "
                  f"grace + drain + peer timeout = {needed:g}s", file=sys.stderr)
            bad = True
sys.exit(1 if bad else 0)
PY
  then
    echo "validate.sh: overlay $overlay gives a pod less time to stop than its shutdown settings need" >&2
    exit 1
  fi
  echo "overlay $overlay: every pod's terminationGracePeriodSeconds exceeds its shutdown grace + drain + peer timeout"
done
