/* model.c — logistic regression, LSTM and attention-LSTM behind the obi_model interface.
 *
 * Parameters: one float slab, laid out per kind (see layout()); gradients: a second slab with
 * the same layout. Activations are kept in buffers sized for the largest batch seen.
 *
 * Streaming (model_step): the model is a function of the last T rows, and the recurrence
 * starts from zero at the start of each window, so an LSTM state carried forward forever
 * would not equal the window forward pass. What can be carried exactly is the input side:
 * each row's normalised values and its input projection w_ih x + b (4H) are computed once,
 * when the row arrives, and kept in a ring of T; a step then runs only the recurrence over
 * the ring (T products with w_hh, 4H x H each) — O(T H^2) instead of O(T H (C + H)). */
#include "obi/model.h"

#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "obi/nn.h"
#include "obi/safetensors.h"

#define MODEL_FORMAT_VERSION "1"

static const char *const kind_names[MODEL__COUNT] = {"logistic", "lstm",  "attn_lstm", "transformer",
                                                     "deeplob",  "bayes", "xgb",       "ensemble"};

/* The kinds that read only the last row of a window (their window must be 1). */
static int reads_one_row(model_kind kind) { return kind == MODEL_LOGISTIC || kind == MODEL_BAYES || kind == MODEL_XGB; }

void model_config_default(model_config *c, model_kind kind) {
  memset(c, 0, sizeof *c);
  c->kind = kind;
  c->window = reads_one_row(kind) ? 1 : kind == MODEL_DEEPLOB ? 50 : 20;
  c->max_depth = 6;
  c->prior_precision = 1.0;
  c->forgetting = 1.0;
  c->hidden = kind == MODEL_DEEPLOB ? 64 : 32;
  c->attn = 16;
  c->layers = 2;
  c->heads = 4;
  c->ffn = 64;
  c->epochs = kind == MODEL_LOGISTIC ? 20 : kind == MODEL_XGB ? 300 : 10;
  c->batch = 64;
  c->lr = kind == MODEL_LOGISTIC ? 1e-2 : kind == MODEL_XGB ? 0.1 : 2e-3;
  c->weight_decay = 1e-4;
  c->clip = 1.0;
  c->dropout = kind == MODEL_LOGISTIC ? 0.0 : 0.1;
  c->warmup_steps = 50;
  c->patience = 3;
  c->val_fraction = 0.2;
  c->class_weights = 1;
  c->seed = 42;
  snprintf(c->bases, sizeof c->bases, "logistic,lstm,xgb");
  c->stack = 1;
  c->ens_folds = 3;
}

int model_kind_from_name(const char *name) {
  for (int k = 0; k < MODEL__COUNT; k++)
    if (!strcmp(name, kind_names[k])) return k;
  return -1;
}

const char *model_kind_name(model_kind kind) { return kind < MODEL__COUNT ? kind_names[kind] : "?"; }

obi_err model_config_from_json(model_config *c, const char *text, char *why, size_t why_len) {
  json_error_t jerr;
  json_t *o = json_loads(text, 0, &jerr);
  if (!o || !json_is_object(o)) {
    snprintf(why, why_len, "not a JSON object (line %d: %s)", jerr.line, o ? "" : jerr.text);
    json_decref(o);
    return OBI_EPARSE;
  }
  static const struct {
    const char *key;
    int is_int;
    size_t off;
    double lo, hi;
  } fields[] = {
      {"window", 1, offsetof(model_config, window), 1, 1000},
      {"hidden", 1, offsetof(model_config, hidden), 1, 1024},
      {"attn", 1, offsetof(model_config, attn), 1, 1024},
      {"layers", 1, offsetof(model_config, layers), 1, TF_MAX_LAYERS},
      {"heads", 1, offsetof(model_config, heads), 1, 64},
      {"ffn", 1, offsetof(model_config, ffn), 1, 4096},
      {"epochs", 1, offsetof(model_config, epochs), 1, 10000},
      {"batch", 1, offsetof(model_config, batch), 1, 65536},
      {"warmup_steps", 1, offsetof(model_config, warmup_steps), 0, 1e9},
      {"patience", 1, offsetof(model_config, patience), 1, 10000},
      {"class_weights", 1, offsetof(model_config, class_weights), 0, 1},
      {"lr", 0, offsetof(model_config, lr), 1e-9, 10},
      {"weight_decay", 0, offsetof(model_config, weight_decay), 0, 10},
      {"clip", 0, offsetof(model_config, clip), 0, 1e6},
      {"dropout", 0, offsetof(model_config, dropout), 0, 0.95},
      {"val_fraction", 0, offsetof(model_config, val_fraction), 0.01, 0.9},
      {"prior_precision", 0, offsetof(model_config, prior_precision), 1e-6, 1e6},
      {"forgetting", 0, offsetof(model_config, forgetting), 0.5, 1.0},
      {"max_depth", 1, offsetof(model_config, max_depth), 1, 20},
      {"best_rounds", 1, offsetof(model_config, best_rounds), 0, 1000000},
      {"stack", 1, offsetof(model_config, stack), 0, 1},
      {"ens_folds", 1, offsetof(model_config, ens_folds), 2, 10},
  };
  const char *key;
  json_t *v;
  obi_err err = OBI_OK;
  json_object_foreach(o, key, v) {
    size_t i = 0, n = sizeof fields / sizeof fields[0];
    if (!strcmp(key, "seed") && json_is_integer(v)) {
      c->seed = (uint64_t)json_integer_value(v);
      continue;
    }
    if (!strcmp(key, "bases")) {
      model_kind kinds[ENS_MAX_BASES];
      if (!json_is_string(v) || strlen(json_string_value(v)) >= sizeof c->bases ||
          ens_parse_bases(json_string_value(v), kinds) < 0) {
        snprintf(why, why_len, "'bases' must be a comma-separated list of 1 to %d model kinds (not ensemble)",
                 ENS_MAX_BASES);
        err = OBI_EPARSE;
        break;
      }
      snprintf(c->bases, sizeof c->bases, "%s", json_string_value(v));
      continue;
    }
    while (i < n && strcmp(fields[i].key, key)) i++;
    if (i == n) {
      snprintf(why, why_len, "unknown key '%s'", key);
      err = OBI_EPARSE;
      break;
    }
    if (!json_is_number(v) || (fields[i].is_int && !json_is_integer(v))) {
      snprintf(why, why_len, "'%s' must be %s", key, fields[i].is_int ? "an integer" : "a number");
      err = OBI_EPARSE;
      break;
    }
    double x = json_number_value(v);
    if (x < fields[i].lo || x > fields[i].hi) {
      snprintf(why, why_len, "'%s' must be between %g and %g", key, fields[i].lo, fields[i].hi);
      err = OBI_EPARSE;
      break;
    }
    if (fields[i].is_int)
      *(int *)((char *)c + fields[i].off) = (int)x;
    else
      *(double *)((char *)c + fields[i].off) = x;
  }
  json_decref(o);
  if (!err && reads_one_row(c->kind) && c->window != 1) {
    snprintf(why, why_len, "the %s model reads one row: window must be 1", kind_names[c->kind]);
    err = OBI_EPARSE;
  }
  if (!err && c->kind == MODEL_TRANSFORMER && c->hidden % c->heads) {
    snprintf(why, why_len, "hidden (%d) must be a multiple of heads (%d)", c->hidden, c->heads);
    err = OBI_EPARSE;
  }
  return err;
}

