/*
 * config_internal.h - what the parts of the sweep-file parser share: the parse context,
 * the YAML names of keys and values, and the sections parsed outside config.c. Not
 * installed; see include/specsweep/config.h for the module's interface.
 *
 *   config.c        the file's sections, defaults and the checks across sections
 *   config_keys.c   names of training keys, activations, kinds; training settings
 *   config_axes.c   the `sweep:` section: axes over training and model keys, bundles
 *   config_model.c  the `model:` and `init:` keys
 *   config_yaml.c   the YAML document, typed values and the messages' wording
 */
#ifndef SPECSWEEP_CONFIG_INTERNAL_H
#define SPECSWEEP_CONFIG_INTERNAL_H

#include "specsweep/config.h"

#include <yaml.h>

#include "config_model.h"
#include "config_yaml.h"

/* Longest list a sweep file may ask for (seeds, logspace count, topk, a sweep list): far
   beyond any real sweep, it only keeps a typo from allocating gigabytes. */
#define CFG_MAX_LIST 1000000

#define CFG_N_KINDS (SS_KIND_SPECTRA + 1)

/* The type and range of a training key's values. */
typedef struct {
    cfg_type_t type;
    cfg_range_t range;
} cfg_key_rule_t;

/* Every training key's rule (config_keys.c). */
extern const cfg_key_rule_t cfg_training_rules[SS_KEY_COUNT];

/* YAML names, indexed by the enums of config.h (config_keys.c). */
extern const char *const cfg_training_names[SS_KEY_COUNT];
extern const char *const cfg_kind_names[CFG_N_KINDS];
extern const char *const cfg_task_names[2];
extern const char *const cfg_optimizer_names[2];

/* The parse of one sweep file. */
typedef struct {
    cfg_yaml_t y;                          /* the document, its path, the error */
    ss_sweep_t *sw;
    ss_dataset_spec_t ds_default[CFG_N_KINDS]; /* per kind */
    yaml_node_t *axis_key[SS_MAX_AXES];    /* key node of every sweep axis */
    yaml_node_t **point_node[SS_MAX_AXES]; /* [point * SS_MKEY_COUNT + model key]: the value
                                              node of every model key an axis point sets */
    yaml_node_t *axis_key_of[SS_MAX_AXES][SS_KEY_COUNT + SS_MKEY_COUNT];
                                           /* a bundle's key node of every key it sets (the
                                              first bundle that sets it); NULL: the axis key */
    yaml_node_t **override_key;            /* [dataset * SS_KEY_COUNT + key] or NULL */
    yaml_node_t *model_node[SS_MKEY_COUNT];/* value nodes of `model:` and `init:` keys */
    int uses_regime_keys;                  /* an `init:` section, trainable_weights, retract,
                                              adamax: sw->record_model */
    yaml_node_t *seeds_node, *datasets_node; /* where the grid's sizes were given */
    yaml_node_t **retrain_at;              /* [SS_RETRAIN_N_METHODS]: relevance.retrain
                                              methods' nodes, or NULL (freed at the end) */
} cfg_parse_t;

/* Where axis a sets key k (SS_KEY_COUNT + model key for model keys): the node that names
   it (the axis' key, or the key inside the first bundle that sets it). */
static inline yaml_node_t *cfg_axis_sets_at(const cfg_parse_t *p, int a, int k)
{
    return p->axis_key_of[a][k] ? p->axis_key_of[a][k] : p->axis_key[a];
}

/* The type and range of training key k's values, and its value node n read as a double (a
   choice as its index); -1 + error at n otherwise (config.c). */
int cfg_read_training_value(cfg_parse_t *p, const yaml_node_t *n, ss_training_key_t k,
                            double *v);

/* The `sweep:` mapping: its axes in file order into p->sw->axes (config_axes.c). */
int cfg_parse_sweep(cfg_parse_t *p, yaml_node_t *map);

#endif
