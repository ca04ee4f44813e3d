#!/usr/bin/env python3
"""The compose stack (deploy/compose.yaml, issue #9) without a Docker engine.

`docker-compose config` (Debian's docker-compose) validates the file against the Compose
schema and resolves its anchors; on that result this checks the stack the issue asks for:
RabbitMQ, PostgreSQL, two sensor agents, two coordinators, one datamanager, two web servers
behind nginx running deploy/nginx/vigil.conf (the file the ingress test runs), a health
check on every vigil service at the port its role serves, every mounted file present, and
every vigil command line and config accepted by the binary.
Usage: compose_test.py SOURCE_DIR VIGIL_BINARY
"""
import collections
import os
import subprocess
import sys

import yaml

source, binary = sys.argv[1], sys.argv[2]
compose = os.path.join(source, "deploy", "compose.yaml")
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


resolved = subprocess.run(["docker-compose", "-f", compose, "config"], capture_output=True,
                          text=True, env=dict(os.environ, VIGIL_RABBITMQ_PASSWORD="r",
                                              VIGIL_POSTGRES_PASSWORD="p"))
if resolved.returncode != 0:
    sys.exit("FAIL: docker-compose config: " + resolved.stderr)
services = yaml.safe_load(resolved.stdout)["services"]

images = {name: s.get("image", "") for name, s in services.items()}
check(sum(i.startswith("rabbitmq:") for i in images.values()) == 1, "not one RabbitMQ")
check(sum(i.startswith("postgres:15") for i in images.values()) == 1, "not one PostgreSQL 15")
roles = collections.Counter()
for name, service in services.items():
    if service.get("image") != "vigil:latest":
        continue
    command = service["command"]
    roles[command[0]] += 1
    health = " ".join(service.get("healthcheck", {}).get("test", []))
    port = next((a.rsplit(":", 1)[1] for f, a in zip(command, command[1:])
                 if f in ("--listen", "--metrics-listen")), "8080")
    # Without a healthcheck of its own, a service has the image's (curl :8080/healthz).
    check(health == "" and port == "8080" or f"127.0.0.1:{port}/" in health,
          f"{name}: its healthcheck does not probe the port it serves ({port})")
    env = service.get("environment", {})
    check("secret" not in str(env), f"{name}: a password in the file")
    check(env.get("VIGIL_BROKER_URL", "").startswith("amqp://vigil:r@rabbitmq:5672"),
          f"{name}: no broker URL from VIGIL_RABBITMQ_PASSWORD")
    if command[0] in ("datamanager", "web"):
        check(env.get("PGPASSWORD") == "p" and env.get("VIGIL_STORE_URL", "").startswith(
            "postgres://"), f"{name}: no PostgreSQL from VIGIL_POSTGRES_PASSWORD")
        check("postgres" in service.get("depends_on", {}), f"{name}: does not wait for PostgreSQL")
    # The command line is one the binary takes: its flags, with --help to stop there.
    help_run = subprocess.run([binary, command[0], "--help"], capture_output=True, text=True)
    for flag in (a for a in command[1:] if a.startswith("--")):
        check(flag in help_run.stdout, f"{name}: vigil {command[0]} has no {flag}")
    if "build" in service:
        check(os.path.isfile(os.path.join(service["build"]["context"],
                                          service["build"]["dockerfile"])),
              f"{name}: no Dockerfile at its build path")
check(roles == {"sensor": 2, "coordinator": 2, "datamanager": 1, "web": 2},
      f"vigil roles {dict(roles)}")
check(any("build" in s for s in services.values()), "no service builds the vigil image")

nginx = next((s for s in services.values() if s.get("image", "").startswith("nginx:")), None)
check(nginx is not None, "no nginx")
mounts = {}
for service in services.values():
    for volume in service.get("volumes", []):
        parts = volume.split(":") if isinstance(volume, str) else [volume["source"], volume["target"]]
        if parts[0].startswith("/"):
            check(os.path.exists(parts[0]), f"mounted {parts[0]} does not exist")
            mounts[parts[1]] = parts[0]
if nginx:
    check(mounts.get("/etc/nginx/vigil.conf") == os.path.join(source, "deploy/nginx/vigil.conf"),
          "nginx does not run deploy/nginx/vigil.conf")
    check(any(p.split("/")[0].endswith(":80") for p in map(str, nginx.get("ports", []))) or
          any(isinstance(p, dict) and p.get("target") == 80 for p in nginx.get("ports", [])),
          "nginx publishes no port")
    with open(os.path.join(source, "deploy/nginx/nginx.conf")) as f:
        conf = f.read()
    for web in (n for n, s in services.items() if s.get("command", [""])[0] == "web"):
        check(f"server {web}:8080" in conf, f"nginx.conf does not send to {web}:8080")
for target, path in mounts.items():
    if target.endswith(".toml"):
        run = subprocess.run([binary, "check-config", path], capture_output=True, text=True)
        check(run.returncode == 0, f"{path}: {run.stdout}{run.stderr}")

if failures:
    sys.exit("FAIL:\n  " + "\n  ".join(failures))
print(f"services: {', '.join(sorted(services))}")
print("PASS")
