/*
 * config_keys.c - the names the sweep file gives training keys, activations, dataset kinds,
 * tasks and optimizers, and the training settings (ss_training_t) by key: defaults, get,
 * set, the text of a value. See include/specsweep/config.h and config_internal.h.
 */
#include "specsweep/config.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

/* ---- names --------------------------------------------------------------------------- */

const char *const cfg_training_names[SS_KEY_COUNT] = {
    "learning_rate", "batch_size", "epochs", "validation_fraction", "reg_eigenvalues",
    "reg_eigenvectors", "train_eigenvectors", "adam_beta1", "adam_beta2", "adam_epsilon",
    "optimizer", "adamax_beta1", "adamax_beta2", "adamax_epsilon"};
static const char *const cfg_act_names[] = {"tanh", "relu", "sigmoid", "linear"};
const char *const cfg_kind_names[CFG_N_KINDS] = {"gaussian", "correlated", "csv",
                                             "idx", "hdf5", "spectra"};
const char *const cfg_task_names[2] = {"classification", "regression"};
const char *const cfg_optimizer_names[2] = {"adam", "adamax"};

/* The YAML key of training key k ("?" when out of range). */
const char *ss_training_key_name(ss_training_key_t k)
{
    return (unsigned)k < SS_KEY_COUNT ? cfg_training_names[k] : "?";
}

/* 1 for keys stored as int: batch_size, epochs, train_eigenvectors, optimizer. */
int ss_training_key_is_int(ss_training_key_t k)
{
    return k == SS_KEY_BATCH_SIZE || k == SS_KEY_EPOCHS || k == SS_KEY_TRAIN_EIGENVECTORS ||
           k == SS_KEY_OPTIMIZER;
}

int ss_training_key_is_choice(ss_training_key_t k) { return k == SS_KEY_OPTIMIZER; }

const char *ss_optimizer_name(ss_optimizer_t o)
{
    return (unsigned)o < (unsigned)CFG_COUNT(cfg_optimizer_names) ? cfg_optimizer_names[o] : "?";
}

/* The text of key k's value: a choice's name, true/false, or "%.6g" (run ids). */
const char *ss_training_key_text(const ss_training_t *t, ss_training_key_t k, char *buf,
                                 size_t size)
{
    if (k == SS_KEY_OPTIMIZER)
        snprintf(buf, size, "%s", ss_optimizer_name(t->optimizer));
    else
        snprintf(buf, size, "%.6g", ss_training_get(t, k));
    return buf;
}

/* The keys of specsweep 0.1.0 always; the optimizer's keys where that optimizer is used. */
int ss_training_key_in_use(const ss_training_t *t, ss_training_key_t k)
{
    switch (k) {
    case SS_KEY_OPTIMIZER: return t->optimizer != SS_OPT_ADAM;
    case SS_KEY_ADAMAX_BETA1:
    case SS_KEY_ADAMAX_BETA2:
    case SS_KEY_ADAMAX_EPSILON: return t->optimizer == SS_OPT_ADAMAX;
    default: return (unsigned)k < SS_KEY_COUNT;
    }
}

/* The papers' training settings; adamax's are Keras' defaults. */
void ss_training_defaults(ss_training_t *t)
{
    memset(t, 0, sizeof *t);
    t->learning_rate = 1e-2;
    t->batch_size = 500;
    t->epochs = 1000;
    t->validation_fraction = 0.1;
    t->reg_eigenvalues = 1e-2;
    t->reg_eigenvectors = 1e-4;
    t->train_eigenvectors = 1;
    t->adam_beta1 = 0.9;
    t->adam_beta2 = 0.999;
    t->adam_epsilon = 1e-7;
    t->optimizer = SS_OPT_ADAM;
    t->adamax_beta1 = 0.9;
    t->adamax_beta2 = 0.999;
    t->adamax_epsilon = 1e-7;
}

/* The value of key k in *t (integers and the boolean as doubles). */
double ss_training_get(const ss_training_t *t, ss_training_key_t k)
{
    switch (k) {
    case SS_KEY_LEARNING_RATE: return t->learning_rate;
    case SS_KEY_BATCH_SIZE: return t->batch_size;
    case SS_KEY_EPOCHS: return t->epochs;
    case SS_KEY_VALIDATION_FRACTION: return t->validation_fraction;
    case SS_KEY_REG_EIGENVALUES: return t->reg_eigenvalues;
    case SS_KEY_REG_EIGENVECTORS: return t->reg_eigenvectors;
    case SS_KEY_TRAIN_EIGENVECTORS: return t->train_eigenvectors;
    case SS_KEY_ADAM_BETA1: return t->adam_beta1;
    case SS_KEY_ADAM_BETA2: return t->adam_beta2;
    case SS_KEY_ADAM_EPSILON: return t->adam_epsilon;
    case SS_KEY_OPTIMIZER: return (double)t->optimizer;
    case SS_KEY_ADAMAX_BETA1: return t->adamax_beta1;
    case SS_KEY_ADAMAX_BETA2: return t->adamax_beta2;
    case SS_KEY_ADAMAX_EPSILON: return t->adamax_epsilon;
    case SS_KEY_COUNT: break;
    }
    return 0.0;
}

/* An integer field from a double, saturating instead of overflowing. */
static int cfg_to_int(double v)
{
    if (!(v > (double)INT_MIN)) /* also NaN */
        return v < 0 ? INT_MIN : 0;
    if (v >= (double)INT_MAX)
        return INT_MAX;
    return (int)llround(v);
}

