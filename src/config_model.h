/*
 * config_model.h - the model keys of a sweep file (the `model:` and `init:` sections) as
 * one table: reading a key's value from a YAML node, the two sections, and the checks of
 * a whole model that involve several keys.
 *
 * Internal to the config module: included by config.c and config_model.c only. The
 * public side of the table (names, copy, values, texts) is in config.h. Every reader
 * returns 0 on success and -1 with the error recorded on y->err ("FILE:LINE:COLUMN").
 */
#ifndef SPECSWEEP_CONFIG_MODEL_H
#define SPECSWEEP_CONFIG_MODEL_H

#include <yaml.h>

#include "config_yaml.h"
#include "specsweep/config.h"

/* The value node v of model key k into *m. 0 or -1. */
int cfg_model_read(cfg_yaml_t *y, ss_model_key_t k, const yaml_node_t *v, ss_model_t *m);

/*
 * The `model:` or `init:` section `map` (section "model" or "init") into *m. The value
 * node of every key given is stored in nodes[key] (SS_MKEY_COUNT entries). The checks
 * that involve several keys are cfg_model_check's, once the sweep axes are known. 0 or -1.
 */
int cfg_model_section(cfg_yaml_t *y, yaml_node_t *map, const char *section, ss_model_t *m,
                      yaml_node_t *nodes[SS_MKEY_COUNT]);

/*
 * The checks of a resolved model (the sections with one sweep point applied) that involve
 * several keys: hidden layers whose weights would not fit the machine's memory,
 * activations listed for another number of layers than hidden has,
 * batch-norm or dropout without a hidden layer, a trainable subset of a spectral
 * network's weights, retraction across a non-linear layer or the batch-norm. Returns -1
 * when the model is good; else the key at fault, with the message in msg[size] (the
 * other key's value named, and `line` of where it was set when that is not 0: lines[k]).
 */
int cfg_model_check(const ss_model_t *m, const int lines[SS_MKEY_COUNT], char *msg,
                    size_t size);

#endif
