#!/usr/bin/env python3
"""deploy_check.py — validates deploy/ without a Docker engine or a cluster (test/test_deploy.c runs it).

    deploy_check.py SECTION OBI_BIN      run from the repository root
    SECTION: dockerfile | compose | k8s | metrics | run

Exit status 0: every check passed; 1: a check failed (one line each, "deploy: ..."); 77: skipped (PyYAML
missing: Debian's python3-yaml, installed by `scripts/install-deps.sh --test`). Standard library + PyYAML only.
"""
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

try:
    import yaml
except ImportError:
    print("PyYAML is missing (Debian: python3-yaml, scripts/install-deps.sh --test)")
    sys.exit(77)

DEPLOY = "deploy"
errors = []


def fail(msg):
    errors.append(msg)
    print("deploy: " + msg)


def load_yaml(path, multi=False):
    try:
        with open(path) as f:
            return list(yaml.safe_load_all(f)) if multi else yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        fail(f"{path}: does not parse as YAML: {e}")
        return [] if multi else {}


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: does not parse as JSON: {e}")
        return {}


def serve_flags(obi):
    """The options `obi serve --help` documents."""
    r = subprocess.run([obi, "serve", "--help"], capture_output=True, text=True)
    flags = set(re.findall(r"--[a-z][a-z-]*", r.stdout + r.stderr))
    if "--model" not in flags:
        fail(f"{obi} serve --help lists no options")
    return flags


def check_serve_args(where, args, flags):
    if not args or args[0] != "serve":
        fail(f"{where}: the command is not 'serve': {args}")
    for a in args:
        if a.startswith("--") and a not in flags:
            fail(f"{where}: '{a}' is not an option of obi serve")
    if "--bind" not in args or args[args.index("--bind") + 1] != "0.0.0.0":
        fail(f"{where}: obi must bind 0.0.0.0 inside a container (the default is 127.0.0.1)")


def arg_after(args, flag):
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


# ---- Dockerfile -------------------------------------------------------------------------------------------
def dockerfile_instructions(path):
    """[(stage index, INSTRUCTION, arguments)] with continuation lines joined and comments dropped."""
    out, stage, buf = [], -1, ""
    with open(path) as f:
        for line in f:
            s = line.rstrip("\n")
            if not buf and (not s.strip() or s.lstrip().startswith("#")):
                continue
            if s.lstrip().startswith("#"):  # a comment inside a continued instruction
                continue
            if s.endswith("\\"):
                buf += s[:-1] + " "
                continue
            buf += s
            word, _, rest = buf.strip().partition(" ")
            word = word.upper()
            if word == "FROM":
                stage += 1
            out.append((stage, word, rest.strip()))
            buf = ""
    return out


def exec_form(where, text):
    try:
        v = json.loads(text)
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return v
    except ValueError:
        pass
    fail(f"{where}: not the JSON exec form: {text[:80]}")
    return []


def needed_packages(obi):
    """Debian packages of the shared libraries build/obi links directly (readelf NEEDED, dpkg -S), or None."""
    try:
        dyn = subprocess.run(["readelf", "-d", obi], capture_output=True, text=True, check=True).stdout
        ldd = subprocess.run(["ldd", obi], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    pkgs = set()
    for lib in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn):
        if lib not in paths:
            fail(f"ldd {obi}: {lib} not found")
            continue
        r = subprocess.run(["dpkg", "-S", os.path.realpath(paths[lib])], capture_output=True, text=True)
        if r.returncode != 0:
            r = subprocess.run(["dpkg", "-S", paths[lib]], capture_output=True, text=True)
        if r.returncode != 0:
            return None  # not a Debian-packaged library (or no dpkg): cannot compare
        pkgs.add(r.stdout.split(":")[0].strip())
    return pkgs