static slab_layout layout(const model_config *cfg, int C) {
  slab_layout L = {0};
  size_t o = 0;
  int H = cfg->hidden, A = cfg->attn;
  if (reads_one_row(cfg->kind)) {
    L.feat = C;
  } else if (cfg->kind == MODEL_ENSEMBLE) {
    model_kind kinds[ENS_MAX_BASES];
    int nb = ens_parse_bases(cfg->bases, kinds);
    L.feat = MODEL_CLASSES * (nb > 0 ? nb : 1);
  } else if (cfg->kind == MODEL_TRANSFORMER) {
    o = tf_layout(&L, cfg, C, o);
    L.feat = cfg->hidden;
  } else if (cfg->kind == MODEL_DEEPLOB) {
    o = dl_layout(&L, cfg, C, o);
    L.feat = cfg->hidden;
  } else {
    L.w_ih = o, o += (size_t)4 * H * C;
    L.w_hh = o, o += (size_t)4 * H * H;
    L.b_ih = o, o += (size_t)4 * H;
    L.b_hh = o, o += (size_t)4 * H;
    if (cfg->kind == MODEL_ATTN_LSTM) {
      L.att_w = o, o += (size_t)A * H;
      L.att_b = o, o += (size_t)A;
      L.att_v = o, o += (size_t)A;
    }
    L.feat = H;
  }
  L.w_out = o, o += (size_t)MODEL_CLASSES * L.feat;
  L.b_out = o, o += MODEL_CLASSES;
  if (cfg->kind == MODEL_BAYES) L.prec = o, o += (size_t)MODEL_CLASSES * L.feat + MODEL_CLASSES;
  L.total = o;
  return L;
}

