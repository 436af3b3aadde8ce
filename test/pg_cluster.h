/* pg_cluster.h — a throwaway PostgreSQL cluster for the store's tests and benchmark: initdb
 * into a temporary directory (as `postgres` through runuser when run as root), pg_ctl start on
 * a free loopback port with the socket in that directory, stopped and removed at exit. A
 * directory left by a process that died before its atexit is reaped by the next start. */
#ifndef OBI_PG_CLUSTER_H
#define OBI_PG_CLUSTER_H

typedef struct {
  int state; /* 0 not tried, 1 running, -1 unavailable */
  char bin[256], dir[64], as_user[64], why[300];
  int port;
  /* server settings for pg_ctl start (postgres -c ...); default "-c fsync=off" (tests need no
   * durability); set before pg_up, or before pg_ctl("restart") to change them */
  char settings[256];
} pg_cluster;

extern pg_cluster pg;

/* Starts the cluster once; NULL when it runs, else why it cannot (a skip message). */
const char *pg_up(void);
/* pg_ctl ACTION (start, "-m fast stop", restart, ...) on the cluster; the exit status. */
int pg_ctl(const char *action);
/* Runs SQL as the superuser on database db; 0 on success (else prints the error as a "# " line). */
int pg_sql(const char *db, const char *sql);
/* A loopback TCP port free now, or -1. */
int free_port(void);

#endif
