/* latency.c — latency models of the simulator: a constant, a distribution drawn from a seeded
 * generator, or a measured series interpolated in time.
 *
 * Distributions: uniform on [a, b]; exponential with mean a; lognormal with median a and log
 * standard deviation b (the usual shape of network round trips: a floor plus a right tail).
 * Draws use splitmix64 (Steele, Lea and Flood 2014), so a seed fixes a whole backtest. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obi/sim.h"

double sim_uniform(uint64_t *rng) {
  uint64_t z = (*rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

/* "250us" -> 250000; a bare number is ns. Returns -1 when malformed or negative. */
static double parse_duration(const char *s, const char *end) {
  char buf[64];
  size_t n = (size_t)(end - s);
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = 0;
  char *unit;
  errno = 0;
  double v = strtod(buf, &unit);
  if (errno || unit == buf || !(v >= 0) || !isfinite(v)) return -1;
  /* at most 1e15 ns (11.6 days): times stay far from overflow */
  static const struct {
    const char *name;
    double ns;
  } units[] = {{"", 1}, {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
  for (size_t i = 0; i < sizeof units / sizeof *units; i++)
    if (!strcmp(unit, units[i].name)) return v * units[i].ns <= 1e15 ? v * units[i].ns : -1;
  return -1;
}

static obi_err load_file(sim_latency *l, const char *path, char *why, size_t why_len) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(why, why_len, "latency file %s: %s", path, strerror(errno));
    return OBI_ENOENT;
  }
  l->kind = SIM_LAT_FILE;
  obi_err err = sim_latency_read(l, f, path, why, why_len);
  fclose(f);
  return err;
}

obi_err sim_latency_read(sim_latency *l, FILE *f, const char *path, char *why, size_t why_len) {
  char line[256];
  size_t cap = 0, lineno = 0;
  obi_err err = OBI_OK;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    if (lineno == 1 && strstr(line, "time")) continue; /* header */
    if (line[0] == '\n' || line[0] == '#') continue;
    long long t, v;
    char extra;
    if (sscanf(line, "%lld,%lld %c", &t, &v, &extra) != 2 || v < 0 || v > 1000000000000000LL || t < 0 ||
        (l->n && t <= l->at[l->n - 1])) {
      snprintf(why, why_len,
               "latency file %s:%zu: expected 'time_ns,latency_ns', times >= 0 and strictly rising, latency in [0, "
               "1e15] ns",
               path, lineno);
      err = OBI_EPARSE;
      break;
    }
    if (l->n == cap) {
      cap = cap ? 2 * cap : 256;
      int64_t *a = realloc(l->at, cap * sizeof *a), *b = a ? realloc(l->value, cap * sizeof *b) : NULL;
      if (a) l->at = a;
      if (!b) {
        err = OBI_ENOMEM;
        break;
      }
      l->value = b;
    }
    l->at[l->n] = t, l->value[l->n] = v, l->n++;
  }
  if (!err && l->n == 0) {
    snprintf(why, why_len, "latency file %s: no rows", path);
    err = OBI_EPARSE;
  }
  return err;
}

obi_err sim_latency_parse(sim_latency *l, const char *spec, char *why, size_t why_len) {
  memset(l, 0, sizeof *l);
  if (!strncmp(spec, "file:", 5)) {
    l->kind = SIM_LAT_FILE;
    obi_err err = load_file(l, spec + 5, why, why_len);
    if (err) sim_latency_free(l);
    return err;
  }
  static const struct {
    const char *prefix;
    sim_latency_kind kind;
    int args;
  } forms[] = {{"uniform:", SIM_LAT_UNIFORM, 2}, {"exp:", SIM_LAT_EXP, 1}, {"lognormal:", SIM_LAT_LOGNORMAL, 2}};
  const char *p = spec;
  int args = 1;
  l->kind = SIM_LAT_CONST;
  for (size_t i = 0; i < sizeof forms / sizeof *forms; i++)
    if (!strncmp(spec, forms[i].prefix, strlen(forms[i].prefix))) {
      l->kind = forms[i].kind, args = forms[i].args, p = spec + strlen(forms[i].prefix);
      break;
    }
  const char *colon = strchr(p, ':');
  const char *end1 = colon ? colon : p + strlen(p);
  l->a = parse_duration(p, end1);
  int ok = l->a >= 0 && (args == 1 ? !colon : colon != NULL);
  if (ok && args == 2) {
    char *e;
    if (l->kind == SIM_LAT_LOGNORMAL) { /* sigma is unitless */
      l->b = strtod(colon + 1, &e);
      ok = *e == 0 && e != colon + 1 && l->b >= 0 && l->b <= 5 && l->a > 0; /* sigma <= 5: tails stay finite */
    } else {
      l->b = parse_duration(colon + 1, colon + 1 + strlen(colon + 1));
      ok = l->b >= l->a;
    }
  }
  if (!ok) {
    snprintf(why, why_len,
             "latency '%s': expected a duration up to 1e15 ns (250us, 1ms), uniform:LO:HI, exp:MEAN, "
             "lognormal:MEDIAN:SIGMA (median > 0, sigma <= 5) or file:PATH",
             spec);
    return OBI_EPARSE;
  }
  return OBI_OK;
}

void sim_latency_free(sim_latency *l) {
  free(l->at);
  free(l->value);
  l->at = l->value = NULL;
  l->n = 0;
}

int64_t sim_latency_draw(const sim_latency *l, int64_t now_ns, uint64_t *rng) {
  double v = 0;
  switch (l->kind) {
  case SIM_LAT_CONST: v = l->a; break;
  case SIM_LAT_UNIFORM: v = l->a + (l->b - l->a) * sim_uniform(rng); break;
  case SIM_LAT_EXP: v = -l->a * log1p(-sim_uniform(rng)); break;
  case SIM_LAT_LOGNORMAL: { /* Box-Muller */
    double u1 = sim_uniform(rng), u2 = sim_uniform(rng);
    double z = sqrt(-2 * log1p(-u1)) * cos(6.283185307179586 * u2);
    v = l->a * exp(l->b * z);
    break;
  }
  case SIM_LAT_FILE: {
    if (now_ns <= l->at[0]) return l->value[0];
    if (now_ns >= l->at[l->n - 1]) return l->value[l->n - 1];
    size_t lo = 0, hi = l->n - 1; /* at[lo] < now <= at[hi] */
    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      if (l->at[mid] < now_ns)
        lo = mid;
      else
        hi = mid;
    }
    double w = (double)(now_ns - l->at[lo]) / (double)(l->at[hi] - l->at[lo]);
    v = (double)l->value[lo] + w * (double)(l->value[hi] - l->value[lo]);
    break;
  }
  }
  if (!(v >= 0)) return 0; /* NaN cannot come from a parsed spec; stay safe */
  return v > 1e15 ? (int64_t)1e15 : (int64_t)llround(v);
}