static double uniform(uint64_t *s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

/* PyTorch's default initialisations: U(-1/sqrt(fan), 1/sqrt(fan)) with fan = H for the LSTM
 * and the input size for linear layers. */
static void init_params(obi_model *m) {
  uint64_t s = m->cfg.seed * 2654435761u + 1;
  const slab_layout *L = &m->L;
  double k_lstm = 1 / sqrt((double)m->cfg.hidden), k_out = 1 / sqrt((double)L->feat);
  for (size_t i = 0; i < L->w_out; i++) m->params[i] = (float)((2 * uniform(&s) - 1) * k_lstm);
  if (m->cfg.kind == MODEL_ATTN_LSTM) {
    double k_att = 1 / sqrt((double)m->cfg.hidden);
    for (size_t i = L->att_w; i < L->w_out; i++) m->params[i] = (float)((2 * uniform(&s) - 1) * k_att);
  }
  for (size_t i = L->w_out; i < L->total; i++) m->params[i] = (float)((2 * uniform(&s) - 1) * k_out);
  if (m->cfg.kind == MODEL_TRANSFORMER) tf_init(m, &s);
  if (m->cfg.kind == MODEL_DEEPLOB) dl_init(m, &s);
  if (m->cfg.kind == MODEL_BAYES) /* the prior: mean 0, the given precision */
    for (size_t i = 0; i < L->total; i++) m->params[i] = i >= L->prec ? (float)m->cfg.prior_precision : 0.0f;
}

static int ensure_batch(obi_model *m, int B) {
  if (B <= m->cap) return 1;
  int T = m->cfg.window, C = m->C, H = m->cfg.hidden, A = m->cfg.attn, F = m->L.feat;
  float **bufs[] = {&m->x,        &m->h,      &m->c,     &m->gates, &m->u,  &m->a,       &m->rep,
                    &m->rep_drop, &m->logits, &m->probs, &m->drep,  &m->dh, &m->scratch, &m->dlogits};
  size_t sizes[] = {(size_t)B * T * C,
                    (size_t)B * T * H,
                    (size_t)B * T * H,
                    (size_t)B * T * 4 * H,
                    (size_t)B * T * A,
                    (size_t)B * T,
                    (size_t)B * F,
                    (size_t)B * F,
                    (size_t)B * MODEL_CLASSES,
                    (size_t)B * MODEL_CLASSES,
                    (size_t)B * F,
                    (size_t)B * T * H,
                    (size_t)B * T * 4 * H + 2 * (size_t)B * H + (size_t)T * A + T,
                    (size_t)B * MODEL_CLASSES};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
    float *p = realloc(*bufs[i], (sizes[i] ? sizes[i] : 1) * sizeof(float));
    if (!p) return 0;
    *bufs[i] = p;
  }
  uint8_t *mask = realloc(m->mask, (size_t)B * F);
  if (!mask) return 0;
  m->mask = mask;
  if (m->cfg.kind == MODEL_TRANSFORMER || m->cfg.kind == MODEL_DEEPLOB) {
    m->tf_per_window =
        m->cfg.kind == MODEL_TRANSFORMER ? tf_floats_per_window(&m->cfg) : dl_floats_per_window(&m->cfg, m->C);
    float *tf = realloc(m->tf, (size_t)B * m->tf_per_window * sizeof *tf);
    if (!tf) return 0;
    m->tf = tf;
  }
  m->cap = B;
  return 1;
}

obi_err model_new(obi_model **out, const model_config *cfg, int C, const char *const *names, const float *mean,
                  const float *std) {
  *out = NULL;
  if (C < 1 || C > MODEL_MAX_FEATURES || cfg->kind >= MODEL__COUNT || cfg->window < 1 || cfg->hidden < 1 ||
      cfg->attn < 1 || (reads_one_row(cfg->kind) && cfg->window != 1) || !(cfg->prior_precision > 0) ||
      !(cfg->forgetting > 0 && cfg->forgetting <= 1) ||
      (cfg->kind == MODEL_TRANSFORMER && (cfg->layers < 1 || cfg->layers > TF_MAX_LAYERS || cfg->heads < 1 ||
                                          cfg->hidden % cfg->heads || cfg->ffn < 1)) ||
      (cfg->kind == MODEL_DEEPLOB && (C % 4 || C < 4)) ||
      (cfg->kind == MODEL_ENSEMBLE &&
       (ens_parse_bases(cfg->bases, (model_kind[ENS_MAX_BASES]){0}) < 0 || cfg->ens_folds < 2 ||
        cfg->ens_folds > ENS_MAX_FOLDS || cfg->stack < 0 || cfg->stack > 1)))
    return OBI_EINVAL;
  obi_model *m = calloc(1, sizeof *m);
  if (!m) return OBI_ENOMEM;
  m->cfg = *cfg;
  m->C = C;
  m->L = layout(cfg, C);
  m->names = calloc((size_t)C, sizeof *m->names);
  m->mean = malloc((size_t)C * sizeof *m->mean);
  m->std = malloc((size_t)C * sizeof *m->std);
  m->params = calloc(m->L.total, sizeof *m->params);
  m->grads = calloc(m->L.total, sizeof *m->grads);
  int T = cfg->window, H = cfg->hidden;
  m->ring_x = calloc((size_t)T * C, sizeof *m->ring_x);
  m->ring_proj = calloc((size_t)T * 4 * H, sizeof *m->ring_proj);
  m->sh = calloc((size_t)T * H, sizeof *m->sh);
  m->sc = calloc((size_t)T * H, sizeof *m->sc);
  m->sgates = calloc((size_t)T * 4 * H + (size_t)T * cfg->attn + T, sizeof *m->sgates);
  if (!m->names || !m->mean || !m->std || !m->params || !m->grads || !m->ring_x || !m->ring_proj || !m->sh || !m->sc ||
      !m->sgates || !ensure_batch(m, 1)) {
    model_free(m);
    return OBI_ENOMEM;
  }
  for (int i = 0; i < C; i++) {
    snprintf(m->names[i], sizeof m->names[i], "%s", names ? names[i] : "");
    m->mean[i] = mean ? mean[i] : 0;
    m->std[i] = std && std[i] > 0 ? std[i] : 1;
  }
  m->rng = cfg->seed ^ 0x9E3779B97F4A7C15ULL;
  init_params(m);
  if (cfg->kind == MODEL_ENSEMBLE) {
    m->nbase = ens_parse_bases(cfg->bases, m->base_kind);
    obi_err err = ens_new_bases(m);
    if (err) {
      model_free(m);
      return err;
    }
  }
  *out = m;
  return OBI_OK;
}

void model_free(obi_model *m) {
  if (!m) return;
  free(m->tf);
  free(m->pending);
  xgb_free(m);
  ens_free_bases(m);
  float *bufs[] = {m->x,      m->h,     m->c,      m->gates,     m->u,       m->a,       m->rep,    m->rep_drop,
                   m->logits, m->probs, m->drep,   m->dh,        m->scratch, m->dlogits, m->params, m->grads,
                   m->mean,   m->std,   m->ring_x, m->ring_proj, m->sh,      m->sc,      m->sgates};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
  free(m->mask);
  free(m->names);
  free(m);
}

