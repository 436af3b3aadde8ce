/* dataset.h — a feature file of `obi features` loaded for training and evaluation. */
#ifndef OBI_CLI_DATASET_H
#define OBI_CLI_DATASET_H

#include <jansson.h>
#include <stdint.h>

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
  int8_t *y;
  char label[64];
} dataset;

/* Loads path and its siblings; label NULL picks label_b_<first horizon>. Returns 0, or -1 with
 * a message naming the file and the problem. */
int dataset_load(dataset *d, const char *path, const char *label, char *why, size_t why_len);
void dataset_free(dataset *d);

#endif