def check_dockerfile(obi):
    path = f"{DEPLOY}/Dockerfile"
    ins = dockerfile_instructions(path)
    froms = [(s, a) for s, w, a in ins if w == "FROM"]
    if len(froms) < 2:
        fail(f"{path}: not multi-stage ({len(froms)} FROM)")
        return
    names = {}
    for s, a in froms:
        parts = a.split()
        if not parts[0].startswith("debian:bookworm"):
            fail(f"{path}: stage {s} is not Debian bookworm: {parts[0]}")
        if len(parts) == 3 and parts[1].upper() == "AS":
            names[parts[2]] = s
    build, runtime = 0, len(froms) - 1
    by_stage = lambda st, w: [a for s, x, a in ins if s == st and x == w]

    # the build stage: the project's own install script, no second package list, cmake
    runs = by_stage(build, "RUN")
    if not any(re.search(r"(^|[\s;&])(\./)?scripts/install-deps\.sh\b", r) for r in runs):
        fail(f"{path}: the build stage does not run scripts/install-deps.sh")
    if any("apt-get install" in r or "apt install" in r for r in runs):
        fail(f"{path}: the build stage installs packages itself (use scripts/install-deps.sh)")
    if not any("cmake -S" in r for r in runs) or not any("cmake --build" in r for r in runs):
        fail(f"{path}: the build stage does not configure and build with cmake")
    if not any("-DCMAKE_BUILD_TYPE=Release" in r for r in runs):
        fail(f"{path}: the build is not a Release build")

    # every COPY from the context exists in the repository (the context is the repository root)
    in_git = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], capture_output=True).returncode == 0
    for s, w, a in ins:
        if w not in ("COPY", "ADD"):
            continue
        parts = a.split()
        opts = [p for p in parts if p.startswith("--")]
        srcs = [p for p in parts if not p.startswith("--")][:-1]
        frm = [o.split("=", 1)[1] for o in opts if o.startswith("--from=")]
        if frm:
            if frm[0] not in names or names[frm[0]] >= s:
                fail(f"{path}: COPY --from={frm[0]} names no earlier stage")
            continue
        for src in srcs:
            if not os.path.exists(src):
                fail(f"{path}: COPY source {src} is not in the repository")
            elif in_git and subprocess.run(["git", "ls-files", "--error-unmatch", src], capture_output=True).returncode:
                fail(f"{path}: COPY source {src} is not tracked by git (a clean checkout lacks it)")
    # the build stage has what CMakeLists.txt lists (configuring needs every named source)
    copied = set()
    for s, w, a in ins:
        if s == build and w == "COPY":
            copied.update(p.rstrip("/") for p in a.split()[:-1] if not p.startswith("--"))
    with open("CMakeLists.txt") as f:
        for src in sorted(set(re.findall(r"\b((?:src|test|bench)/[\w/.-]+\.c)\b", f.read()))):
            if src.split("/")[0] not in copied and src not in copied:
                fail(f"{path}: the build stage does not COPY {src}, which CMakeLists.txt names")

    # the runtime stage: exactly the packages of the libraries build/obi links
    rt_runs = " ".join(by_stage(runtime, "RUN"))
    m = re.search(r"apt-get install((?:\s+-[-\w]+)*)((?:\s+[a-z0-9][a-z0-9.+-]+)+)", rt_runs)
    rt_pkgs = set(m.group(2).split()) if m else set()
    # the image builds a Release obi: a sanitizer build links more (libasan, ...), so compare build/obi then
    release = obi
    dyn = subprocess.run(["readelf", "-d", obi], capture_output=True, text=True).stdout
    if re.search(r"lib(asan|ubsan|tsan)", dyn):
        release = os.path.abspath("build/obi") if os.path.isfile("build/obi") else None
    want = needed_packages(release) if release else None
    if want is None:
        print("deploy: (runtime packages not compared: no Release build/obi, or readelf/ldd/dpkg could not map its libraries)")
    else:
        want.discard("libc6")  # in every Debian base image
        if rt_pkgs != want:
            fail(f"{path}: runtime packages {sorted(rt_pkgs)} differ from what build/obi links {sorted(want)}")
    copies = " ".join(by_stage(runtime, "COPY"))
    for what in ("/src/build/obi", "/src/data", "/src/web"):
        if what not in copies:
            fail(f"{path}: the runtime stage does not copy {what}")

    users = by_stage(runtime, "USER")
    if not users or users[-1].split(":")[0] in ("root", "0"):
        fail(f"{path}: the runtime stage does not switch to a non-root user")
    expose = by_stage(runtime, "EXPOSE")
    if expose != ["8080"]:
        fail(f"{path}: EXPOSE is {expose}, not 8080")
    hc = by_stage(runtime, "HEALTHCHECK")
    if not hc or "/health" not in hc[0] or "127.0.0.1/8080" not in hc[0]:
        fail(f"{path}: no HEALTHCHECK on /health at port 8080")
    ep = exec_form(f"{path} ENTRYPOINT", (by_stage(runtime, "ENTRYPOINT") or ["[]"])[-1])
    cmd = exec_form(f"{path} CMD", (by_stage(runtime, "CMD") or ["[]"])[-1])
    if ep != ["/opt/obi/bin/obi"]:
        fail(f"{path}: ENTRYPOINT is {ep}, expected [\"/opt/obi/bin/obi\"]")
    check_serve_args(f"{path} CMD", cmd, serve_flags(obi))
    if arg_after(cmd, "--port") != "8080":
        fail(f"{path}: CMD's --port is not the EXPOSEd 8080")
    # the replay files of CMD are in the image (data/ is copied to /opt/obi/data), the model is trained in it
    for a in cmd:
        if a.startswith("/opt/obi/data/") and not os.path.exists(a[len("/opt/obi/"):]):
            fail(f"{path}: CMD names {a}, but {a[len('/opt/obi/'):]} is not in the repository")
    model = os.path.basename(arg_after(cmd, "--model") or "")
    if not model or not any(f"--out /out/model/{model}" in r for r in runs):
        fail(f"{path}: the CMD's model {model} is not trained in the build stage")