const model_config *model_get_config(const obi_model *m) { return &m->cfg; }
int model_features(const obi_model *m) { return m->C; }
const char *model_feature_name(const obi_model *m, int i) { return i >= 0 && i < m->C ? m->names[i] : NULL; }
size_t model_param_count(const obi_model *m) { return m->L.total; }
float *model_params(obi_model *m) { return m->params; }
float *model_grads(obi_model *m) { return m->grads; }

/* x (B, T, C) = the normalised windows */
static void gather(obi_model *m, const float *X, const int64_t *ends, int B) {
  int T = m->cfg.window, C = m->C;
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      const float *row = X + (size_t)(ends[b] - T + 1 + t) * C;
      float *dst = m->x + ((size_t)b * T + t) * C;
      for (int k = 0; k < C; k++) dst[k] = (row[k] - m->mean[k]) / m->std[k];
    }
}

/* ---- Bayesian online logistic regression ----
 * Per class k (one against the rest), a diagonal Gaussian posterior over (w_k, b_k): means in
 * the out.weight / out.bias slots, precisions q after them. For a normalised row x:
 *   mu = w.x + b, s2 = sum x_i^2 / q_i + 1 / q_b                (the logit's mean and variance)
 *   p_k = sigmoid(mu / sqrt(1 + pi s2 / 8))                     (MacKay 1992's probit approximation)
 * and the class probabilities are the p_k normalised. A label y updates every class with t =
 * [y == k] by one Newton step of the log-posterior from the current mean, keeping the diagonal
 * (a Laplace / assumed-density update, as in Chapelle and Li 2011): q_i += s(1 - s) x_i^2 and
 * w_i += (t - s) x_i / q_i with s = sigmoid(mu). Forgetting: before an update the precisions
 * move towards the prior, q = f q + (1 - f) q0, so old evidence fades. */
static void bayes_moments(const obi_model *m, const float *x, int k, double *mu, double *s2) {
  const slab_layout *L = &m->L;
  const float *P = m->params;
  int C = m->C;
  double a = P[L->b_out + k], v = 1.0 / P[L->prec + (size_t)MODEL_CLASSES * C + k];
  for (int i = 0; i < C; i++) {
    a += (double)P[L->w_out + (size_t)k * C + i] * x[i];
    v += (double)x[i] * x[i] / P[L->prec + (size_t)k * C + i];
  }
  *mu = a, *s2 = v;
}

static void bayes_logits(const obi_model *m, const float *x, float *logits) {
  for (int k = 0; k < MODEL_CLASSES; k++) {
    double mu, s2;
    bayes_moments(m, x, k, &mu, &s2);
    double z = mu / sqrt(1 + 3.14159265358979 * s2 / 8), p = 1 / (1 + exp(-z));
    logits[k] = (float)log(p > 1e-30 ? p : 1e-30); /* softmax(log p) = p / sum p */
  }
}

static void bayes_apply(obi_model *m, const float *x, int label) {
  const slab_layout *L = &m->L;
  float *P = m->params;
  int C = m->C;
  double f = m->cfg.forgetting, q0 = m->cfg.prior_precision;
  for (int k = 0; k < MODEL_CLASSES; k++) {
    double mu, s2;
    bayes_moments(m, x, k, &mu, &s2);
    double s = 1 / (1 + exp(-mu)), t = label == k, h = s * (1 - s);
    float *w = P + L->w_out + (size_t)k * C, *q = P + L->prec + (size_t)k * C;
    float *qb = P + L->prec + (size_t)MODEL_CLASSES * C + k;
    for (int i = 0; i < C; i++) {
      double qi = f * q[i] + (1 - f) * q0 + h * (double)x[i] * x[i];
      q[i] = (float)qi;
      w[i] += (float)((t - s) * x[i] / qi);
    }
    double qbi = f * *qb + (1 - f) * q0 + h;
    *qb = (float)qbi;
    P[L->b_out + k] += (float)((t - s) / qbi);
  }
}

static void normalise_row(const obi_model *m, const float *row, float *x) {
  for (int k = 0; k < m->C; k++) x[k] = (row[k] - m->mean[k]) / m->std[k];
}

obi_err model_bayes_update(obi_model *m, const float *row, int label) {
  if (m->cfg.kind != MODEL_BAYES || label < 0 || label >= MODEL_CLASSES) return OBI_EINVAL;
  if (!ensure_batch(m, 1)) return OBI_ENOMEM;
  normalise_row(m, row, m->x);
  bayes_apply(m, m->x, label);
  return OBI_OK;
}

obi_err model_bayes_push(obi_model *m, const float *row) {
  if (m->cfg.kind != MODEL_BAYES) return OBI_EINVAL;
  if (m->pending_n == m->pending_cap) { /* grow the ring, keeping its order */
    int cap = m->pending_cap ? 2 * m->pending_cap : 64;
    float *p = malloc((size_t)cap * m->C * sizeof *p);
    if (!p) return OBI_ENOMEM;
    for (int i = 0; i < m->pending_n; i++)
      memcpy(p + (size_t)i * m->C, m->pending + (size_t)((m->pending_head + i) % m->pending_cap) * m->C,
             (size_t)m->C * sizeof *p);
    free(m->pending);
    m->pending = p, m->pending_cap = cap, m->pending_head = 0;
  }
  normalise_row(m, row, m->pending + (size_t)((m->pending_head + m->pending_n) % m->pending_cap) * m->C);
  m->pending_n++;
  return OBI_OK;
}

