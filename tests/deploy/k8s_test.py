#!/usr/bin/env python3
"""The Kubernetes manifests (deploy/k8s/, issue #9), checked without a cluster.

Every object's apiVersion/kind must be one Kubernetes serves, its required fields present
and no unknown field at the levels vigil writes (a small schema below, taken from the
Kubernetes API reference); references must resolve (selectors, Services, ports by name,
ConfigMaps, Secrets and their keys, volumes); every vigil container has a liveness probe on
/healthz, a readiness probe on /readyz, resource requests, and a command line the binary
takes; coordinators, datamanagers and web servers are Deployments, coordinators have a
PodDisruptionBudget; the ConfigMap holds the bundled configs verbatim; the kustomization
lists every file.
Usage: k8s_test.py SOURCE_DIR VIGIL_BINARY [--sync-configmap]
"""
import os
import re
import subprocess
import sys

import yaml

source, binary = sys.argv[1], sys.argv[2]
k8s = os.path.join(source, "deploy", "k8s")
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def write_config(path):
    """deploy/k8s/config.yaml: the Secret's placeholders and the bundled configs."""
    class Literal(str):
        pass
    yaml.add_representer(Literal, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s,
                                                                   style="|"))
    with open(path) as f:
        head = "".join(line for line in f if line.startswith("#"))
        f.seek(0)
        secret = next(yaml.safe_load_all(f))
    data = {}
    for name in ("vigil.toml", "agent.toml"):
        with open(os.path.join(source, "config", name)) as f:
            data[name] = Literal(f.read())
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "vigil-config", "namespace": "vigil",
                              "labels": {"app.kubernetes.io/part-of": "vigil"}},
                 "data": data}
    with open(path, "w") as f:
        f.write(head + yaml.dump(secret, sort_keys=False) + "---\n" +
                yaml.dump(configmap, sort_keys=False, width=1000))


if "--sync-configmap" in sys.argv:
    write_config(os.path.join(k8s, "config.yaml"))

# Field schema: (required, allowed) per level; "*" in allowed takes anything below.
OBJECT = ({"apiVersion", "kind", "metadata"}, {"spec", "data", "stringData", "type"})
METADATA = ({"name"}, {"namespace", "labels", "annotations"})
SPECS = {
    "Deployment": ({"selector", "template"},
                   {"replicas", "strategy", "minReadySeconds", "revisionHistoryLimit"}),
    "StatefulSet": ({"selector", "template", "serviceName"},
                    {"replicas", "volumeClaimTemplates", "podManagementPolicy", "updateStrategy"}),
    "DaemonSet": ({"selector", "template"}, {"updateStrategy", "minReadySeconds"}),
    "Service": ({"ports"}, {"selector", "clusterIP", "type"}),
    "PodDisruptionBudget": ({"selector"}, {"minAvailable", "maxUnavailable"}),
    "Ingress": ({"rules"}, {"ingressClassName", "tls", "defaultBackend"}),
}
POD_SPEC = ({"containers"}, {"volumes", "securityContext", "terminationGracePeriodSeconds",
                             "serviceAccountName", "nodeSelector", "tolerations", "affinity",
                             "initContainers"})
CONTAINER = ({"name", "image"}, {"args", "command", "env", "envFrom", "ports", "livenessProbe",
                                 "readinessProbe", "startupProbe", "resources", "securityContext",
                                 "volumeMounts", "imagePullPolicy"})
PROBE = (set(), {"httpGet", "exec", "tcpSocket", "initialDelaySeconds", "periodSeconds",
                 "timeoutSeconds", "failureThreshold", "successThreshold"})
KINDS = {("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"),
         ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
         ("policy/v1", "PodDisruptionBudget"), ("networking.k8s.io/v1", "Ingress")}
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def fields(where, value, schema):
    if not check(isinstance(value, dict), f"{where}: not a mapping"):
        return
    required, allowed = schema
    for key in required - value.keys():
        check(False, f"{where}: missing {key}")
    for key in value.keys() - required - allowed:
        check(False, f"{where}: unknown field {key}")


# Load every manifest.
with open(os.path.join(k8s, "kustomization.yaml")) as f:
    kustomization = yaml.safe_load(f)
files = sorted(n for n in os.listdir(k8s) if n.endswith(".yaml") and n != "kustomization.yaml")
check(kustomization.get("kind") == "Kustomization", "kustomization.yaml: not a Kustomization")
check(sorted(kustomization.get("resources", [])) == files,
      f"kustomization resources {kustomization.get('resources')} != files {files}")
objects = []
for name in files:
    with open(os.path.join(k8s, name)) as f:
        objects += [(name, o) for o in yaml.safe_load_all(f) if o is not None]

by_kind = {}
for name, o in objects:
    where = f"{name}: {o.get('kind')}/{o.get('metadata', {}).get('name')}"
    fields(where, o, OBJECT)
    check((o.get("apiVersion"), o.get("kind")) in KINDS,
          f"{where}: unknown apiVersion/kind {o.get('apiVersion')}/{o.get('kind')}")
    fields(where + " metadata", o.get("metadata"), METADATA)
    meta = o.get("metadata", {})
    check(DNS_1123.match(str(meta.get("name", ""))), f"{where}: name is not DNS-1123")
    if o.get("kind") != "Namespace":
        check(meta.get("namespace") == kustomization.get("namespace"), f"{where}: namespace")
    if o.get("kind") in SPECS:
        fields(where + " spec", o.get("spec"), SPECS[o["kind"]])
    by_kind.setdefault(o.get("kind"), {})[meta.get("name")] = (where, o)

secrets = {n: {**o.get("stringData", {}), **o.get("data", {})}
           for n, (_, o) in by_kind.get("Secret", {}).items()}
