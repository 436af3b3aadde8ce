/* sim_internal.h — what the files of src/sim share and nobody else needs. */
#ifndef OBI_SIM_INTERNAL_H
#define OBI_SIM_INTERNAL_H
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

/* Makes room for element n of a doubling array (*p, capacity *cap, item bytes, first capacity
 * first): 0, or -1 when memory is gone (the array is left as it was). */
static inline int sim_grow(void **p, size_t *cap, size_t n, size_t item, size_t first) {
  if (n < *cap) return 0;
  size_t c = *cap ? *cap * 2 : first;
  void *q = realloc(*p, c * item);
  if (!q) return -1;
  *p = q, *cap = c;
  return 0;
}

/* A configuration text parsed as a JSON object (the caller json_decrefs it), or NULL with why
 * saying "<what>: not a JSON object (line L: ...)". */
static inline json_t *sim_json_object(const char *text, const char *what, char *why, size_t why_len) {
  json_error_t jerr;
  json_t *o = json_loads(text, 0, &jerr);
  if (json_is_object(o)) return o;
  snprintf(why, why_len, "%s: not a JSON object (line %d: %s)", what, jerr.line, o ? "" : jerr.text);
  json_decref(o);
  return NULL;
}

#endif