# ---- docker-compose.yml -----------------------------------------------------------------------------------
def check_compose(obi):
    path = f"{DEPLOY}/docker-compose.yml"
    doc = load_yaml(path)
    services = doc.get("services") or {}
    for want in ("obi", "kafka", "postgres", "prometheus", "grafana"):
        if want not in services:
            fail(f"{path}: no service '{want}'")
    declared_volumes = set((doc.get("volumes") or {}).keys())
    for name, svc in services.items():
        if not svc.get("image") and not svc.get("build"):
            fail(f"{path}: service {name} has neither image nor build")
        b = svc.get("build")
        if b:
            ctx = os.path.normpath(os.path.join(DEPLOY, b.get("context", ".") if isinstance(b, dict) else b))
            df = os.path.join(ctx, b.get("dockerfile", "Dockerfile") if isinstance(b, dict) else "Dockerfile")
            if not os.path.isdir(ctx) or not os.path.isfile(df):
                fail(f"{path}: service {name} builds {df}, which does not exist")
        for p in svc.get("ports") or []:
            if not re.fullmatch(r"(\d+:)?\d+(/tcp|/udp)?", str(p)):
                fail(f"{path}: service {name}: port '{p}' is not HOST:CONTAINER")
        for v in svc.get("volumes") or []:
            src = str(v).split(":")[0]
            if src.startswith((".", "/")):
                if not os.path.exists(os.path.normpath(os.path.join(DEPLOY, src))):
                    fail(f"{path}: service {name} mounts {src}, which does not exist")
            elif src not in declared_volumes:
                fail(f"{path}: service {name} mounts volume '{src}', not declared under volumes:")
        for dep in svc.get("depends_on") or []:
            if dep not in services:
                fail(f"{path}: service {name} depends on unknown service {dep}")
    for name, svc in services.items():  # no ZooKeeper anywhere
        if "zookeeper" in (name + str(svc.get("image", "")) + json.dumps(svc.get("environment") or {})).lower():
            fail(f"{path}: service {name} uses ZooKeeper (Kafka must run in KRaft mode)")
    kafka = services.get("kafka") or {}
    env = kafka.get("environment") or {}
    if "controller" not in str(env.get("KAFKA_PROCESS_ROLES", "")) or not env.get("KAFKA_CONTROLLER_QUORUM_VOTERS"):
        fail(f"{path}: kafka is not in KRaft mode (KAFKA_PROCESS_ROLES with controller, a quorum)")
    if not str((services.get("postgres") or {}).get("image", "")).startswith("timescale/timescaledb"):
        fail(f"{path}: postgres is not the timescale/timescaledb image")
    if "grafana" not in ((services.get("grafana") or {}).get("profiles") or []):
        fail(f"{path}: grafana is not optional (profile 'grafana')")

    obi_svc = services.get("obi") or {}
    cmd = obi_svc.get("command") or []
    if isinstance(cmd, str):
        cmd = shlex.split(cmd)
    cmd = [str(c) for c in cmd]
    check_serve_args(f"{path} obi command", cmd, serve_flags(obi))
    port = arg_after(cmd, "--port")
    if not any(str(p).split(":")[-1] == port for p in obi_svc.get("ports") or []):
        fail(f"{path}: obi listens on {port} but publishes {obi_svc.get('ports')}")
    mounted = {str(v).split(":")[1]: str(v).split(":")[0] for v in obi_svc.get("volumes") or []}
    for flag in ("--strategy", "--risk", "--token-file"):
        f = arg_after(cmd, flag)
        if f and f not in mounted:
            fail(f"{path}: obi reads {flag} {f}, which no volume mounts")

    # Prometheus scrapes obi's /metrics at the service's name and port; its rule files are mounted
    prom = load_yaml(f"{DEPLOY}/prometheus.yml")
    jobs = prom.get("scrape_configs") or []
    targets = [t for j in jobs for sc in j.get("static_configs") or [] for t in sc.get("targets") or []]
    if f"obi:{port}" not in targets:
        fail(f"{DEPLOY}/prometheus.yml: does not scrape obi:{port} (targets {targets})")
    if not any(j.get("metrics_path", "/metrics") == "/metrics" for j in jobs):
        fail(f"{DEPLOY}/prometheus.yml: no job scrapes /metrics")
    pmounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in (services.get("prometheus") or {}).get("volumes") or []}
    for rf in prom.get("rule_files") or []:
        if rf not in pmounts:
            fail(f"{DEPLOY}/prometheus.yml: rule file {rf} is not mounted into the prometheus service")
        else:
            load_yaml(os.path.join(DEPLOY, pmounts[rf]))

    # Grafana: provisioning parses, the dashboard provider's folder is where the dashboard is mounted
    gmounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in (services.get("grafana") or {}).get("volumes") or []}
    dash_dirs = []
    for target, src in gmounts.items():
        f = os.path.normpath(os.path.join(DEPLOY, src))
        if f.endswith((".yml", ".yaml")):
            y = load_yaml(f)
            for p in y.get("providers") or []:
                dash_dirs.append((p.get("options") or {}).get("path"))
            for d in y.get("datasources") or []:
                if d.get("url") != "http://prometheus:9090":
                    fail(f"{f}: datasource {d.get('name')} is not the compose prometheus")
        elif f.endswith(".json"):
            load_json(f)
    if not any(t.endswith("obi-dashboard.json") and os.path.dirname(t) in dash_dirs for t in gmounts):
        fail(f"{path}: the dashboard is not mounted into a provisioned dashboards folder ({dash_dirs})")