obi_err model_bayes_mature(obi_model *m, int label) {
  if (m->cfg.kind != MODEL_BAYES || m->pending_n == 0 || label < 0 || label >= MODEL_CLASSES) return OBI_EINVAL;
  bayes_apply(m, m->pending + (size_t)m->pending_head * m->C, label);
  m->pending_head = (m->pending_head + 1) % m->pending_cap;
  m->pending_n--;
  return OBI_OK;
}

int model_bayes_waiting(const obi_model *m) { return m->pending_n; }

void model_bayes_uncertainty(const obi_model *m, const float *row, double *logit_var) {
  float x[MODEL_MAX_FEATURES];
  normalise_row(m, row, x);
  for (int k = 0; k < MODEL_CLASSES; k++) {
    double mu;
    bayes_moments(m, x, k, &mu, &logit_var[k]);
  }
}

/* rep (B, feat): the representation the output layer reads */
static void forward(obi_model *m, int B, int train) {
  const float *P = m->params;
  const slab_layout *L = &m->L;
  int T = m->cfg.window, C = m->C, H = m->cfg.hidden, A = m->cfg.attn;
  if (m->cfg.kind == MODEL_BAYES) {
    for (int b = 0; b < B; b++) bayes_logits(m, m->x + (size_t)b * C, m->logits + (size_t)b * MODEL_CLASSES);
    return;
  }
  if (m->cfg.kind == MODEL_LOGISTIC) {
    memcpy(m->rep, m->x, (size_t)B * C * sizeof *m->rep); /* T = 1 */
  } else if (m->cfg.kind == MODEL_TRANSFORMER) {
    tf_forward(m, B);
  } else if (m->cfg.kind == MODEL_DEEPLOB) {
    dl_forward(m, B);
  } else {
    nn_lstm_forward(m->h, m->c, m->gates, m->x, P + L->w_ih, P + L->w_hh, P + L->b_ih, P + L->b_hh, B, T, C, H);
    if (m->cfg.kind == MODEL_LSTM)
      for (int b = 0; b < B; b++) memcpy(m->rep + (size_t)b * H, m->h + ((size_t)b * T + T - 1) * H, H * sizeof(float));
    else
      nn_attention_forward(m->rep, m->u, m->a, m->h, P + L->att_w, P + L->att_b, P + L->att_v, B, T, H, A);
  }
  const float *rep = m->rep;
  if (train && m->cfg.dropout > 0) {
    nn_dropout_forward(m->rep_drop, m->mask, m->rep, B * L->feat, (float)m->cfg.dropout, &m->rng);
    rep = m->rep_drop;
  }
  nn_linear_forward(m->logits, rep, P + L->w_out, P + L->b_out, B, L->feat, MODEL_CLASSES);
}

static void softmax_rows(float *probs, const float *logits, int B) {
  for (int b = 0; b < B; b++) {
    const float *z = logits + b * MODEL_CLASSES;
    float mx = fmaxf(z[0], fmaxf(z[1], z[2])), s = 0;
    for (int k = 0; k < MODEL_CLASSES; k++) s += probs[b * MODEL_CLASSES + k] = expf(z[k] - mx);
    for (int k = 0; k < MODEL_CLASSES; k++) probs[b * MODEL_CLASSES + k] /= s;
  }
}

void model_predict(obi_model *m, const float *X, const int64_t *ends, int B, float *probs) {
  if (m->cfg.kind == MODEL_ENSEMBLE) {
    ens_predict(m, X, ends, B, probs);
    return;
  }
  if (m->cfg.kind == MODEL_XGB) { /* the trees read the raw rows */
    if (!xgb_predict(m, X, ends, B, probs))
      for (int i = 0; i < B * MODEL_CLASSES; i++) probs[i] = 1.0f / MODEL_CLASSES;
    return;
  }
  for (int done = 0; done < B;) {
    int n = B - done < 256 ? B - done : 256;
    if (!ensure_batch(m, n)) return;
    gather(m, X, ends + done, n);
    forward(m, n, 0);
    softmax_rows(probs + (size_t)done * MODEL_CLASSES, m->logits, n);
    done += n;
  }
}

