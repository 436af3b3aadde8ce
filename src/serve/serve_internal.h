/* serve_internal.h — what the files of src/serve share: the metrics registry. */
#ifndef OBI_SERVE_INTERNAL_H
#define OBI_SERVE_INTERNAL_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "obi/serve.h"

#define SERVE_BUCKETS 14

typedef struct {
  char name[96], labels[256], help[160];
  char kind; /* 'c' counter, 'g' gauge, 'h' histogram */
  double value, sum;
  uint64_t bucket[SERVE_BUCKETS], count;
} serve_series;

typedef struct {
  pthread_mutex_t lock;
  serve_series *s;
  size_t n, cap;
} serve_registry;

serve_registry *server_registry(obi_server *s);
void registry_free(serve_registry *r);

#endif