# ---- Kubernetes -------------------------------------------------------------------------------------------
def check_k8s(obi):
    k = f"{DEPLOY}/k8s"
    kust = load_yaml(f"{k}/kustomization.yaml")
    resources = kust.get("resources") or []
    on_disk = sorted(f for f in os.listdir(k) if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml")
    if sorted(resources) != on_disk:
        fail(f"{k}/kustomization.yaml: resources {sorted(resources)} are not the manifests {on_disk}")
    objs = {}
    for r in resources:
        if not os.path.isfile(f"{k}/{r}"):
            fail(f"{k}/kustomization.yaml: {r} does not exist")
            continue
        for d in load_yaml(f"{k}/{r}", multi=True):
            if d:
                objs.setdefault(d.get("kind"), []).append(d)
    for kind in ("Deployment", "Service", "ConfigMap", "Secret", "HorizontalPodAutoscaler"):
        if len(objs.get(kind, [])) != 1:
            fail(f"{k}: expected one {kind}, found {len(objs.get(kind, []))}")
            return
    dep, svc, cm, sec, hpa = (objs[x][0] for x in ("Deployment", "Service", "ConfigMap", "Secret", "HorizontalPodAutoscaler"))
    pod = dep["spec"]["template"]
    sel = dep["spec"]["selector"]["matchLabels"]
    if any(pod["metadata"]["labels"].get(a) != b for a, b in sel.items()):
        fail(f"{k}: the Deployment's selector does not match its pod labels")
    if any(pod["metadata"]["labels"].get(a) != b for a, b in svc["spec"]["selector"].items()):
        fail(f"{k}: the Service's selector does not match the pod labels")
    c = pod["spec"]["containers"][0]
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
    args = [str(a) for a in c.get("args") or []]
    check_serve_args(f"{k}/deployment.yaml args", args, serve_flags(obi))
    if str(arg_after(args, "--port")) not in [str(v) for v in ports.values()]:
        fail(f"{k}: obi listens on {arg_after(args, '--port')} but the container ports are {ports}")

    def probe_port(p):
        port = p["httpGet"]["port"]
        return ports.get(port) if isinstance(port, str) else port

    for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
        p = c.get(probe) or {}
        if (p.get("httpGet") or {}).get("path") != path:
            fail(f"{k}: {probe} is not an HTTP GET of {path}")
        elif probe_port(p) not in ports.values():
            fail(f"{k}: {probe} port {p['httpGet']['port']} is not a container port {ports}")
    res = c.get("resources") or {}
    if not all((res.get(a) or {}).get(b) for a in ("requests", "limits") for b in ("cpu", "memory")):
        fail(f"{k}: the container lacks cpu/memory requests and limits (the HPA needs the cpu request)")
    tok = [e for e in c.get("env") or [] if e.get("name") == "OBI_ADMIN_TOKEN"]
    ref = ((tok[0].get("valueFrom") or {}).get("secretKeyRef") or {}) if tok else {}
    sec_keys = set((sec.get("stringData") or {}).keys()) | set((sec.get("data") or {}).keys())
    if ref.get("name") != sec["metadata"]["name"] or ref.get("key") not in sec_keys:
        fail(f"{k}: OBI_ADMIN_TOKEN does not come from the Secret {sec['metadata']['name']} ({ref})")
    sp = svc["spec"]["ports"][0]
    tp = sp.get("targetPort", sp.get("port"))
    if (ports.get(tp) if isinstance(tp, str) else tp) not in ports.values():
        fail(f"{k}: the Service's targetPort {tp} is not a container port")
    # the ConfigMap is mounted where --strategy and --risk read, and holds the compose file's JSON
    vols = {v["name"]: v for v in pod["spec"].get("volumes") or []}
    mounts = {m["mountPath"].rstrip("/"): m["name"] for m in c.get("volumeMounts") or []}
    for flag in ("--strategy", "--risk"):
        f = arg_after(args, flag)
        if not f:
            fail(f"{k}: the Deployment does not pass {flag}")
            continue
        vol = vols.get(mounts.get(os.path.dirname(f)), {})
        if (vol.get("configMap") or {}).get("name") != cm["metadata"]["name"]:
            fail(f"{k}: {flag} {f} is not in the mounted ConfigMap")
        key = os.path.basename(f)
        if key not in (cm.get("data") or {}):
            fail(f"{k}: the ConfigMap has no {key}")
            continue
        try:
            if json.loads(cm["data"][key]) != load_json(f"{DEPLOY}/config/{key}"):
                fail(f"{k}: the ConfigMap's {key} differs from {DEPLOY}/config/{key}")
        except ValueError as e:
            fail(f"{k}: the ConfigMap's {key} is not JSON: {e}")
    ref = hpa["spec"]["scaleTargetRef"]
    if ref.get("kind") != "Deployment" or ref.get("name") != dep["metadata"]["name"]:
        fail(f"{k}: the HPA does not scale the Deployment")
    if not any(m.get("type") == "Resource" and m["resource"]["name"] == "cpu" for m in hpa["spec"].get("metrics") or []):
        fail(f"{k}: the HPA is not CPU based")
    # the same command as the compose file and the image
    compose = load_yaml(f"{DEPLOY}/docker-compose.yml")
    ccmd = [str(a) for a in ((compose.get("services") or {}).get("obi") or {}).get("command") or []]
    if ccmd != args:
        fail(f"{k}: the Deployment's args differ from the compose file's obi command")
    # kustomize renders it (offline) where kubectl is installed
    try:
        r = subprocess.run(["kubectl", "kustomize", k], capture_output=True, text=True, timeout=60)
        if r.returncode:
            fail(f"kubectl kustomize {k}: {r.stderr.strip()}")
        else:
            print(f"deploy: kubectl kustomize rendered {len(list(yaml.safe_load_all(r.stdout)))} objects")
    except (OSError, subprocess.TimeoutExpired):
        print("deploy: (kubectl not installed: kustomize rendering not checked)")


# ---- metrics ----------------------------------------------------------------------------------------------
def documented_metrics():
    with open("docs/api.md") as f:
        text = f.read()
    m = re.search(r"^## Metrics.*?$(.*?)^## ", text, re.M | re.S)
    rows = [l for l in (m.group(1) if m else "").splitlines() if l.startswith("|")]
    names = {}
    for l in rows:
        cells = l.split("|")
        for n in re.findall(r"`(obi_[a-z0-9_]+)`", cells[1] if len(cells) > 1 else ""):
            names[n] = cells[2].strip() if len(cells) > 2 else ""
    if len(names) < 10:
        fail(f"docs/api.md: found only {len(names)} metrics in the Metrics table")
    return names


def used_metrics(text):
    return set(re.findall(r"\bobi_[a-z0-9_]+", text))


def check_metrics(obi):
    docs = documented_metrics()
    src = ""
    for d, _, files in os.walk("src"):
        for f in files:
            if f.endswith(".c"):
                with open(os.path.join(d, f)) as fh:
                    src += fh.read()
    for n in sorted(docs):  # the table is true: obi exports each
        if f'"{n}"' not in src:
            fail(f"docs/api.md lists {n}, which no source file exports")

    def base(n):
        for suffix in ("_bucket", "_sum", "_count"):
            if n.endswith(suffix) and n[: -len(suffix)] in docs and "histogram" in docs[n[: -len(suffix)]]:
                return n[: -len(suffix)]
        return n

    dash = load_json(f"{DEPLOY}/grafana/obi-dashboard.json")
    exprs = [t.get("expr", "") for p in dash.get("panels") or [] for t in p.get("targets") or []]
    if not exprs:
        fail(f"{DEPLOY}/grafana/obi-dashboard.json: no panel queries")
    dash_metrics = {base(n) for e in exprs for n in used_metrics(e)}
    want = {"obi_events_total", "obi_prediction_latency_seconds", "obi_http_requests_total", "obi_model_accuracy",
            "obi_feature_psi_max", "obi_paper_pnl", "obi_risk_state"}
    for n in sorted(want - dash_metrics):
        fail(f"{DEPLOY}/grafana/obi-dashboard.json: no panel shows {n}")
    files = {f"{DEPLOY}/grafana/obi-dashboard.json": dash_metrics}
    for f in (f"{DEPLOY}/prometheus.yml", f"{DEPLOY}/prometheus-rules.yml"):
        load_yaml(f)
        with open(f) as fh:
            files[f] = {base(n) for n in used_metrics(fh.read())}
    for f, names in files.items():
        for n in sorted(names - set(docs)):
            fail(f"{f}: {n} is not in docs/api.md's metrics table")
    print(f"deploy: {len(set().union(*files.values()))} metrics used in the dashboard and the Prometheus files; {len(docs)} documented")


# ---- the container's commands, run here ------------------------------------------------------------------
def check_run(obi):
    """Runs the Dockerfile's model-training RUN, its CMD and its HEALTHCHECK on this machine, with /opt/obi
    mapped to the repository (build/obi for the binary, a scratch folder for the model) and port 8080 to a
    free loopback port: the container's commands work, short of the container."""
    path = f"{DEPLOY}/Dockerfile"
    ins = dockerfile_instructions(path)
    tmp = tempfile.mkdtemp(prefix="obi_deploy_")
    train = [a for s, w, a in ins if w == "RUN" and "obi train" in a]
    if len(train) != 1:
        fail(f"{path}: expected one RUN that trains the model")
        return
    cmdline = train[0].replace("build/obi", shlex.quote(os.path.abspath(obi))).replace("/out/", tmp + "/out/")
    r = subprocess.run(["sh", "-ec", cmdline], capture_output=True, text=True, timeout=120)
    if r.returncode:
        fail(f"{path}: the training RUN failed here: {r.stderr.strip()[:400]}")
        return
    stage = max(s for s, w, a in ins)
    cmd = exec_form(path, [a for s, w, a in ins if w == "CMD"][-1])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def local(a):
        if a.startswith("/opt/obi/model/"):
            return f"{tmp}/out/model/" + a[len("/opt/obi/model/"):]
        return a.replace("/opt/obi/", "") if a.startswith("/opt/obi/") else a

    args = [local(a) for a in cmd]
    args[args.index("--port") + 1] = str(port)
    args[args.index("--bind") + 1] = "127.0.0.1"
    hc = [a for s, w, a in ins if s == stage and w == "HEALTHCHECK"][0]
    hc_cmd = exec_form(path, hc[hc.index("CMD") + 3:].strip())
    hc_cmd = [a.replace("127.0.0.1/8080", f"127.0.0.1/{port}") for a in hc_cmd]
    proc = subprocess.Popen([obi] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ok = False
        for _ in range(100):  # up to 10 s for the server to answer
            if proc.poll() is not None:
                break
            if subprocess.run(hc_cmd, capture_output=True, timeout=5).returncode == 0:
                ok = True
                break
            time.sleep(0.1)
        if not ok:
            out = proc.stdout.read() if proc.poll() is not None else ""
            fail(f"{path}: the HEALTHCHECK did not pass against the CMD's obi serve: {out.strip()[:400]}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
            fail("obi serve did not stop on SIGTERM within 10 s")
        subprocess.run(["rm", "-rf", tmp])
    if rc != 0:
        fail(f"obi serve with the Dockerfile's CMD exited {rc} on SIGTERM")
    if subprocess.run(hc_cmd, capture_output=True, timeout=5).returncode == 0:
        fail(f"{path}: the HEALTHCHECK passes with nothing listening")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    section, obi = sys.argv[1], os.path.abspath(sys.argv[2])
    checks = {"dockerfile": check_dockerfile, "compose": check_compose, "k8s": check_k8s,
              "metrics": check_metrics, "run": check_run}
    if section not in checks:
        print(f"unknown section {section}")
        return 2
    checks[section](obi)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