configmaps = {n: o.get("data", {}) for n, (_, o) in by_kind.get("ConfigMap", {}).items()}
workloads = {}
for kind in ("Deployment", "StatefulSet", "DaemonSet"):
    for n, (where, o) in by_kind.get(kind, {}).items():
        workloads[n] = (where, o)
help_of = {}


def vigil_help(role):
    if role not in help_of:
        run = subprocess.run([binary, role, "--help"], capture_output=True, text=True)
        help_of[role] = run.stdout if run.returncode == 0 else None
    return help_of[role]


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


for n, (where, o) in workloads.items():
    spec = o.get("spec", {})
    template = spec.get("template", {})
    labels = template.get("metadata", {}).get("labels", {})
    check(matches(spec.get("selector", {}).get("matchLabels"), labels),
          f"{where}: selector does not match the template's labels")
    pod = template.get("spec", {})
    fields(where + " pod", pod, POD_SPEC)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    volumes.update({t["metadata"]["name"]: t for t in spec.get("volumeClaimTemplates", [])})
    for v in pod.get("volumes", []):
        if "configMap" in v:
            check(v["configMap"]["name"] in configmaps, f"{where}: no ConfigMap {v['configMap']['name']}")
    if o["kind"] == "StatefulSet":
        check(spec.get("serviceName") in by_kind.get("Service", {}), f"{where}: no Service {spec.get('serviceName')}")
    for c in pod.get("containers", []):
        cw = f"{where} container {c.get('name')}"
        fields(cw, c, CONTAINER)
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
        for m in c.get("volumeMounts", []):
            check(m.get("name") in volumes, f"{cw}: mounts unknown volume {m.get('name')}")
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                check(ref["key"] in secrets.get(ref["name"], {}), f"{cw}: no key {ref['key']} in Secret {ref['name']}")
        for probe_name in ("livenessProbe", "readinessProbe"):
            probe = c.get(probe_name)
            if check(probe is not None, f"{cw}: no {probe_name}"):
                fields(f"{cw} {probe_name}", probe, PROBE)
                port = probe.get("httpGet", {}).get("port")
                if port is not None:
                    check(port in ports or port in ports.values(), f"{cw}: {probe_name} on unknown port {port}")
        requests = c.get("resources", {}).get("requests", {})
        check({"cpu", "memory"} <= requests.keys(), f"{cw}: no cpu and memory requests")
        if c.get("image", "").startswith("vigil"):
            args = c.get("args", [])
            check(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz",
                  f"{cw}: liveness is not /healthz")
            check(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz",
                  f"{cw}: readiness is not /readyz")
            text = vigil_help(args[0]) if args else None
            if check(text is not None, f"{cw}: vigil has no command {args[:1]}"):
                for flag in (a for a in args if a.startswith("--")):
                    check(flag in text, f"{cw}: vigil {args[0]} has no {flag}")
            for a, b in zip(args, args[1:]):
                if a in ("--listen", "--metrics-listen"):
                    check(int(b.rsplit(":", 1)[1]) in ports.values(), f"{cw}: {a} {b} is not a containerPort")
                if a == "--config":
                    mount = next((m for m in c.get("volumeMounts", []) if b.startswith(m["mountPath"] + "/")), None)
                    if check(mount is not None, f"{cw}: {b} is not mounted"):
                        cm = volumes[mount["name"]].get("configMap", {}).get("name")
                        check(os.path.basename(b) in configmaps.get(cm, {}), f"{cw}: {b} not in ConfigMap {cm}")

for role in ("coordinator", "datamanager", "web"):
    check(f"vigil-{role}" in by_kind.get("Deployment", {}), f"no Deployment vigil-{role}")
check("vigil-sensor" in workloads, "no sensor workload")
for name in ("rabbitmq", "postgres"):
    check(name in by_kind.get("StatefulSet", {}), f"no StatefulSet {name}")
pdbs = [o for _, o in by_kind.get("PodDisruptionBudget", {}).values()]
coordinator = workloads.get("vigil-coordinator", (None, {}))[1]
coordinator_labels = coordinator.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
check(any(matches(p["spec"]["selector"].get("matchLabels"), coordinator_labels) for p in pdbs),
      "no PodDisruptionBudget selects the coordinators")

for n, (where, o) in by_kind.get("Service", {}).items():
    selected = [w for w in workloads.values()
                if matches(o["spec"].get("selector"), w[1]["spec"]["template"]["metadata"]["labels"])]
    if check(selected, f"{where}: selects no workload"):
        names = {p.get("name") for w in selected for c in w[1]["spec"]["template"]["spec"]["containers"]
                 for p in c.get("ports", [])}
        for p in o["spec"]["ports"]:
            check(p.get("targetPort") in names or isinstance(p.get("targetPort"), int),
                  f"{where}: targetPort {p.get('targetPort')} is no container's port")
for n, (where, o) in by_kind.get("Ingress", {}).items():
    for rule in o["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            service = path["backend"]["service"]
            target = by_kind.get("Service", {}).get(service["name"])
            if check(target, f"{where}: no Service {service['name']}"):
                check(service["port"].get("name") in {p.get("name") for p in target[1]["spec"]["ports"]},
                      f"{where}: Service {service['name']} has no port {service['port']}")

for name in ("vigil.toml", "agent.toml"):
    with open(os.path.join(source, "config", name)) as f:
        check(configmaps.get("vigil-config", {}).get(name) == f.read(),
              f"ConfigMap vigil-config's {name} differs from config/{name} (run with --sync-configmap)")

if failures:
    sys.exit("FAIL:\n  " + "\n  ".join(failures))
print(f"{len(objects)} objects in {len(files)} files: {', '.join(sorted(by_kind))}")
print("PASS")
