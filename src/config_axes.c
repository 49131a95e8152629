/*
 * config_axes.c - the sweep file's `sweep:` section (docs/FORMATS.md, "sweep"): an axis over
 * a training key (a list or a logspace), over a model key by its dotted name, or a bundle
 * axis whose named points each set several keys; the checks that no key is set by two
 * axes. Every value is checked by its key's rules where it is read, at its line:column.
 * See config_internal.h.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

/* Check a value an axis generated (logspace) against the rules of its key. */
static int cfg_check_generated(cfg_parse_t *p, const yaml_node_t *at, ss_training_key_t k,
                               double *v)
{
    cfg_yaml_t *y = &p->y;
    const char *key = cfg_training_names[k];
    double x = *v;
    if (!isfinite(x))
        return cfg_fail(y, at, "sweep axis %s: logspace gives a value too large to represent",
                        key);
    if (cfg_training_rules[k].type == CFG_INT) {
        double r = nearbyint(x);
        if (fabs(x - r) > 1e-9 * fabs(x))
            return cfg_fail(y, at, "sweep axis %s: logspace gives %.6g, not an integer (%s %s)",
                            key, x, key, cfg_rule(CFG_INT, cfg_training_rules[k].range));
        if (r > INT_MAX)
            return cfg_fail(y, at, "sweep axis %s: logspace gives %.6g, too large", key, x);
        x = r;
    }
    int ok = cfg_training_rules[k].type == CFG_INT ? x >= 1.0
                                                    : cfg_in_range(cfg_training_rules[k].range, x);
    if (!ok)
        return cfg_fail(y, at, "sweep axis %s: logspace gives %.6g, but %s %s", key, x, key,
                        cfg_rule(cfg_training_rules[k].type, cfg_training_rules[k].range));
    *v = x;
    return 0;
}

/* {logspace: [from_exp, to_exp, count]} of axis `a`. */
static int cfg_parse_logspace(cfg_parse_t *p, yaml_node_t *map, ss_axis_t *a)
{
    cfg_yaml_t *y = &p->y;
    static const char *const known[] = {"logspace"};
    const char *key = cfg_training_names[a->key];
    char got[96], where[96];
    yaml_node_t *spec = NULL;
    snprintf(where, sizeof where, "in sweep.%s", key);
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const char *name = cfg_key(y, map, pr);
        if (!name)
            return -1;
        if (strcmp(name, "logspace"))
            return cfg_unknown_key(y, cfg_node(y, pr->key), where, known, 1);
        spec = cfg_node(y, pr->value);
    }
    if (!spec)
        return cfg_fail(y, map, "sweep axis %s must be a list of values or {logspace: "
                        "[from_exp, to_exp, count]}, got an empty mapping", key);
    if (cfg_training_rules[a->key].type == CFG_BOOL)
        return cfg_fail(y, spec, "sweep axis %s is true or false; logspace does not apply", key);
    if (ss_training_key_is_choice(a->key))
        return cfg_fail(y, spec, "sweep axis %s is a name; logspace does not apply", key);
    if (spec->type != YAML_SEQUENCE_NODE || cfg_seq_len(spec) != 3)
        return cfg_fail(y, spec, "logspace must be [from_exp, to_exp, count], got %s",
                        cfg_got(spec, got, sizeof got));
    double from = 0.0, to = 0.0, dcount = 0.0;
    int count;
    if (cfg_read(y, cfg_seq_item(y, spec, 0), "logspace from_exp", CFG_REAL, CFG_ANY, &from,
                 NULL) < 0 ||
        cfg_read(y, cfg_seq_item(y, spec, 1), "logspace to_exp", CFG_REAL, CFG_ANY, &to,
                 NULL) < 0 ||
        cfg_read(y, cfg_seq_item(y, spec, 2), "logspace count", CFG_INT, CFG_POS, &dcount,
                 NULL) < 0)
        return -1;
    count = (int)dcount;
    if (count > CFG_MAX_LIST)
        return cfg_fail(y, cfg_seq_item(y, spec, 2), "logspace count %d is more than the %d "
                        "supported", count, CFG_MAX_LIST);
    a->values = ss_calloc((size_t)count, sizeof *a->values);
    a->n = count;
    for (int i = 0; i < count; i++) {
        /* as numpy.logspace: count 1 gives 10^from; the last exponent is `to` exactly,
           not from + (to - from) rounded */
        double e = count == 1 ? from
                   : i == count - 1 ? to : from + (to - from) * (double)i / (double)(count - 1);
        a->values[i] = pow(10.0, e);
        if (cfg_check_generated(p, spec, a->key, &a->values[i]) < 0)
            return -1;
    }
    return 0;
}

/* The attributes of /runs and /summary groups that are not settings: a bundle axis,
   whose name becomes an attribute, may not take one of these names. */
