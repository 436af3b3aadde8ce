/* pipeline.h — the pieces of a model-driven pipeline shared by `obi backtest`, `obi serve` and
 * `obi stream consume`. */
#ifndef OBI_CLI_PIPELINE_H
#define OBI_CLI_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "obi/features.h"
#include "obi/model.h"
#include "obi/sim.h"

typedef struct { /* the model as a signal */
  feat_engine *e;
  obi_model *m;
  int cols[MODEL_MAX_FEATURES], C;
} model_signal;

/* bt_signal callbacks of a model_signal: feat_update per event; at a row, the model's columns of
 * the engine's row through model_step. */
void ms_update(void *ctx, const obi_event *ev, const obi_book *book);
int ms_predict(void *ctx, const obi_event *ev, const obi_book *book, int64_t row, float probs[3]);
/* The engine's row (full, every column) and the model's inputs (x) for the current book; 0 while
 * the engine is not ready. */
int ms_row(const model_signal *s, const obi_book *book, double *full, float *x);
/* The engine column of each of the model's features into cols; -1 with why when the engine does
 * not compute one. */
int ms_map_columns(const feat_engine *e, const obi_model *m, int *cols, char *why, size_t why_len);

/* The sidecar of the training features: engine configuration, micro-price, sampler, horizon
 * and where the training part ends. */
typedef struct {
  feat_config fc;
  feat_microprice mp;
  int has_mp;
  char sampling[32];
  int split_timestamps;
  int64_t hold_rows, hold_ns;
  double alpha_a;                      /* the threshold of label (a) of the first horizon */
  int64_t train_last_ns, oos_start_ns; /* on the training file's own clock */
  char msg_sha[65];                    /* SHA-256 of the message file's bytes */
  char content_sha[65];                /* ... of its lines (the same for a .zst and its plain copy) */
  char day[64];                        /* "AMZN_2012-06-21" from its name, or "" */
  int64_t day_start_ns;                /* the training clock's day start (0: no date in the name) */
  char symbol[32];                     /* the instrument ("" in files of obi before 0.3) */
  int recording;                       /* computed from a feed recording (prices in its decimals) */
  double size_scale;                   /* size units per base unit (LOBSTER: 1) */
} sidecar;

int read_sidecar(const char *features, sidecar *sc, char *why, size_t why_len);

/* 0 when a model trained on sc's features can read the source of in (the same kind of source and,
 * for a recording, the same price scale); -1 with why ("SOURCE: the model's features (FEATURES)
 * were computed from ..."). */
int sidecar_fits_source(const sidecar *sc, int recording, double price_scale, const char *source, const char *features,
                        char *why, size_t why_len);

/* "feed=1ms,entry=lognormal:200us:0.5,response=300us" (any subset) into c's latencies; -1 with why. */
int parse_latencies(sim_config *c, const char *spec, char *why, size_t why_len);

/* The text of a small configuration file (up to 64 KiB; a static buffer reused by the next call),
 * or NULL with errno set. */
const char *read_small_file(const char *path);

#endif
