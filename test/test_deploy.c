/* test_deploy.c — deploy/ checked as far as this machine allows without a Docker engine or a cluster
 * (docs/deploy.md). The YAML/JSON checks are in test/deploy_check.py (Debian's python3 with python3-yaml;
 * skipped with a message when PyYAML is missing); the strategy and risk JSON that the compose file and
 * the ConfigMap hand to `obi serve` go through obi's own parsers here. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "obi/backtest.h"
#include "obi/risk.h"
#include "test.h"

/* Runs deploy_check.py SECTION against the built obi; fails with what it printed, or skips. */
static void deploy_check(const char *section) {
  if (access("/usr/bin/python3", X_OK) != 0) {
    test_skip("no /usr/bin/python3");
    return;
  }
  char out[600], cmd[2048];
  snprintf(out, sizeof out, "%s/deploy_check_%s.txt", test_tmpdir(), section);
  snprintf(cmd, sizeof cmd, "cd '%s' && /usr/bin/python3 test/deploy_check.py %s '%s' >'%s' 2>&1", OBI_SOURCE_DIR,
           section, OBI_BIN, out);
  int status = system(cmd);
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  const char *text = test_read_file(out);
  if (rc == 77) {
    char why[256];
    snprintf(why, sizeof why, "%s", text ? text : "skipped");
    why[strcspn(why, "\n")] = 0;
    test_skip(why);
    return;
  }
  if (rc != 0) test_fail(__FILE__, __LINE__, "deploy_check.py %s exited %d:\n%s", section, rc, text ? text : "");
}

/* Multi-stage on bookworm, the build stage runs scripts/install-deps.sh and cmake, COPY sources exist and
 * are tracked, the runtime packages are exactly those of the libraries build/obi links, non-root, EXPOSE
 * 8080, HEALTHCHECK on /health, CMD = obi serve with known options bound to 0.0.0.0. */
void deploy_dockerfile_checks(void) { deploy_check("dockerfile"); }

/* Every service has an image or a build, mounted files and declared volumes exist, Kafka is KRaft (no
 * ZooKeeper), TimescaleDB image, Prometheus scrapes obi's published port at /metrics, Grafana is optional
 * and its provisioning points at the mounted dashboard. */
void deploy_compose_checks(void) { deploy_check("compose"); }

/* kustomization lists every manifest; probes GET /health and /ready on the container port; resources;
 * OBI_ADMIN_TOKEN from the Secret; ConfigMap mounted where --strategy/--risk read; Service and HPA target
 * the Deployment; the same args as compose; `kubectl kustomize` renders where kubectl is installed. */
void deploy_k8s_checks(void) { deploy_check("k8s"); }

/* Every metric in the Grafana dashboard and the Prometheus files is in docs/api.md's table, and every
 * metric in that table is exported by a source file. */
void deploy_metrics_are_documented_and_exported(void) { deploy_check("metrics"); }

/* The Dockerfile's training RUN, its CMD and its HEALTHCHECK, run here with /opt/obi mapped onto the
 * repository: the health check passes against the server and fails once it has stopped (SIGTERM, exit 0). */
void deploy_container_commands_run_here(void) { deploy_check("run"); }

/* deploy/config/{strategy,risk}.json (the compose mounts; deploy_k8s_checks holds the ConfigMap equal to
 * them) are accepted by obi's parsers and the risk manager initialises with them. */
void deploy_config_json_accepted_by_obi(void) {
  char why[256] = "", path[600];
  snprintf(path, sizeof path, "%s/deploy/config/strategy.json", OBI_SOURCE_DIR);
  const char *text = test_read_file(path);
  CHECK(text);
  strat_config sc;
  strat_config_default(&sc);
  if (strat_config_from_json(&sc, text, why, sizeof why) != 0) {
    test_fail(__FILE__, __LINE__, "%s: %s", path, why);
    return;
  }
  CHECK(sc.size > 0 && sc.threshold > 0 && sc.threshold <= 1);

  snprintf(path, sizeof path, "%s/deploy/config/risk.json", OBI_SOURCE_DIR);
  text = test_read_file(path);
  CHECK(text);
  risk_config rc;
  risk_config_default(&rc);
  if (risk_config_from_json(&rc, text, why, sizeof why) != 0) {
    test_fail(__FILE__, __LINE__, "%s: %s", path, why);
    return;
  }
  obi_risk r;
  obi_err err = risk_init(&r, &rc, 1);
  risk_free(&r);
  CHECK_EQ(err, 0);
  CHECK(rc.max_position >= (double)sc.size); /* the limit lets the strategy's order through */
}