static const char *const cfg_reserved_names[] = {
    "dataset", "cell_id", "seed", "status", "message", "ranks", "train_seconds",
    "samples_per_second", "test_accuracy", "test_loss", "swept_keys", "n_realizations",
    "n_diverged", "n_failed", "n_trainable", "retracted_test_accuracy",
    "retracted_test_loss", "model", "init", "training"};

/* The names of every setting an axis or a bundle may set, for messages: the training
   keys, then the model keys (dotted). */
static void cfg_setting_names(const char *known[SS_KEY_COUNT + SS_MKEY_COUNT])
{
    for (int k = 0; k < SS_KEY_COUNT; k++)
        known[k] = cfg_training_names[k];
    for (int k = 0; k < SS_MKEY_COUNT; k++)
        known[SS_KEY_COUNT + k] = ss_model_key_name((ss_model_key_t)k);
}

/* Point i of axis a sets model key k from value node `at`: recorded for the checks of
   whole models (cfg_check_models). */
static void cfg_point_sets_model(cfg_parse_t *p, int a, int i, ss_model_key_t k,
                                 yaml_node_t *at)
{
    p->point_node[a][(size_t)i * SS_MKEY_COUNT + k] = at;
}

/* Room for the points of axis a: n points, their labels and model-key nodes. */
static void cfg_axis_alloc(cfg_parse_t *p, int a, int n)
{
    ss_axis_t *ax = &p->sw->axes[a];
    ax->n = n;
    ax->points = ss_calloc((size_t)n, sizeof *ax->points);
    ax->labels = ss_calloc((size_t)n, sizeof *ax->labels);
    p->point_node[a] = ss_calloc((size_t)n * SS_MKEY_COUNT, sizeof *p->point_node[a]);
    for (int i = 0; i < n; i++) {
        ax->points[i].training = p->sw->training;
        ax->points[i].model = p->sw->model;
    }
}

/* An axis over training key k: a list of values or {logspace: ...}. */
static int cfg_axis_training(cfg_parse_t *p, int a, ss_training_key_t k, yaml_node_t *v)
{
    cfg_yaml_t *y = &p->y;
    ss_axis_t *ax = &p->sw->axes[a];
    const char *name = cfg_training_names[k];
    char got[96];
    ax->kind = SS_AXIS_TRAINING;
    ax->key = k;
    if (v->type == YAML_SEQUENCE_NODE) {
        int len = cfg_seq_len(v);
        if (len < 1)
            return cfg_fail(y, v, "sweep axis %s has an empty list of values", name);
        if (len > CFG_MAX_LIST)
            return cfg_fail(y, v, "sweep axis %s lists %d values, more than the %d "
                            "supported", name, len, CFG_MAX_LIST);
        ax->values = ss_calloc((size_t)len, sizeof *ax->values);
        ax->n = len;
        for (int i = 0; i < len; i++)
            if (cfg_read_training_value(p, cfg_seq_item(y, v, i), k, &ax->values[i]) < 0)
                return -1;
    } else if (v->type == YAML_MAPPING_NODE) {
        if (cfg_parse_logspace(p, v, ax) < 0)
            return -1;
    } else {
        return cfg_fail(y, v, "sweep axis %s must be a list of values or {logspace: "
                        "[from_exp, to_exp, count]}, got %s", name, cfg_got(v, got, sizeof got));
    }
    int n = ax->n;
    double *values = ax->values;
    cfg_axis_alloc(p, a, n);
    for (int i = 0; i < n; i++) {
        char text[32];
        ss_training_set(&ax->points[i].training, k, values[i]);
        ax->points[i].training_mask = 1u << k;
        ss_training_key_text(&ax->points[i].training, k, text, sizeof text);
        ax->labels[i] = ss_strdup(text);
    }
    ax->training_mask = 1u << k;
    return 0;
}

/* An axis over model key k: a list of values of the key. */
static int cfg_axis_model(cfg_parse_t *p, int a, ss_model_key_t k, yaml_node_t *v)
{
    cfg_yaml_t *y = &p->y;
    ss_axis_t *ax = &p->sw->axes[a];
    const char *name = ss_model_key_name(k);
    char got[96];
    ax->kind = SS_AXIS_MODEL;
    ax->model_key = k;
    if (v->type != YAML_SEQUENCE_NODE || cfg_seq_len(v) < 1)
        return cfg_fail(y, v, "sweep axis %s must be a non-empty list of values (such as "
                        "%s), got %s", name, k == SS_MKEY_HIDDEN ? "[[100], [100, 50]]"
                        : "[a, b]", cfg_got(v, got, sizeof got));
    int len = cfg_seq_len(v);
    if (len > CFG_MAX_LIST)
        return cfg_fail(y, v, "sweep axis %s lists %d values, more than the %d supported",
                        name, len, CFG_MAX_LIST);
    cfg_axis_alloc(p, a, len);
    for (int i = 0; i < len; i++) {
        yaml_node_t *it = cfg_seq_item(y, v, i);
        char text[SS_MAX_LAYERS * 8 + 8];
        if (cfg_model_read(y, k, it, &ax->points[i].model) < 0)
            return -1;
        ax->points[i].model_mask = 1u << k;
        cfg_point_sets_model(p, a, i, k, it);
        ax->labels[i] = ss_strdup(ss_model_key_text(&ax->points[i].model, k, text,
                                                    sizeof text));
    }
    ax->model_mask = 1u << k;
    return 0;
}