float model_loss_backward(obi_model *m, const float *X, const int64_t *ends, const int32_t *targets, int B,
                          const float *class_w) {
  if (!ensure_batch(m, B) || m->cfg.kind == MODEL_BAYES || m->cfg.kind == MODEL_XGB || m->cfg.kind == MODEL_ENSEMBLE)
    return NAN; /* bayes learns by model_bayes_update, xgb by boosting, the ensemble by stacking (model_fit) */
  const slab_layout *L = &m->L;
  float *P = m->params, *G = m->grads;
  int T = m->cfg.window, C = m->C, H = m->cfg.hidden, A = m->cfg.attn, F = L->feat;
  gather(m, X, ends, B);
  forward(m, B, 1);
  float loss = nn_xent_forward(m->probs, m->logits, targets, class_w, B, MODEL_CLASSES);
  memset(m->dlogits, 0, (size_t)B * MODEL_CLASSES * sizeof *m->dlogits);
  nn_xent_backward(m->dlogits, m->probs, targets, class_w, B, MODEL_CLASSES);
  int dropped = m->cfg.dropout > 0;
  memset(m->drep, 0, (size_t)B * F * sizeof *m->drep);
  nn_linear_backward(m->drep, G + L->w_out, G + L->b_out, m->dlogits, dropped ? m->rep_drop : m->rep, P + L->w_out, B,
                     F, MODEL_CLASSES);
  if (dropped) { /* through the mask, in place */
    float scale = 1.0f / (1.0f - (float)m->cfg.dropout);
    for (int i = 0; i < B * F; i++) m->drep[i] = m->mask[i] ? m->drep[i] * scale : 0;
  }
  if (m->cfg.kind == MODEL_LOGISTIC) return loss;
  if (m->cfg.kind == MODEL_TRANSFORMER || m->cfg.kind == MODEL_DEEPLOB) {
    if (m->cfg.kind == MODEL_TRANSFORMER)
      tf_backward(m, B);
    else
      dl_backward(m, B);
    return loss;
  }
  memset(m->dh, 0, (size_t)B * T * H * sizeof *m->dh);
  if (m->cfg.kind == MODEL_LSTM)
    for (int b = 0; b < B; b++) memcpy(m->dh + ((size_t)b * T + T - 1) * H, m->drep + (size_t)b * H, H * sizeof(float));
  else
    nn_attention_backward(m->dh, G + L->att_w, G + L->att_b, G + L->att_v, m->drep, m->h, m->u, m->a, P + L->att_w,
                          P + L->att_v, B, T, H, A, m->scratch);
  nn_lstm_backward(NULL, G + L->w_ih, G + L->w_hh, G + L->b_ih, G + L->b_hh, m->dh, m->x, m->h, m->c, m->gates,
                   P + L->w_ih, P + L->w_hh, B, T, C, H, m->scratch);
  return loss;
}

/* ---- streaming ---- */

void model_reset(obi_model *m) {
  if (m->cfg.kind == MODEL_ENSEMBLE) ens_reset(m);
  m->seen = 0;
}

int model_step(obi_model *m, const float *row, float *probs) {
  if (m->cfg.kind == MODEL_ENSEMBLE) return ens_step(m, row, probs);
  const float *P = m->params;
  const slab_layout *L = &m->L;
  int T = m->cfg.window, C = m->C, H = m->cfg.hidden, A = m->cfg.attn, G = 4 * H;
  int slot = (int)(m->seen % T);
  float *x = m->ring_x + (size_t)slot * C;
  for (int k = 0; k < C; k++) x[k] = (row[k] - m->mean[k]) / m->std[k];
  if (m->cfg.kind == MODEL_TRANSFORMER || m->cfg.kind == MODEL_DEEPLOB) {
    /* the window in order from the ring, then the full forward pass of one window: the blocks
     * see every position, and each position's attention reaches back to the window's start,
     * so nothing above the input can be carried from the previous window */
    m->seen++;
    if (m->seen < T) return 0;
    for (int t = 0; t < T; t++)
      memcpy(m->x + (size_t)t * C, m->ring_x + (size_t)((m->seen + t) % T) * C, (size_t)C * sizeof *m->x);
    if (m->cfg.kind == MODEL_TRANSFORMER)
      tf_forward(m, 1);
    else
      dl_forward(m, 1);
    float lg[MODEL_CLASSES];
    nn_linear_forward(lg, m->rep, P + L->w_out, P + L->b_out, 1, L->feat, MODEL_CLASSES);
    softmax_rows(probs, lg, 1);
    return 1;
  }
  if (m->cfg.kind == MODEL_LSTM || m->cfg.kind == MODEL_ATTN_LSTM) { /* the row's input projection, once */
    float *proj = m->ring_proj + (size_t)slot * G;
    nn_linear_forward(proj, x, P + L->w_ih, NULL, 1, C, G);
    for (int k = 0; k < G; k++) proj[k] += P[L->b_ih + k] + P[L->b_hh + k];
  }
  m->seen++;
  if (m->seen < T) return 0;
  float logits[MODEL_CLASSES];
  if (m->cfg.kind == MODEL_XGB) {
    int64_t zero = 0;
    if (!xgb_predict(m, row, &zero, 1, probs))
      for (int k = 0; k < MODEL_CLASSES; k++) probs[k] = 1.0f / MODEL_CLASSES;
    return 1;
  }
  if (m->cfg.kind == MODEL_BAYES) {
    bayes_logits(m, x, logits);
  } else if (m->cfg.kind == MODEL_LOGISTIC) {
    nn_linear_forward(logits, x, P + L->w_out, P + L->b_out, 1, C, MODEL_CLASSES);
  } else {
    /* the recurrence over the ring, oldest row first, from zero state */
    float *g4 = m->sgates;
    for (int t = 0; t < T; t++) {
      const float *proj = m->ring_proj + (size_t)((m->seen + t) % T) * G;
      float *ht = m->sh + (size_t)t * H, *ct = m->sc + (size_t)t * H;
      memcpy(g4, proj, (size_t)G * sizeof *g4);
      if (t > 0) cblas_sgemv(CblasRowMajor, CblasNoTrans, G, H, 1, P + L->w_hh, H, ht - H, 1, 1, g4, 1);
      nn_lstm_activate(ht, ct, g4, t > 0 ? ct - H : NULL, H); /* as nn_lstm_forward does */
    }
    float rep[1024];
    if (m->cfg.kind == MODEL_LSTM) {
      memcpy(rep, m->sh + (size_t)(T - 1) * H, (size_t)H * sizeof *rep);
    } else {
      float *u = m->sgates + G, *a = u + (size_t)T * A;
      nn_attention_forward(rep, u, a, m->sh, P + L->att_w, P + L->att_b, P + L->att_v, 1, T, H, A);
    }
    nn_linear_forward(logits, rep, P + L->w_out, P + L->b_out, 1, H, MODEL_CLASSES);
  }
  softmax_rows(probs, logits, 1);
  return 1;
}