/* Set key k of *t: integer keys rounded (saturating), train_eigenvectors to v != 0, the
   optimizer to its index (anything but 1, adamax, is adam). */
void ss_training_set(ss_training_t *t, ss_training_key_t k, double v)
{
    switch (k) {
    case SS_KEY_LEARNING_RATE: t->learning_rate = v; break;
    case SS_KEY_BATCH_SIZE: t->batch_size = cfg_to_int(v); break;
    case SS_KEY_EPOCHS: t->epochs = cfg_to_int(v); break;
    case SS_KEY_VALIDATION_FRACTION: t->validation_fraction = v; break;
    case SS_KEY_REG_EIGENVALUES: t->reg_eigenvalues = v; break;
    case SS_KEY_REG_EIGENVECTORS: t->reg_eigenvectors = v; break;
    case SS_KEY_TRAIN_EIGENVECTORS: t->train_eigenvectors = v != 0.0; break;
    case SS_KEY_ADAM_BETA1: t->adam_beta1 = v; break;
    case SS_KEY_ADAM_BETA2: t->adam_beta2 = v; break;
    case SS_KEY_ADAM_EPSILON: t->adam_epsilon = v; break;
    case SS_KEY_OPTIMIZER:
        t->optimizer = v == 1.0 ? SS_OPT_ADAMAX : SS_OPT_ADAM; /* the two indices */
        break;
    case SS_KEY_ADAMAX_BETA1: t->adamax_beta1 = v; break;
    case SS_KEY_ADAMAX_BETA2: t->adamax_beta2 = v; break;
    case SS_KEY_ADAMAX_EPSILON: t->adamax_epsilon = v; break;
    case SS_KEY_COUNT: break;
    }
}

/* sw->training with every key that dataset ds sets (training_set_mask) taken from
   ds->training. */
ss_training_t ss_sweep_dataset_training(const ss_sweep_t *sw, const ss_dataset_spec_t *ds)
{
    ss_training_t t = sw->training;
    for (int k = 0; k < SS_KEY_COUNT; k++)
        if (ds->training_set_mask & (1u << k))
            ss_training_set(&t, (ss_training_key_t)k,
                            ss_training_get(&ds->training, (ss_training_key_t)k));
    return t;
}

/* The training key named `name`, or -1. */
int ss_training_key_lookup(const char *name)
{
    for (int k = 0; k < SS_KEY_COUNT; k++)
        if (name && !strcmp(name, cfg_training_names[k]))
            return k;
    return -1;
}

/* The YAML name of an activation ("?" when out of range). */
const char *ss_act_name(ss_act_t a)
{
    return (unsigned)a < (unsigned)CFG_COUNT(cfg_act_names) ? cfg_act_names[a] : "?";
}

/* The YAML name of a dataset kind ("?" when out of range). */
const char *ss_kind_name(ss_kind_t k)
{
    return (unsigned)k < (unsigned)CFG_COUNT(cfg_kind_names) ? cfg_kind_names[k] : "?";
}

int ss_kind_lookup(const char *name)
{
    for (int k = 0; k < (int)CFG_COUNT(cfg_kind_names); k++)
        if (!strcmp(cfg_kind_names[k], name))
            return k;
    return -1;
}


/* Type and range of every training key. */
const cfg_key_rule_t cfg_training_rules[SS_KEY_COUNT] = {
    [SS_KEY_LEARNING_RATE] = {CFG_REAL, CFG_POS},
    [SS_KEY_BATCH_SIZE] = {CFG_INT, CFG_POS},
    [SS_KEY_EPOCHS] = {CFG_INT, CFG_POS},
    [SS_KEY_VALIDATION_FRACTION] = {CFG_REAL, CFG_UNIT_CO},
    [SS_KEY_REG_EIGENVALUES] = {CFG_REAL, CFG_NONNEG},
    [SS_KEY_REG_EIGENVECTORS] = {CFG_REAL, CFG_NONNEG},
    [SS_KEY_TRAIN_EIGENVECTORS] = {CFG_BOOL, CFG_ANY},
    [SS_KEY_ADAM_BETA1] = {CFG_REAL, CFG_UNIT_CO},
    [SS_KEY_ADAM_BETA2] = {CFG_REAL, CFG_UNIT_CO},
    [SS_KEY_ADAM_EPSILON] = {CFG_REAL, CFG_POS},
    [SS_KEY_OPTIMIZER] = {CFG_INT, CFG_ANY},      /* a choice: cfg_read_training_value */
    [SS_KEY_ADAMAX_BETA1] = {CFG_REAL, CFG_UNIT_CO},
    [SS_KEY_ADAMAX_BETA2] = {CFG_REAL, CFG_UNIT_CO},
    [SS_KEY_ADAMAX_EPSILON] = {CFG_REAL, CFG_POS},
};

/* ---- retraining ---------------------------------------------------------------------- */

const char *ss_retrain_mode_name(ss_retrain_mode_t mode)
{
    return mode == SS_RETRAIN_KEEP ? "keep" : mode == SS_RETRAIN_REMOVE ? "remove" : NULL;
}

const char *ss_retrain_method_name(int m)
{
    if (m == SS_RETRAIN_RANDOM)
        return "random";
    if (m == SS_RETRAIN_TRUTH)
        return "truth";
    return m >= 0 && m < SS_ATTRIB_N_METHODS ? ss_attrib_method_name((ss_attrib_method_t)m)
                                             : NULL;
}

int ss_retrain_method_lookup(const char *name)
{
    for (int m = 0; m < SS_RETRAIN_N_METHODS; m++)
        if (!strcmp(ss_retrain_method_name(m), name))
            return m;
    return -1;
}