/* One bundle `map` (point i of bundle axis a): a mapping of training keys and model keys
   to values; an empty one keeps the sections' settings. */
static int cfg_bundle_point(cfg_parse_t *p, int a, int i, yaml_node_t *map)
{
    cfg_yaml_t *y = &p->y;
    ss_axis_t *ax = &p->sw->axes[a];
    ss_patch_t *pt = &ax->points[i];
    char what[SS_NAME_MAX * 2 + 32], where[SS_NAME_MAX * 2 + 40];
    snprintf(what, sizeof what, "bundle '%s' of sweep axis %s", ax->labels[i], ax->name);
    snprintf(where, sizeof where, "in %s", what);
    int r = cfg_section(y, map, what);   /* an empty bundle keeps the sections' settings */
    if (r <= 0)
        return r;
    const char *known[SS_KEY_COUNT + SS_MKEY_COUNT];
    cfg_setting_names(known);
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const char *name = cfg_key(y, map, pr);
        if (!name)
            return -1;
        yaml_node_t *key = cfg_node(y, pr->key), *v = cfg_node(y, pr->value);
        int k = ss_training_key_lookup(name), mk = ss_model_key_lookup(name);
        if (k >= 0) {
            double value = 0.0;
            if (cfg_read_training_value(p, v, (ss_training_key_t)k, &value) < 0)
                return -1;
            ss_training_set(&pt->training, (ss_training_key_t)k, value);
            pt->training_mask |= 1u << k;
            if (!(ax->training_mask & (1u << k)))
                p->axis_key_of[a][k] = key;
            ax->training_mask |= 1u << k;
        } else if (mk >= 0) {
            if (cfg_model_read(y, (ss_model_key_t)mk, v, &pt->model) < 0)
                return -1;
            pt->model_mask |= 1u << mk;
            cfg_point_sets_model(p, a, i, (ss_model_key_t)mk, v);
            if (!(ax->model_mask & (1u << mk)))
                p->axis_key_of[a][SS_KEY_COUNT + mk] = key;
            ax->model_mask |= 1u << mk;
        } else {
            return cfg_unknown_key(y, key, where, known, CFG_COUNT(known));
        }
    }
    return 0;
}

/* A bundle axis `name`: a mapping of bundle names to bundles of settings. */
static int cfg_axis_bundle(cfg_parse_t *p, int a, yaml_node_t *key, yaml_node_t *v)
{
    cfg_yaml_t *y = &p->y;
    ss_axis_t *ax = &p->sw->axes[a];
    char got[96];
    ax->kind = SS_AXIS_BUNDLE;
    for (int i = 0; i < CFG_COUNT(cfg_reserved_names); i++)
        if (!strcmp(ax->name, cfg_reserved_names[i]))
            return cfg_fail(y, key, "a bundle axis may not be named '%s' (a name the results "
                            "file uses for something else)", ax->name);
    if (v->type != YAML_MAPPING_NODE || v->data.mapping.pairs.top == v->data.mapping.pairs.start)
        return cfg_fail(y, v, "bundle axis %s must map bundle names to settings, such as "
                        "{direct: {model.spectral: none}, eigenvalues: {train_eigenvectors: "
                        "false}}, got %s", ax->name, cfg_got(v, got, sizeof got));
    int n = (int)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    cfg_axis_alloc(p, a, n);
    for (int i = 0; i < n; i++) {
        yaml_node_pair_t *pr = v->data.mapping.pairs.start + i;
        char label[SS_NAME_MAX];
        if (!cfg_key(y, v, pr) ||
            cfg_read_name(y, cfg_node(y, pr->key), "a bundle name", label, sizeof label) < 0)
            return -1;
        ax->labels[i] = ss_strdup(label);
        if (cfg_bundle_point(p, a, i, cfg_node(y, pr->value)) < 0)
            return -1;
    }
    return 0;
}

/* No key may be set by two axes (a bundle and a plain axis, or two bundles): which value
   would a run use? The message points at the bundle's key. */
