/* pg_cluster.c — the throwaway PostgreSQL cluster of test_store.c and bench_store.c
 * (pg_cluster.h). Everything goes through pg_ctl and initdb run by system(); the cluster's
 * directory is /tmp/obi_pg_XXXXXX with owner.pid naming the process that started it, so a
 * later start can reap the clusters of processes that died before their atexit. */
#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg_cluster.h"

pg_cluster pg;

static int sh(const char *fmt, ...) {
  char cmd[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  return system(cmd);
}

int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

int pg_ctl(const char *action) {
  if (!pg.settings[0]) snprintf(pg.settings, sizeof pg.settings, "-c fsync=off");
  return sh("%s'%s/pg_ctl' -D '%s/data' -l '%s/log' -w -t 30 -o '-c listen_addresses=127.0.0.1 -k %s -p %d %s' %s "
            ">/dev/null 2>&1",
            pg.as_user, pg.bin, pg.dir, pg.dir, pg.dir, pg.port, pg.settings, action);
}

static void pg_cleanup(void) {
  if (pg.state != 1) return;
  sh("%s'%s/pg_ctl' -D '%s/data' -m immediate -w stop >/dev/null 2>&1", pg.as_user, pg.bin, pg.dir);
  sh("rm -rf '%s'", pg.dir);
}

/* Stops and removes the clusters of earlier runs that died before their atexit (a crash,
 * an ASan abort): each directory names its owner's pid in owner.pid. */
static void pg_reap_orphans(void) {
  glob_t g;
  if (glob("/tmp/obi_pg_*/owner.pid", 0, NULL, &g) != 0) return;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    FILE *f = fopen(g.gl_pathv[i], "r");
    int pid = 0;
    if (!f) continue;
    if (fscanf(f, "%d", &pid) != 1) pid = 0;
    fclose(f);
    if (pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH) continue;
    int len = (int)(strlen(g.gl_pathv[i]) - strlen("/owner.pid"));
    sh("%s'%s/pg_ctl' -D '%.*s/data' -m immediate -w stop >/dev/null 2>&1", pg.as_user, pg.bin, len, g.gl_pathv[i]);
    sh("rm -rf '%.*s'", len, g.gl_pathv[i]);
  }
  globfree(&g);
}

/* Starts the cluster once; NULL when it runs, else why it cannot (the skip message). */
const char *pg_up(void) {
  if (pg.state == 1) return NULL;
  if (pg.state == -1) return pg.why;
  pg.state = -1;
  glob_t g;
  if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0) {
    snprintf(pg.why, sizeof pg.why,
             "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb); "
             "scripts/install-deps.sh --test installs them");
    return pg.why;
  }
  snprintf(pg.bin, sizeof pg.bin, "%.*s", (int)(strlen(g.gl_pathv[g.gl_pathc - 1]) - 7), g.gl_pathv[g.gl_pathc - 1]);
  globfree(&g);
  snprintf(pg.dir, sizeof pg.dir, "/tmp/obi_pg_XXXXXX");
  if (!mkdtemp(pg.dir) || chmod(pg.dir, 0755) != 0) return snprintf(pg.why, sizeof pg.why, "mkdtemp failed"), pg.why;
  if (geteuid() == 0) { /* initdb refuses to run as root */
    struct passwd *pw = getpwnam("postgres");
    if (!pw || chown(pg.dir, pw->pw_uid, pw->pw_gid) != 0) {
      snprintf(pg.why, sizeof pg.why, "running as root and there is no 'postgres' user to run initdb as");
      sh("rm -rf '%s'", pg.dir);
      return pg.why;
    }
    snprintf(pg.as_user, sizeof pg.as_user, "runuser -u postgres -- ");
  }
  pg_reap_orphans();
  char owner[128];
  snprintf(owner, sizeof owner, "%s/owner.pid", pg.dir);
  FILE *f = fopen(owner, "w");
  if (f) fprintf(f, "%d\n", (int)getpid()), fclose(f);
  pg.port = free_port();
  if (sh("%s'%s/initdb' -D '%s/data' -A trust -U postgres -E UTF8 --no-sync >'%s/initdb.log' 2>&1", pg.as_user, pg.bin,
         pg.dir, pg.dir) != 0 ||
      pg_ctl("start") != 0) {
    snprintf(pg.why, sizeof pg.why, "could not start a cluster in %s (see initdb.log, log there)", pg.dir);
    return pg.why; /* left for inspection */
  }
  pg.state = 1;
  atexit(pg_cleanup);
  return NULL;
}

static void no_notice(void *arg, const char *msg) { (void)arg, (void)msg; }

/* Runs SQL as the superuser on database db; 0 on success. */
int pg_sql(const char *db, const char *sql) {
  char info[256];
  snprintf(info, sizeof info, "postgresql://postgres@127.0.0.1:%d/%s", pg.port, db);
  PGconn *c = PQconnectdb(info);
  int ok = PQstatus(c) == CONNECTION_OK;
  if (ok) {
    PQsetNoticeProcessor(c, no_notice, NULL);
    PGresult *r = PQexec(c, sql);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) printf("# %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
  }
  PQfinish(c);
  return ok ? 0 : -1;
}