/* ---- files ---- */

/* The tensors of a model, with PyTorch-like names. */
static int tensors_of(const obi_model *m, named_tensor *t, char (*names)[48]) {
  const slab_layout *L = &m->L;
  int n = 0, H = m->cfg.hidden, A = m->cfg.attn, C = m->C;
  if (m->cfg.kind == MODEL_TRANSFORMER) n = tf_tensors(m, t, names);
  if (m->cfg.kind == MODEL_DEEPLOB) n = dl_tensors(m, t, names);
  if (m->cfg.kind == MODEL_BAYES) {
    t[n++] = (named_tensor){"posterior.precision_weight", L->prec, 2, {MODEL_CLASSES, m->C}};
    t[n++] = (named_tensor){"posterior.precision_bias", L->prec + (size_t)MODEL_CLASSES * m->C, 1, {MODEL_CLASSES}};
  }
  if (m->cfg.kind == MODEL_LSTM || m->cfg.kind == MODEL_ATTN_LSTM) {
    t[n++] = (named_tensor){"lstm.weight_ih", L->w_ih, 2, {4 * H, C}};
    t[n++] = (named_tensor){"lstm.weight_hh", L->w_hh, 2, {4 * H, H}};
    t[n++] = (named_tensor){"lstm.bias_ih", L->b_ih, 1, {4 * H}};
    t[n++] = (named_tensor){"lstm.bias_hh", L->b_hh, 1, {4 * H}};
  }
  if (m->cfg.kind == MODEL_ATTN_LSTM) {
    t[n++] = (named_tensor){"attention.weight", L->att_w, 2, {A, H}};
    t[n++] = (named_tensor){"attention.bias", L->att_b, 1, {A}};
    t[n++] = (named_tensor){"attention.v", L->att_v, 1, {A}};
  }
  t[n++] = (named_tensor){"out.weight", L->w_out, 2, {MODEL_CLASSES, L->feat}};
  t[n++] = (named_tensor){"out.bias", L->b_out, 1, {MODEL_CLASSES}};
  return n;
}

static json_t *config_json(const model_config *c) {
  return json_pack(
      "{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:i, s:i, s:f, s:i, s:I, s:f, s:f, s:i, "
      "s:i, s:s, s:i, s:i}",
      "window", c->window, "hidden", c->hidden, "attn", c->attn, "layers", c->layers, "heads", c->heads, "ffn", c->ffn,
      "epochs", c->epochs, "batch", c->batch, "lr", c->lr, "weight_decay", c->weight_decay, "clip", c->clip, "dropout",
      c->dropout, "warmup_steps", c->warmup_steps, "patience", c->patience, "val_fraction", c->val_fraction,
      "class_weights", c->class_weights, "seed", (json_int_t)c->seed, "prior_precision", c->prior_precision,
      "forgetting", c->forgetting, "max_depth", c->max_depth, "best_rounds", c->best_rounds, "bases", c->bases, "stack",
      c->stack, "ens_folds", c->ens_folds);
}

obi_err model_save(const obi_model *m, const char *path) {
  named_tensor nt[16 + 12 * TF_MAX_LAYERS];
  char names_buf[16 + 12 * TF_MAX_LAYERS][48];
  int n = tensors_of(m, nt, names_buf);
  st_tensor t[16 + 12 * TF_MAX_LAYERS];
  for (int i = 0; i < n; i++) {
    t[i] = (st_tensor){.name = nt[i].name, .ndim = nt[i].ndim, .data = m->params + nt[i].off};
    memcpy(t[i].shape, nt[i].shape, sizeof nt[i].shape);
  }
  json_t *names = json_array(), *mean = json_array(), *std = json_array();
  for (int i = 0; i < m->C; i++) {
    json_array_append_new(names, json_string(m->names[i]));
    json_array_append_new(mean, json_real(m->mean[i]));
    json_array_append_new(std, json_real(m->std[i]));
  }
  json_t *meta =
      json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "format_version", MODEL_FORMAT_VERSION, "kind",
                kind_names[m->cfg.kind], "config", config_json(&m->cfg), "features", names, "mean", mean, "std", std);
  char *text = json_dumps(meta, JSON_COMPACT);
  json_decref(meta);
  if (!text) return OBI_ENOMEM;
  const char *keys[] = {"obi"}, *values[] = {text};
  obi_err err = st_write(path, t, n, keys, values, 1);
  free(text);
  if (!err && m->cfg.kind == MODEL_XGB && !xgb_save(m, path)) err = OBI_EIO;
  for (int i = 0; !err && i < m->nbase; i++) {
    char bp[1024];
    err = ens_base_path(bp, sizeof bp, path, i, m->base_kind[i]) ? OBI_EINVAL : model_save(m->base[i], bp);
  }
  return err;
}