static int cfg_check_axis_overlap(cfg_parse_t *p)
{
    cfg_yaml_t *y = &p->y;
    const ss_sweep_t *sw = p->sw;
    for (int b = 1; b < sw->n_axes; b++)
        for (int a = 0; a < b; a++) {
            const ss_axis_t *A = &sw->axes[a], *B = &sw->axes[b];
            for (int k = 0; k < SS_KEY_COUNT + SS_MKEY_COUNT; k++) {
                int in_a = k < SS_KEY_COUNT ? (A->training_mask >> k) & 1u
                                            : (A->model_mask >> (k - SS_KEY_COUNT)) & 1u;
                int in_b = k < SS_KEY_COUNT ? (B->training_mask >> k) & 1u
                                            : (B->model_mask >> (k - SS_KEY_COUNT)) & 1u;
                if (!in_a || !in_b)
                    continue;
                const char *key = k < SS_KEY_COUNT ? cfg_training_names[k]
                                  : ss_model_key_name((ss_model_key_t)(k - SS_KEY_COUNT));
                /* point at a bundle when one is involved: the later one, else the earlier */
                int at = B->kind == SS_AXIS_BUNDLE ? b : A->kind == SS_AXIS_BUNDLE ? a : b;
                int other = at == b ? a : b;
                const ss_axis_t *O = &sw->axes[other];
                return cfg_fail(y, cfg_axis_sets_at(p, at, k), "%s is set by the bundle axis "
                                "%s and by the %s %s (line %d): ambiguous, set it in one place",
                                key, sw->axes[at].name,
                                O->kind == SS_AXIS_BUNDLE ? "bundle axis" : "sweep axis",
                                O->name, cfg_line(p->axis_key[other]));
            }
        }
    return 0;
}

int cfg_parse_sweep(cfg_parse_t *p, yaml_node_t *map)
{
    cfg_yaml_t *y = &p->y;
    ss_sweep_t *sw = p->sw;
    int r = cfg_section(y, map, "sweep");
    if (r <= 0)
        return r;
    const char *known[SS_KEY_COUNT + SS_MKEY_COUNT];
    cfg_setting_names(known);
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const char *name = cfg_key(y, map, pr);
        if (!name)
            return -1;
        yaml_node_t *key = cfg_node(y, pr->key), *v = cfg_node(y, pr->value);
        int k = ss_training_key_lookup(name), mk = ss_model_key_lookup(name);
        int bundle = k < 0 && mk < 0 && v->type == YAML_MAPPING_NODE && !strchr(name, '.');
        if (k < 0 && mk < 0 && !bundle) {
            char dotted[SS_NAME_MAX + 8];
            for (int s = 0; s < 2; s++) {  /* a model key without its section */
                snprintf(dotted, sizeof dotted, "%s.%s", s ? "init" : "model", name);
                if (ss_model_key_lookup(dotted) >= 0)
                    return cfg_fail(y, key, "unknown key '%s' in sweep: model keys are named "
                                    "with their section, did you mean '%s'?", name, dotted);
            }
            return cfg_unknown_key(y, key, "in sweep: an axis is a training key, a model key "
                                   "or a bundle (a mapping of names to settings)", known,
                                   CFG_COUNT(known));
        }
        if (sw->n_axes == SS_MAX_AXES)
            return cfg_fail(y, key, "too many sweep axes: at most %d are supported",
                            SS_MAX_AXES);
        int a = sw->n_axes++;
        ss_axis_t *ax = &sw->axes[a];
        p->axis_key[a] = key;
        if (bundle && cfg_read_name(y, key, "a bundle axis name", ax->name, sizeof ax->name) < 0)
            return -1;
        snprintf(ax->name, sizeof ax->name, "%s", name);
        int rc = k >= 0 ? cfg_axis_training(p, a, (ss_training_key_t)k, v)
                 : mk >= 0 ? cfg_axis_model(p, a, (ss_model_key_t)mk, v)
                 : cfg_axis_bundle(p, a, key, v);
        if (rc < 0)
            return -1;
        /* labels that read alike would give two runs the same id (ss_first_repeat: n log n,
           for long axes) */
        int earlier = -1, i = ss_first_repeat((const char *const *)ax->labels, ax->n, &earlier);
        if (i >= 0) {
            yaml_node_t *at = v->type == YAML_SEQUENCE_NODE ? cfg_seq_item(y, v, i) : v;
            if (ax->kind == SS_AXIS_TRAINING && !ss_training_key_is_choice(ax->key))
                return cfg_fail(y, at, "sweep axis %s repeats the value %s (values must differ "
                                "in their first 6 significant digits)", name, ax->labels[i]);
            return cfg_fail(y, at, "sweep axis %s repeats the value %s", name, ax->labels[i]);
        }
    }
    return cfg_check_axis_overlap(p);
}

