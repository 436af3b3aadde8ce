/* dataset.h — a feature file of `obi features` loaded for training and evaluation. */
#ifndef OBI_CLI_DATASET_H
#define OBI_CLI_DATASET_H

#include <jansson.h>
#include <stdint.h>

#include "obi/model.h"
#include "obi/npy.h"

typedef struct {
  npy_array feats, labels;
  json_t *meta;
  const float *X;
  int64_t rows;
  int C;
  const char **names; /* owned by meta */
  float *mean, *std;
  int64_t train_end, purge;
  int64_t fitted_end; /* rows before this were used to fit the file's micro-price table and alpha */
  int8_t *y;
  char label[64];
  int64_t *seg_starts; /* days (FI-2010 files), or NULL */
  int nseg;
  float *owned_x; /* FI-2010: the matrix (the .npy path keeps it in feats) */
} dataset;

/* FI-2010 files as one dataset, in the given (chronological) order: features = the 40 book
 * columns, or all 144 when all_features; label of horizon k (10, 20, 30, 50, 100); every file
 * is a segment (no window crosses a day); normalisation statistics from the first
 * train_fraction of the rows; purge = k. */
int dataset_load_fi2010(dataset *d, const char *const *paths, int n, int k, int all_features, double train_fraction,
                        char *why, size_t why_len);

/* Loads path and its siblings; label NULL picks label_a_<first horizon>. Returns 0, or -1 with
 * a message naming the file and the problem. */
int dataset_load(dataset *d, const char *path, const char *label, char *why, size_t why_len);
void dataset_free(dataset *d);

/* The path of a sibling of a feature file: FILE.npy -> FILE<file_suffix>, DIR/features.npy ->
 * DIR/<dir_name>. */
void dataset_sibling(char *out, size_t n, const char *path, const char *file_suffix, const char *dir_name);

/* The FI-2010 options shared by train and eval: --fi2010 FILE..., --horizon K,
 * --fi2010-all-features. */
typedef struct {
  const char *files[64];
  int n, all_features;
  long horizon;
} fi2010_opts;

/* Consumes argv[*i] (and its values) if it is one of those options: returns 1, 0 if it is not,
 * or -1 for a usage error (message printed). */
int cli_fi2010_option(fi2010_opts *o, int argc, char **argv, int *i, const char *cmd_name);

/* The defaults of kind, with the overrides of the JSON file at path (NULL: none). Returns 0,
 * or EXIT_BAD_INPUT with the file and the problem printed. */
int cli_model_config(model_config *cfg, model_kind kind, const char *path);

#endif