obi_err model_load(obi_model **out, const char *path, char *why, size_t why_len) {
  *out = NULL;
  st_file f;
  obi_err err = st_read(&f, path, why, why_len);
  if (err) return err;
  json_t *meta = NULL;
  obi_model *m = NULL;
  const char *text = st_meta(&f, "obi");
  err = OBI_EPARSE;
  if (!text) {
    snprintf(why, why_len, "not an obi model: no 'obi' metadata");
    goto done;
  }
  json_error_t jerr;
  meta = json_loads(text, 0, &jerr);
  json_t *jkind = json_object_get(meta, "kind"), *jcfg = json_object_get(meta, "config"),
         *jnames = json_object_get(meta, "features"), *jmean = json_object_get(meta, "mean"),
         *jstd = json_object_get(meta, "std"), *jver = json_object_get(meta, "format_version");
  if (!json_is_string(jkind) || !json_is_object(jcfg) || !json_is_array(jnames) || !json_is_array(jmean) ||
      !json_is_array(jstd) || !json_is_string(jver)) {
    snprintf(why, why_len, "model metadata is incomplete");
    goto done;
  }
  if (strcmp(json_string_value(jver), MODEL_FORMAT_VERSION)) {
    snprintf(why, why_len, "model format version %s, this obi reads %s", json_string_value(jver), MODEL_FORMAT_VERSION);
    goto done;
  }
  int kind = model_kind_from_name(json_string_value(jkind));
  size_t C = json_array_size(jnames);
  if (kind < 0 || C < 1 || C > MODEL_MAX_FEATURES || json_array_size(jmean) != C || json_array_size(jstd) != C) {
    snprintf(why, why_len, "model metadata: unknown kind or inconsistent feature lists");
    goto done;
  }
  model_config cfg;
  model_config_default(&cfg, (model_kind)kind);
  char *cfg_text = json_dumps(jcfg, JSON_COMPACT);
  err = model_config_from_json(&cfg, cfg_text ? cfg_text : "", why, why_len);
  free(cfg_text);
  if (err) goto done;
  err = OBI_EPARSE;
  const char *names[MODEL_MAX_FEATURES];
  float mean[MODEL_MAX_FEATURES], std[MODEL_MAX_FEATURES];
  for (size_t i = 0; i < C; i++) {
    json_t *nm = json_array_get(jnames, i), *mu = json_array_get(jmean, i), *sd = json_array_get(jstd, i);
    if (!json_is_string(nm) || !json_is_number(mu) || !json_is_number(sd)) {
      snprintf(why, why_len, "model metadata: feature %zu is malformed", i);
      goto done;
    }
    names[i] = json_string_value(nm), mean[i] = (float)json_number_value(mu), std[i] = (float)json_number_value(sd);
  }
  if ((err = model_new(&m, &cfg, (int)C, names, mean, std))) {
    snprintf(why, why_len, "cannot build the model described by the file: %s", obi_strerror(err));
    goto done;
  }
  err = OBI_EPARSE;
  named_tensor nt[16 + 12 * TF_MAX_LAYERS];
  char names_buf[16 + 12 * TF_MAX_LAYERS][48];
  int n = tensors_of(m, nt, names_buf);
  for (int i = 0; i < n; i++) {
    const st_tensor *t = st_find(&f, nt[i].name);
    if (!t) {
      snprintf(why, why_len, "tensor '%s' is missing", nt[i].name);
      goto done;
    }
    if (t->ndim != nt[i].ndim || t->shape[0] != nt[i].shape[0] || (t->ndim == 2 && t->shape[1] != nt[i].shape[1])) {
      snprintf(why, why_len, "tensor '%s' has the wrong shape for this configuration", nt[i].name);
      goto done;
    }
    size_t count = (size_t)nt[i].shape[0] * (nt[i].ndim == 2 ? (size_t)nt[i].shape[1] : 1);
    memcpy(m->params + nt[i].off, t->data, count * sizeof(float));
  }
  if (f.n != n) {
    snprintf(why, why_len, "the file has %d tensors, a %s model has %d", f.n, kind_names[kind], n);
    goto done;
  }
  if (kind == MODEL_XGB && !xgb_load(m, path, why, why_len)) goto done;
  for (int i = 0; i < m->nbase; i++) { /* the bases, from their files beside this one */
    char bp[1024], bwhy[512];
    obi_model *b = NULL;
    if (ens_base_path(bp, sizeof bp, path, i, m->base_kind[i])) {
      snprintf(why, why_len, "base model %d: the path is too long", i);
      goto done;
    }
    if ((err = model_load(&b, bp, bwhy, sizeof bwhy)) != OBI_OK) {
      snprintf(why, why_len, "base model %d: %s", i, bwhy);
      goto done;
    }
    err = OBI_EPARSE;
    model_config want;
    ens_base_config(&m->cfg, m->base_kind[i], i, &want);
    int same = b->cfg.kind == m->base_kind[i] && b->C == m->C && b->cfg.window == want.window;
    for (int c = 0; same && c < m->C; c++) same = !strcmp(b->names[c], m->names[c]);
    if (!same) {
      snprintf(why, why_len, "base model %d (%s) does not match the ensemble (kind, window or feature names)", i, bp);
      model_free(b);
      goto done;
    }
    model_free(m->base[i]);
    m->base[i] = b;
  }
  *out = m;
  m = NULL;
  err = OBI_OK;
done:
  model_free(m);
  json_decref(meta);
  st_free(&f);
  return err;
}
