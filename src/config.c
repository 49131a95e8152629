/*
 * config.c - the sweep file (docs/FORMATS.md, "The sweep file"): its sections, keys and
 * defaults, validated into an ss_sweep_t. See include/specsweep/config.h.
 *
 * The whole file is loaded as one libyaml document (config_yaml.c, which also reads every
 * typed value and words the messages), then every section is walked in file order, so
 * the first error reported is the first one in the file. Each value is checked where it
 * is read; checks that involve several keys run once a section (or the whole file) is
 * complete. All messages point at the offending node: "FILE:LINE:COLUMN: ...". The
 * `sweep:` section is config_axes.c's, the `model:` and `init:` keys config_model.c's, the
 * names of keys and values config_keys.c's (config_internal.h lists the parts). The
 * expansion into runs and cells is the grid module's (grid.c).
 */
#include "specsweep/config.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_internal.h"

/* ---- defaults ------------------------------------------------------------------------- */

/* The default output path, "results/<name>.h5" (relative to the working directory). */
#define CFG_DEFAULT_OUTPUT "results/%s.h5"

/*
 * Every default of the sweep file: the papers' settings (docs/FORMATS.md). Fills *sw
 * (model and init through ss_model_defaults, training through ss_training_defaults; seeds,
 * relevance, parallel here) and ds[k], the template an entry
 * of `datasets` of kind k starts from (the same for all kinds but the sizes of spectra; a
 * kind ignores the fields it does not use). The output path needs the name and is
 * CFG_DEFAULT_OUTPUT, applied once the whole file has been read. sw->seeds and sw->topk
 * are allocated here.
 */
static void ss_sweep_defaults(ss_sweep_t *sw, ss_dataset_spec_t ds[CFG_N_KINDS])
{
    static const int topk[] = {1, 2, 5, 10, 14, 20, 50, 100, 200, 500};
    static const double pairs[] = {0.7, 0.8, 0.4, 0.6};

    ss_model_defaults(&sw->model);        /* 100-100-50, tanh, relu, relu; init: Glorot,
                                              lambda_in 1, lambda_out 0 (config_model.c) */
    ss_training_defaults(&sw->training);   /* Adam, lr 1e-2, 500, 1000 epochs, ... */

    sw->n_seeds = 10;                      /* seeds 0..9 */
    sw->seeds = ss_calloc((size_t)sw->n_seeds, sizeof *sw->seeds);
    for (int i = 0; i < sw->n_seeds; i++)
        sw->seeds[i] = i;

    sw->n_topk = CFG_COUNT(topk);
    sw->topk = ss_calloc((size_t)sw->n_topk, sizeof *sw->topk);
    memcpy(sw->topk, topk, sizeof topk);
    sw->random_repeats = 5;
    sw->methods = 1u << SS_ATTRIB_SPECTRAL;
    ss_attrib_defaults(&sw->attrib);
    sw->ranks_per_run = 1;

    memset(ds, 0, sizeof *ds);
    ds->features = 20;                     /* gaussian */
    ds->relevant = 11;
    ds->samples = 60000;
    ds->sigma = 0.5;
    ds->max_shift = 1.4;
    ds->n_pairs = CFG_COUNT(pairs);        /* correlated: features = 2 n_pairs + noise */
    for (int i = 0; i < ds->n_pairs; i++)
        ds->pair_p[i] = pairs[i];
    ds->noise_features = 2;
    ds->data_seed = 1;
    ds->test_fraction = 0.2;
    snprintf(ds->label, sizeof ds->label, "label");   /* csv */
    ds->task = SS_TASK_CLASSIFICATION;
    ds->n_class_subset = 0;                /* all classes */
    ds->scale = 1.0 / 255.0;               /* idx: pixels in [0, 1] */
    ds->max_train = 0;                     /* 0 = all */
    ds->max_test = 0;
    ds->metal_lines = 20;                  /* spectra */
    ds->nuisance_lines = 20;
    ds->metal_min = -2.5;                  /* [Fe/H] of MILES-like stars */
    ds->metal_max = 0.5;
    ds->wave_min = 3540.0;                 /* the MILES range, Angstrom */
    ds->wave_max = 7410.0;
    ds->training = sw->training;           /* replaced by the resolved values at the end */
    ds->training_set_mask = 0;
    for (int k = 1; k < CFG_N_KINDS; k++)
        ds[k] = ds[0];

    ss_dataset_spec_t *sp = &ds[SS_KIND_SPECTRA]; /* MILES-like: fig. 11 */
    sp->features = 4300;                   /* wavelengths */
    sp->samples = 2000;                    /* stars */
    sp->sigma = 0.01;                      /* relative noise: signal-to-noise 100 */
}


/* ---- paths ----------------------------------------------------------------------------- */


/* `rel` resolved against directory `dir` (absolute paths are kept as they are). */
static char *cfg_resolve(const char *dir, const char *rel)
{
    if (rel[0] == '/' || !strcmp(dir, "."))
        return ss_strdup(rel);
    size_t nd = strlen(dir), nr = strlen(rel);
    int sep = dir[nd - 1] != '/';
    char *out = ss_malloc(nd + (size_t)sep + nr + 1);
    memcpy(out, dir, nd);
    if (sep)
        out[nd] = '/';
    memcpy(out + nd + (size_t)sep, rel, nr + 1);
    return out;
}

/* ---- training ------------------------------------------------------------------------- */


/* The value node n of training key k as a double (a choice as its index): config_internal.h. */
int cfg_read_training_value(cfg_parse_t *p, const yaml_node_t *n, ss_training_key_t k,
                            double *v)
{
    cfg_yaml_t *y = &p->y;
    if (k == SS_KEY_OPTIMIZER) {
        int which = 0;
        if (cfg_read_choice(y, n, "optimizer", cfg_optimizer_names,
                            CFG_COUNT(cfg_optimizer_names), &which) < 0)
            return -1;
        *v = which;
        p->uses_regime_keys |= which == SS_OPT_ADAMAX;
        return 0;
    }
    if (k >= SS_KEY_ADAMAX_BETA1)
        p->uses_regime_keys = 1;
    return cfg_read(y, n, cfg_training_names[k], cfg_training_rules[k].type,
                    cfg_training_rules[k].range, v, NULL);
}

/*
 * A `training` mapping (global or a dataset's overrides): every key validated and stored
 * in *t; bit k of *mask is set for every key given. `where` names it in messages. A
 * dataset's key nodes are recorded in `keys` (SS_KEY_COUNT entries, may be NULL).
 */
static int cfg_parse_training(cfg_parse_t *p, yaml_node_t *map, const char *where,
                              ss_training_t *t, unsigned *mask, yaml_node_t **keys)
{
    cfg_yaml_t *y = &p->y;
    const char *known[SS_KEY_COUNT];
    for (int k = 0; k < SS_KEY_COUNT; k++)
        known[k] = cfg_training_names[k];

    int r = cfg_section(y, map, where);
    if (r <= 0)
        return r;
    char in_where[160];
    snprintf(in_where, sizeof in_where, "in %s", where);
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const char *name = cfg_key(y, map, pr);
        if (!name)
            return -1;
        yaml_node_t *key = cfg_node(y, pr->key), *v = cfg_node(y, pr->value);
        int k = ss_training_key_lookup(name);
        if (k < 0)
            return cfg_unknown_key(y, key, in_where, known, CFG_COUNT(known));
        double value = 0.0;
        if (cfg_read_training_value(p, v, (ss_training_key_t)k, &value) < 0)
            return -1;
        ss_training_set(t, (ss_training_key_t)k, value);
        if (mask)
            *mask |= 1u << k;
        if (keys)
            keys[k] = key;
    }
    return 0;
}

/* ---- model and init -------------------------------------------------------------------- */

/* `model:` or `init:` (config_model.c); the keys of the spectral-domain study make every
   run record its model (sw->record_model). */
static int cfg_parse_model(cfg_parse_t *p, yaml_node_t *map, const char *section)
{
    if (cfg_model_section(&p->y, map, section, &p->sw->model, p->model_node) < 0)
        return -1;
    p->uses_regime_keys |= p->model_node[SS_MKEY_TRAINABLE_WEIGHTS] ||
                           p->model_node[SS_MKEY_RETRACT] ||
                           (!strcmp(section, "init") && map->type == YAML_MAPPING_NODE &&
                            map->data.mapping.pairs.top > map->data.mapping.pairs.start);
    return 0;
}

/* ---- datasets --------------------------------------------------------------------------- */

#define CFG_K(kind) (1u << (kind))
#define CFG_SYNTH (CFG_K(SS_KIND_GAUSSIAN) | CFG_K(SS_KIND_CORRELATED) | CFG_K(SS_KIND_SPECTRA))
#define CFG_FILES (CFG_K(SS_KIND_CSV) | CFG_K(SS_KIND_IDX) | CFG_K(SS_KIND_HDF5))
#define CFG_ALL (CFG_SYNTH | CFG_FILES)

typedef enum {
    CFG_F_NUMBER, CFG_F_PATH, CFG_F_LABEL, CFG_F_TASK, CFG_F_CLASSES, CFG_F_PAIRS, CFG_F_SHAPE
} cfg_how_t;

/* The keys of a dataset spec besides `kind` and `training`: which kinds use them, how they
   are read, where they go. */
static const struct {
    const char *key;
    unsigned kinds;
    cfg_how_t how;
    cfg_type_t type;
    cfg_range_t range;
    size_t offset;
} cfg_ds_fields[] = {
#define F(key, kinds, how, type, range, field) \
    {key, kinds, how, type, range, offsetof(ss_dataset_spec_t, field)}
    F("features", CFG_K(SS_KIND_GAUSSIAN) | CFG_K(SS_KIND_SPECTRA), CFG_F_NUMBER, CFG_INT,
      CFG_POS, features),
    F("relevant", CFG_K(SS_KIND_GAUSSIAN), CFG_F_NUMBER, CFG_INT, CFG_NONNEG, relevant),
    F("pair_probabilities", CFG_K(SS_KIND_CORRELATED), CFG_F_PAIRS, CFG_REAL, CFG_UNIT_CC,
      pair_p),
    F("noise_features", CFG_K(SS_KIND_CORRELATED), CFG_F_NUMBER, CFG_INT, CFG_NONNEG,
      noise_features),
    F("samples", CFG_SYNTH, CFG_F_NUMBER, CFG_INT, CFG_POS, samples),
    F("sigma", CFG_SYNTH, CFG_F_NUMBER, CFG_REAL, CFG_POS, sigma),
    F("max_shift", CFG_K(SS_KIND_GAUSSIAN), CFG_F_NUMBER, CFG_REAL, CFG_NONNEG, max_shift),
    F("metal_lines", CFG_K(SS_KIND_SPECTRA), CFG_F_NUMBER, CFG_INT, CFG_POS, metal_lines),
    F("nuisance_lines", CFG_K(SS_KIND_SPECTRA), CFG_F_NUMBER, CFG_INT, CFG_NONNEG,
      nuisance_lines),
    F("metal_min", CFG_K(SS_KIND_SPECTRA), CFG_F_NUMBER, CFG_REAL, CFG_ANY, metal_min),
    F("metal_max", CFG_K(SS_KIND_SPECTRA), CFG_F_NUMBER, CFG_REAL, CFG_ANY, metal_max),
    F("wave_min", CFG_K(SS_KIND_SPECTRA), CFG_F_NUMBER, CFG_REAL, CFG_POS, wave_min),
    F("wave_max", CFG_K(SS_KIND_SPECTRA), CFG_F_NUMBER, CFG_REAL, CFG_POS, wave_max),
    F("path", CFG_K(SS_KIND_CSV) | CFG_K(SS_KIND_HDF5), CFG_F_PATH, CFG_REAL, CFG_ANY, path),
    F("train_images", CFG_K(SS_KIND_IDX), CFG_F_PATH, CFG_REAL, CFG_ANY, train_images),
    F("train_labels", CFG_K(SS_KIND_IDX), CFG_F_PATH, CFG_REAL, CFG_ANY, train_labels),
    F("test_images", CFG_K(SS_KIND_IDX), CFG_F_PATH, CFG_REAL, CFG_ANY, test_images),
    F("test_labels", CFG_K(SS_KIND_IDX), CFG_F_PATH, CFG_REAL, CFG_ANY, test_labels),
    F("label", CFG_K(SS_KIND_CSV), CFG_F_LABEL, CFG_REAL, CFG_ANY, label),
    F("task", CFG_K(SS_KIND_CSV) | CFG_K(SS_KIND_HDF5), CFG_F_TASK, CFG_REAL, CFG_ANY, task),
    F("classes", CFG_FILES, CFG_F_CLASSES, CFG_INT, CFG_NONNEG, class_subset),
    F("scale", CFG_K(SS_KIND_IDX), CFG_F_NUMBER, CFG_REAL, CFG_POS, scale),
    F("data_seed", CFG_SYNTH | CFG_K(SS_KIND_CSV) | CFG_K(SS_KIND_HDF5), CFG_F_NUMBER,
      CFG_I64, CFG_NONNEG, data_seed),
    F("test_fraction", CFG_SYNTH | CFG_K(SS_KIND_CSV) | CFG_K(SS_KIND_HDF5), CFG_F_NUMBER,
      CFG_REAL, CFG_UNIT_OO, test_fraction),
    F("max_train", CFG_FILES, CFG_F_NUMBER, CFG_INT, CFG_NONNEG, max_train),
    F("max_test", CFG_FILES, CFG_F_NUMBER, CFG_INT, CFG_NONNEG, max_test),
    F("standardize", CFG_ALL, CFG_F_NUMBER, CFG_BOOL, CFG_ANY, standardize),
    F("input_shape", CFG_ALL, CFG_F_SHAPE, CFG_INT, CFG_POS, input_shape),
#undef F
};
#define CFG_N_DS_FIELDS CFG_COUNT(cfg_ds_fields)

static int cfg_ds_field(const char *key)
{
    for (int i = 0; i < CFG_N_DS_FIELDS; i++)
        if (!strcmp(cfg_ds_fields[i].key, key))
            return i;
    return -1;
}


/*
 * The checks of kind spectra that involve several keys (see ss_dataset_load in data.h):
 * at least SS_SPECTRA_MIN_FEATURES wavelengths, SS_SPECTRA_LINE_PIXELS of them for every
 * line, metal_min < metal_max and wave_min < wave_max. `given` holds the value node of
 * every key the file sets; a message points at the key that was set.
 */
static int cfg_check_spectra(cfg_parse_t *p, const ss_dataset_spec_t *ds,
                             yaml_node_t *const given[])
{
    cfg_yaml_t *y = &p->y;
    yaml_node_t *features = given[cfg_ds_field("features")];
    yaml_node_t *metal = given[cfg_ds_field("metal_lines")];
    yaml_node_t *nuisance = given[cfg_ds_field("nuisance_lines")];
    if (ds->features < SS_SPECTRA_MIN_FEATURES)
        return cfg_fail(y, features, "features must be at least %d for kind spectra (a "
                        "wavelength grid), got %d", SS_SPECTRA_MIN_FEATURES, ds->features);
    long long lines = (long long)ds->metal_lines + ds->nuisance_lines;
    if (lines * SS_SPECTRA_LINE_PIXELS > ds->features) {
        yaml_node_t *at = metal ? metal : nuisance ? nuisance : features;
        return cfg_fail(y, at, "dataset '%s' has %lld absorption lines (metal_lines %d + "
                        "nuisance_lines %d), but %d features allow at most %d (%d wavelengths "
                        "per line)", ds->name, lines, ds->metal_lines, ds->nuisance_lines,
                        ds->features, ds->features / SS_SPECTRA_LINE_PIXELS,
                        SS_SPECTRA_LINE_PIXELS);
    }
    if (!(ds->metal_min < ds->metal_max)) {
        yaml_node_t *hi = given[cfg_ds_field("metal_max")];
        return cfg_fail(y, hi ? hi : given[cfg_ds_field("metal_min")],
                        "metal_min (%g) must be below metal_max (%g) in dataset '%s'",
                        ds->metal_min, ds->metal_max, ds->name);
    }
    if (!(ds->wave_min < ds->wave_max)) {
        yaml_node_t *hi = given[cfg_ds_field("wave_max")];
        return cfg_fail(y, hi ? hi : given[cfg_ds_field("wave_min")],
                        "wave_min (%g) must be below wave_max (%g) in dataset '%s'",
                        ds->wave_min, ds->wave_max, ds->name);
    }
    return 0;
}

/*
 * input_shape: [rows, cols], two positive integers whose product fits an int, into
 * ds->input_shape. Whether they make the dataset's inputs is known only once the data is
 * loaded (data.c), so the value's position is kept for that message in
 * ds->input_shape_at. 0 or -1.
 */
static int cfg_read_input_shape(cfg_parse_t *p, ss_dataset_spec_t *ds, yaml_node_t *v)
{
    cfg_yaml_t *y = &p->y;
    char got[96];
    if (v->type != YAML_SEQUENCE_NODE || cfg_seq_len(v) != 2)
        return cfg_fail(y, v, "input_shape must be a list of two positive integers [rows, "
                        "cols], got %s", cfg_got(v, got, sizeof got));
    int shape[2];
    for (int i = 0; i < 2; i++)
        if (cfg_read_int(y, cfg_seq_item(y, v, i), i ? "input_shape's cols" :
                         "input_shape's rows", CFG_POS, &shape[i]) < 0)
            return -1;
    if ((long long)shape[0] * shape[1] > INT_MAX)
        return cfg_fail(y, v, "input_shape [%d, %d] has more inputs than a dataset may have "
                        "(%d)", shape[0], shape[1], INT_MAX);
    ds->input_shape[0] = shape[0];
    ds->input_shape[1] = shape[1];
    free(ds->input_shape_at);
    size_t n = strlen(y->file) + 32;
    ds->input_shape_at = ss_malloc(n);
    snprintf(ds->input_shape_at, n, "%s:%d:%d", y->file, cfg_line(v), cfg_col(v));
    return 0;
}

/* The value node v of dataset key cfg_ds_fields[f], read and stored in *ds as the table
   says. 0 or -1. */
static int cfg_read_ds_field(cfg_parse_t *p, ss_dataset_spec_t *ds, int f, yaml_node_t *v)
{
    cfg_yaml_t *y = &p->y;
    char got[96];
    void *field = (char *)ds + cfg_ds_fields[f].offset;
    const char *name = cfg_ds_fields[f].key;
    const char *s = NULL;
    int choice = 0;
    switch (cfg_ds_fields[f].how) {
    case CFG_F_NUMBER: {
        double d = 0.0;
        long long i = 0;
        if (cfg_read(y, v, name, cfg_ds_fields[f].type, cfg_ds_fields[f].range, &d, &i) < 0)
            return -1;
        if (cfg_ds_fields[f].type == CFG_INT || cfg_ds_fields[f].type == CFG_BOOL)
            *(int *)field = (int)i;
        else if (cfg_ds_fields[f].type == CFG_I64)
            *(uint64_t *)field = (uint64_t)i;
        else
            *(double *)field = d;
        break;
    }
    case CFG_F_PATH:
        if (cfg_read_string(y, v, name, &s) < 0)
            return -1;
        free(*(char **)field);
        *(char **)field = cfg_resolve(p->sw->dir, s);
        break;
    case CFG_F_LABEL:
        if (cfg_read_string(y, v, name, &s) < 0)
            return -1;
        if (strlen(s) >= sizeof ds->label)
            return cfg_fail(y, v, "label '%.40s...' is too long (at most %zu characters)",
                            s, sizeof ds->label - 1);
        snprintf(ds->label, sizeof ds->label, "%s", s);
        break;
    case CFG_F_TASK:
        if (cfg_read_choice(y, v, "task", cfg_task_names, CFG_COUNT(cfg_task_names),
                            &choice) < 0)
            return -1;
        ds->task = (ss_task_t)choice;
        break;
    case CFG_F_CLASSES:
        if (cfg_read_int_list(y, v, "classes", "class", 2, SS_MAX_CLASSES, CFG_NONNEG,
                              ds->class_subset, &ds->n_class_subset) < 0)
            return -1;
        break;
    case CFG_F_PAIRS:
        if (v->type != YAML_SEQUENCE_NODE || cfg_seq_len(v) < 1 ||
            cfg_seq_len(v) > SS_MAX_PAIRS)
            return cfg_fail(y, v, "pair_probabilities must list 1 to %d probabilities, "
                            "got %s", SS_MAX_PAIRS, cfg_got(v, got, sizeof got));
        ds->n_pairs = cfg_seq_len(v);
        for (int i = 0; i < ds->n_pairs; i++)
            if (cfg_read(y, cfg_seq_item(y, v, i), "a pair probability", CFG_REAL,
                         CFG_UNIT_CC, &ds->pair_p[i], NULL) < 0)
                return -1;
        break;
    case CFG_F_SHAPE:
        return cfg_read_input_shape(p, ds, v);
    }
    return 0;
}

/* The checks of dataset *ds that involve several keys, once its mapping (key: its name
   node) has been read; `given` holds the value node of every key the file sets. Also
   computes the features of kind correlated. 0 or -1. */
static int cfg_check_dataset(cfg_parse_t *p, ss_dataset_spec_t *ds, yaml_node_t *key,
                             yaml_node_t *const given[])
{
    cfg_yaml_t *y = &p->y;
    int kind = (int)ds->kind;
    /* keys a kind cannot do without */
    for (int i = 0; i < CFG_N_DS_FIELDS; i++) {
        int needed = cfg_ds_fields[i].how == CFG_F_PATH && (cfg_ds_fields[i].kinds & CFG_K(kind));
        if (needed && !given[i]) {
            const char *req = kind == SS_KIND_IDX ? "train_images, train_labels, test_images, "
                                                    "test_labels" : "path";
            return cfg_fail(y, key, "missing required key '%s' in dataset '%s' (kind %s needs "
                            "%s)", cfg_ds_fields[i].key, ds->name, cfg_kind_names[kind], req);
        }
    }

    /* checks that involve several keys */
    if (kind == SS_KIND_GAUSSIAN && ds->relevant > ds->features) {
        yaml_node_t *at = given[cfg_ds_field("relevant")];
        return cfg_fail(y, at ? at : given[cfg_ds_field("features")],
                        "relevant (%d) cannot exceed features (%d) in dataset '%s'",
                        ds->relevant, ds->features, ds->name);
    }
    if (kind == SS_KIND_SPECTRA && cfg_check_spectra(p, ds, given) < 0)
        return -1;
    if (kind == SS_KIND_CORRELATED) {
        long long f = 2LL * ds->n_pairs + ds->noise_features;
        if (f > INT_MAX)
            return cfg_fail(y, given[cfg_ds_field("noise_features")],
                            "noise_features is too large");
        ds->features = (int)f;
    }
    if (CFG_SYNTH & CFG_K(kind)) {
        /* the memory rule (util.h) for what the generator will make: samples x features
           inputs and a label each, float32 */
        double need = (double)ds->samples * ((double)ds->features + 1.0) * (double)sizeof(float);
        size_t limit = ss_memory_limit();
        if (need > (double)limit) {
            yaml_node_t *at = given[cfg_ds_field("samples")];
            if (!at)
                at = kind == SS_KIND_CORRELATED ? given[cfg_ds_field("noise_features")]
                                                : given[cfg_ds_field("features")];
            char a[32], b[32];
            return cfg_fail(y, at ? at : key, "dataset '%s': %d samples x %d features would "
                            "need %s as float32, more than this machine's memory (%s)",
                            ds->name, ds->samples, ds->features,
                            ss_format_bytes(need, a, sizeof a),
                            ss_format_bytes((double)limit, b, sizeof b));
        }
    }
    if (ds->n_class_subset > 0 && ds->task == SS_TASK_REGRESSION)
        return cfg_fail(y, given[cfg_ds_field("classes")],
                        "classes selects classes, but dataset '%s' has task regression",
                        ds->name);
    return 0;
}

/* One value of `datasets`: `key` is the dataset's name node, `map` its spec. */
static int cfg_parse_dataset(cfg_parse_t *p, yaml_node_t *key, yaml_node_t *map, int index)
{
    cfg_yaml_t *y = &p->y;
    ss_dataset_spec_t *ds = &p->sw->datasets[index];
    char got[96], where[160], list[512];

    if (cfg_read_name(y, key, "a dataset name", ds->name, sizeof ds->name) < 0)
        return -1;
    ds->line = cfg_line(key);
    ds->col = cfg_col(key);
    if (map->type != YAML_MAPPING_NODE)
        return cfg_fail(y, map, "dataset '%s' must be a mapping with at least 'kind' (one of "
                        "gaussian, correlated, csv, idx, hdf5, spectra), got %s", ds->name,
                        cfg_got(map, got, sizeof got));
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++)
        if (!cfg_key(y, map, pr))
            return -1;

    yaml_node_pair_t *kind_pair = cfg_find(y, map, "kind");
    if (!kind_pair) {
        cfg_join(cfg_kind_names, CFG_COUNT(cfg_kind_names), list, sizeof list);
        return cfg_fail(y, key, "missing required key 'kind' in dataset '%s' (one of %s)",
                        ds->name, list);
    }
    int kind = 0;
    if (cfg_read_choice(y, cfg_node(y, kind_pair->value), "kind", cfg_kind_names,
                        CFG_COUNT(cfg_kind_names), &kind) < 0)
        return -1;
    /* start again from the defaults of this kind, keeping the name and its position */
    int name_line = ds->line, name_col = ds->col;
    char name_text[sizeof ds->name];
    memcpy(name_text, ds->name, sizeof name_text);
    *ds = p->ds_default[kind];
    memcpy(ds->name, name_text, sizeof ds->name);
    ds->line = name_line;
    ds->col = name_col;
    ds->kind = (ss_kind_t)kind;

    /* every key this kind accepts, for messages */
    const char *known[CFG_N_DS_FIELDS + 2];
    int n_known = 0;
    known[n_known++] = "kind";
    known[n_known++] = "training";
    for (int i = 0; i < CFG_N_DS_FIELDS; i++)
        if (cfg_ds_fields[i].kinds & CFG_K(kind))
            known[n_known++] = cfg_ds_fields[i].key;

    yaml_node_t *given[CFG_N_DS_FIELDS] = {0};
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = cfg_node(y, pr->key), *v = cfg_node(y, pr->value);
        const char *name = cfg_text(k);
        if (!strcmp(name, "kind"))
            continue;
        if (!strcmp(name, "training")) {
            snprintf(where, sizeof where, "datasets.%s.training", ds->name);
            if (cfg_parse_training(p, v, where, &ds->training, &ds->training_set_mask,
                                   p->override_key + (size_t)index * SS_KEY_COUNT) < 0)
                return -1;
            continue;
        }
        int f = cfg_ds_field(name);
        if (f < 0 || !(cfg_ds_fields[f].kinds & CFG_K(kind))) {
            snprintf(where, sizeof where, "for kind %s in dataset '%s'", cfg_kind_names[kind],
                     ds->name);
            return cfg_unknown_key(y, k, where, known, n_known);
        }
        given[f] = v;
        if (cfg_read_ds_field(p, ds, f, v) < 0)
            return -1;
    }
    return cfg_check_dataset(p, ds, key, given);
}

static int cfg_parse_datasets(cfg_parse_t *p, yaml_node_t *map)
{
    cfg_yaml_t *y = &p->y;
    char got[96];
    if (map->type != YAML_MAPPING_NODE ||
        map->data.mapping.pairs.top == map->data.mapping.pairs.start)
        return cfg_fail(y, map, "datasets must be a mapping of dataset name -> spec with at "
                        "least one dataset, got %s", cfg_got(map, got, sizeof got));
    int n = (int)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    ss_sweep_t *sw = p->sw;
    sw->datasets = ss_calloc((size_t)n, sizeof *sw->datasets);
    sw->n_datasets = n;  /* entries are zero or complete: ss_sweep_free copes with both */
    p->override_key = ss_calloc((size_t)n * SS_KEY_COUNT, sizeof *p->override_key);
    for (int i = 0; i < n; i++) {
        yaml_node_pair_t *pr = map->data.mapping.pairs.start + i;
        sw->datasets[i] = p->ds_default[0];
        if (!cfg_key(y, map, pr))
            return -1;
        if (cfg_parse_dataset(p, cfg_node(y, pr->key), cfg_node(y, pr->value), i) < 0)
            return -1;
    }
    return 0;
}

/* ---- seeds, sweep, relevance, parallel -------------------------------------------------- */

static int cfg_parse_seeds(cfg_parse_t *p, yaml_node_t *n)
{
    cfg_yaml_t *y = &p->y;
    ss_sweep_t *sw = p->sw;
    char got[96];
    long long count = 0;
    if (n->type == YAML_SCALAR_NODE) {
        if (!cfg_is_plain(n) || cfg_parse_integer(cfg_text(n), &count) < 0 || count < 1)
            return cfg_fail(y, n, "seeds must be a positive integer N (seeds 0..N-1) or a "
                            "list of seeds, got %s", cfg_got(n, got, sizeof got));
        if (count > CFG_MAX_LIST)
            return cfg_fail(y, n, "seeds: %lld seeds is more than the %d supported", count,
                            CFG_MAX_LIST);
        free(sw->seeds);
        sw->seeds = ss_calloc((size_t)count, sizeof *sw->seeds);
        sw->n_seeds = (int)count;
        for (int i = 0; i < sw->n_seeds; i++)
            sw->seeds[i] = i;
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE || cfg_seq_len(n) < 1)
        return cfg_fail(y, n, "seeds must be a positive integer N (seeds 0..N-1) or a "
                        "non-empty list of seeds, got %s", cfg_got(n, got, sizeof got));
    int len = cfg_seq_len(n);
    if (len > CFG_MAX_LIST)
        return cfg_fail(y, n, "seeds lists %d seeds, more than the %d supported", len,
                        CFG_MAX_LIST);
    free(sw->seeds);
    sw->seeds = ss_calloc((size_t)len, sizeof *sw->seeds);
    sw->n_seeds = len;
    cfg_seen_t seen;
    cfg_seen_init(&seen, len);
    int rc = 0;
    for (int i = 0; i < len && rc == 0; i++) {
        yaml_node_t *it = cfg_seq_item(y, n, i);
        double d = 0.0;
        long long s = 0;
        if (cfg_read(y, it, "a seed", CFG_I64, CFG_NONNEG, &d, &s) < 0) {
            rc = -1;
            break;
        }
        int j = cfg_seen_add(&seen, s, i);
        if (j >= 0) {
            yaml_node_t *first = cfg_seq_item(y, n, j);
            rc = cfg_fail(y, it, "duplicate seed %lld (first at line %d, column %d)", s,
                          cfg_line(first), cfg_col(first));
        }
        sw->seeds[i] = s;
    }
    cfg_seen_free(&seen);
    return rc;
}

/* relevance.methods: a list of method names (attrib_settings.h), each once. */
static int cfg_parse_methods(cfg_parse_t *p, yaml_node_t *v)
{
    cfg_yaml_t *y = &p->y;
    char got[96];
    if (v->type != YAML_SEQUENCE_NODE || cfg_seq_len(v) < 1)
        return cfg_fail(y, v, "methods must be a non-empty list of relevance methods such as "
                        "[spectral, integrated_gradients], got %s", cfg_got(v, got, sizeof got));
    const char *names[SS_ATTRIB_N_METHODS];
    for (int m = 0; m < SS_ATTRIB_N_METHODS; m++)
        names[m] = ss_attrib_method_name((ss_attrib_method_t)m);
    unsigned mask = 0;
    for (int i = 0; i < cfg_seq_len(v); i++) {
        yaml_node_t *item = cfg_seq_item(y, v, i);
        int m;
        if (cfg_read_choice(y, item, "a relevance method", names, SS_ATTRIB_N_METHODS, &m) < 0)
            return -1;
        if ((mask >> m) & 1u)
            return cfg_fail(y, item, "methods lists %s twice", names[m]);
        mask |= 1u << m;
    }
    p->sw->methods = mask;
    return 0;
}

/* relevance.retrain.methods: relevance methods that rank inputs, `random` or `truth`, each
   once; `random` is included whether listed or not. *at gets each method's node. */
static int cfg_parse_retrain_methods(cfg_parse_t *p, yaml_node_t *v,
                                     yaml_node_t *at[SS_RETRAIN_N_METHODS])
{
    cfg_yaml_t *y = &p->y;
    char got[96];
    if (v->type != YAML_SEQUENCE_NODE || cfg_seq_len(v) < 1)
        return cfg_fail(y, v, "retrain.methods must be a non-empty list of methods such as "
                        "[spectral, saliency, random], got %s", cfg_got(v, got, sizeof got));
    const char *names[SS_RETRAIN_N_METHODS];
    for (int m = 0; m < SS_RETRAIN_N_METHODS; m++)
        names[m] = ss_retrain_method_name(m);
    unsigned mask = 1u << SS_RETRAIN_RANDOM;
    for (int i = 0; i < cfg_seq_len(v); i++) {
        yaml_node_t *item = cfg_seq_item(y, v, i);
        int m;
        if (cfg_read_choice(y, item, "a retraining method", names, SS_RETRAIN_N_METHODS,
                            &m) < 0)
            return -1;
        if (at[m])
            return cfg_fail(y, item, "retrain.methods lists %s twice", names[m]);
        if (m == SS_ATTRIB_FOURIER)
            return cfg_fail(y, item, "retrain.methods: fourier ranks frequencies, not inputs, "
                            "so no inputs can be kept or removed by it");
        at[m] = item;
        p->sw->retrain.method_at[m] = (ss_where_t){cfg_line(item), cfg_col(item)};
        mask |= 1u << m;
    }
    p->sw->retrain.methods = mask;
    return 0;
}

/* relevance.retrain.keep / .remove: a list of input counts k >= 1, each once (k <= the
   dataset's inputs is checked at start-up, at the positions kept in k_at). */
static int cfg_parse_retrain_k(cfg_parse_t *p, yaml_node_t *v, ss_retrain_mode_t mode)
{
    cfg_yaml_t *y = &p->y;
    ss_retrain_spec_t *rt = &p->sw->retrain;
    const char *what = mode == SS_RETRAIN_KEEP ? "retrain.keep" : "retrain.remove";
    char got[96];
    if (v->type != YAML_SEQUENCE_NODE || cfg_seq_len(v) < 1)
        return cfg_fail(y, v, "%s must be a non-empty list of input counts such as [5, 10, "
                        "20], got %s", what, cfg_got(v, got, sizeof got));
    int len = cfg_seq_len(v);
    if (len > CFG_MAX_LIST)
        return cfg_fail(y, v, "%s lists %d entries, more than the %d supported", what, len,
                        CFG_MAX_LIST);
    rt->k[mode] = ss_calloc((size_t)len, sizeof *rt->k[mode]);
    rt->k_at[mode] = ss_calloc((size_t)len, sizeof *rt->k_at[mode]);
    if (cfg_read_int_list(y, v, what, "input count", 1, len, CFG_POS, rt->k[mode],
                          &rt->n_k[mode]) < 0)
        return -1;
    for (int i = 0; i < len; i++) {
        yaml_node_t *item = cfg_seq_item(y, v, i);
        rt->k_at[mode][i] = (ss_where_t){cfg_line(item), cfg_col(item)};
    }
    return 0;
}

/* relevance.retrain: {methods, keep, remove} (config.h); every method it names must be
   computed by the runs (relevance.methods), random and truth aside. */
static int cfg_parse_retrain(cfg_parse_t *p, yaml_node_t *map, yaml_node_t *retrain_key)
{
    cfg_yaml_t *y = &p->y;
    static const char *const known[] = {"methods", "keep", "remove"};
    int r = cfg_section(y, map, "relevance.retrain");
    if (r <= 0)
        return r;
    yaml_node_t *at[SS_RETRAIN_N_METHODS] = {0};
    yaml_node_t *methods = NULL;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const char *name = cfg_key(y, map, pr);
        if (!name)
            return -1;
        yaml_node_t *v = cfg_node(y, pr->value);
        if (!strcmp(name, "methods")) {
            methods = v;
            r = cfg_parse_retrain_methods(p, v, at);
        } else if (!strcmp(name, "keep") || !strcmp(name, "remove")) {
            r = cfg_parse_retrain_k(p, v, !strcmp(name, "keep") ? SS_RETRAIN_KEEP
                                                                : SS_RETRAIN_REMOVE);
        } else {
            r = cfg_unknown_key(y, cfg_node(y, pr->key), "in relevance.retrain", known,
                                CFG_COUNT(known));
        }
        if (r < 0)
            return -1;
    }
    ss_retrain_spec_t *rt = &p->sw->retrain;
    if (!methods)
        return cfg_fail(y, retrain_key, "relevance.retrain needs methods: the rankings to "
                        "retrain with, such as [spectral, saliency] (random is added)");
    if (rt->n_k[SS_RETRAIN_KEEP] + rt->n_k[SS_RETRAIN_REMOVE] == 0)
        return cfg_fail(y, retrain_key, "relevance.retrain needs keep, remove or both: the "
                        "input counts to retrain with, such as keep: [5, 10, 20]");
    p->retrain_at = ss_malloc(sizeof at);
    memcpy(p->retrain_at, at, sizeof at);
    return 0;
}

/* After the whole relevance section: a retraining method must be one the runs compute. */
static int cfg_check_retrain(cfg_parse_t *p)
{
    const ss_sweep_t *sw = p->sw;
    for (int m = 0; p->retrain_at && m < SS_ATTRIB_N_METHODS; m++)
        if (p->retrain_at[m] && !((sw->methods >> m) & 1u))
            return cfg_fail(&p->y, p->retrain_at[m], "retrain.methods lists %s, which "
                            "relevance.methods does not: add it there, so the runs compute "
                            "the ranking to retrain with", ss_retrain_method_name(m));
    return 0;
}

/* relevance.<setting>: one of the methods' settings, by the table of attrib_settings.h. */
static int cfg_parse_method_setting(cfg_parse_t *p, const ss_attrib_key_t *key, yaml_node_t *v)
{
    cfg_yaml_t *y = &p->y;
    char *field = (char *)&p->sw->attrib + key->offset;
    if (key->kind == SS_ATTRIB_KEY_BASELINE) {
        static const char *const baselines[] = {"zero", "mean"};
        int b;
        if (cfg_read_choice(y, v, key->name, baselines, 2, &b) < 0)
            return -1;
        *(ss_attrib_baseline_t *)field = (ss_attrib_baseline_t)b;
        return 0;
    }
    double d;
    if (cfg_read(y, v, key->name, key->kind == SS_ATTRIB_KEY_INT ? CFG_INT : CFG_REAL, CFG_ANY,
                 &d, NULL) < 0)
        return -1;
    if (!ss_attrib_key_in_range(key, d))
        return cfg_fail(y, v, "%s must be %s %g and %g, got %g", key->name,
                        key->kind == SS_ATTRIB_KEY_INT ? "an integer between" : "between",
                        key->lo, key->hi, d);
    if (key->kind == SS_ATTRIB_KEY_INT)
        *(int *)field = (int)d;
    else
        *(double *)field = d;
    return 0;
}

static int cfg_parse_relevance(cfg_parse_t *p, yaml_node_t *map)
{
    cfg_yaml_t *y = &p->y;
    ss_sweep_t *sw = p->sw;
    char got[96];
    int r = cfg_section(y, map, "relevance");
    if (r <= 0)
        return r;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const char *name = cfg_key(y, map, pr);
        if (!name)
            return -1;
        yaml_node_t *v = cfg_node(y, pr->value);
        const ss_attrib_key_t *key = ss_attrib_key_lookup(name);
        if (!strcmp(name, "topk")) {
            if (v->type != YAML_SEQUENCE_NODE || cfg_seq_len(v) < 1)
                return cfg_fail(y, v, "topk must be a non-empty list of input counts such as "
                                "[1, 2, 5, 10], got %s", cfg_got(v, got, sizeof got));
            int len = cfg_seq_len(v);
            if (len > CFG_MAX_LIST)
                return cfg_fail(y, v, "topk lists %d entries, more than the %d supported", len,
                                CFG_MAX_LIST);
            free(sw->topk);
    for (int mode = SS_RETRAIN_KEEP; mode <= SS_RETRAIN_REMOVE; mode++) {
        free(sw->retrain.k[mode]);
        free(sw->retrain.k_at[mode]);
    }
            sw->topk = ss_calloc((size_t)len, sizeof *sw->topk);
            sw->n_topk = 0;
            if (cfg_read_int_list(y, v, "topk", "topk entry", 1, len, CFG_POS, sw->topk,
                                  &sw->n_topk) < 0)
                return -1;
        } else if (!strcmp(name, "random_repeats")) {
            if (cfg_read_int(y, v, name, CFG_POS, &sw->random_repeats) < 0)
                return -1;
        } else if (!strcmp(name, "methods")) {
            if (cfg_parse_methods(p, v) < 0)
                return -1;
        } else if (!strcmp(name, "masking")) {
            static const char *const masks[] = {"zero", "mean"};
            if (cfg_read_choice(y, v, "masking", masks, 2, &sw->mean_masking) < 0)
                return -1;
        } else if (!strcmp(name, "retrain")) {
            if (cfg_parse_retrain(p, v, cfg_node(y, pr->key)) < 0)
                return -1;
        } else if (key) {
            if (cfg_parse_method_setting(p, key, v) < 0)
                return -1;
        } else {
            const char *known[64] = {"topk", "random_repeats", "methods", "masking", "retrain"};
            int n_known = 5;
            for (int k = 0; k < ss_attrib_n_keys && n_known < 64; k++)
                known[n_known++] = ss_attrib_keys[k].name;
            return cfg_unknown_key(y, cfg_node(y, pr->key), "in relevance", known, n_known);
        }
    }
    return cfg_check_retrain(p);
}

static int cfg_parse_parallel(cfg_parse_t *p, yaml_node_t *map)
{
    cfg_yaml_t *y = &p->y;
    static const char *const known[] = {"ranks_per_run"};
    int r = cfg_section(y, map, "parallel");
    if (r <= 0)
        return r;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const char *name = cfg_key(y, map, pr);
        if (!name)
            return -1;
        if (strcmp(name, "ranks_per_run"))
            return cfg_unknown_key(y, cfg_node(y, pr->key), "in parallel", known, 1);
        if (cfg_read_int(y, cfg_node(y, pr->value), name, CFG_POS, &p->sw->ranks_per_run) < 0)
            return -1;
    }
    return 0;
}

/* ---- the whole file -------------------------------------------------------------------- */

/* Characters of "%.6g" of the longest-printing value of axis a. */
static size_t cfg_axis_width(const ss_axis_t *a)
{
    size_t w = 0;
    for (int i = 0; i < a->n; i++)
        if (strlen(a->labels[i]) > w)
            w = strlen(a->labels[i]);
    return w;
}

/*
 * The checks of whole models (cfg_model_check) at every combination of the points of the
 * axes that set model keys: the `model:` and `init:` sections alone when none does. The
 * message points at the value node of the key at fault, in its section or in the axis
 * point that set it, and names the point.
 */
static int cfg_check_models(cfg_parse_t *p)
{
    cfg_yaml_t *y = &p->y;
    const ss_sweep_t *sw = p->sw;
    int axes[SS_MAX_AXES], n_axes = 0, idx[SS_MAX_AXES] = {0};
    for (int a = 0; a < sw->n_axes; a++)
        if (sw->axes[a].model_mask)
            axes[n_axes++] = a;
    for (;;) {
        ss_model_t m = sw->model;
        yaml_node_t *node[SS_MKEY_COUNT];
        int lines[SS_MKEY_COUNT];
        char point[256] = "";
        size_t len = 0;
        memcpy(node, p->model_node, sizeof node);
        for (int j = 0; j < n_axes; j++) {
            const ss_axis_t *ax = &sw->axes[axes[j]];
            const ss_patch_t *pt = &ax->points[idx[j]];
            for (int k = 0; k < SS_MKEY_COUNT; k++)
                if ((pt->model_mask >> k) & 1u) {
                    ss_model_key_copy(&m, &pt->model, (ss_model_key_t)k);
                    node[k] = p->point_node[axes[j]][(size_t)idx[j] * SS_MKEY_COUNT + k];
                }
            int w = snprintf(point + len, sizeof point - len, "%s%s=%s", j ? ", " : "",
                             ax->name, ax->labels[idx[j]]);
            if (w > 0 && (size_t)w < sizeof point - len)
                len += (size_t)w;
        }
        for (int k = 0; k < SS_MKEY_COUNT; k++)
            lines[k] = node[k] ? cfg_line(node[k]) : 0;
        char msg[600];
        int bad = cfg_model_check(&m, lines, msg, sizeof msg);
        if (bad >= 0)
            return cfg_fail(y, node[bad], "%s%s%s%s", msg, n_axes ? " (at the sweep point " : "",
                            point, n_axes ? ")" : "");
        int j = n_axes - 1;              /* the next combination, last axis fastest */
        while (j >= 0 && ++idx[j] == sw->axes[axes[j]].n)
            idx[j--] = 0;
        if (j < 0)
            return 0;
    }
}

/* The grid's size: datasets x sweep points x seeds must be at most SS_MAX_RUNS. The
   message points at the largest factor (the seeds, an axis or the datasets). */
static int cfg_check_grid(cfg_parse_t *p)
{
    const ss_sweep_t *sw = p->sw;
    double points = 1.0, largest = (double)sw->n_datasets;
    yaml_node_t *at = p->datasets_node;
    for (int a = 0; a < sw->n_axes; a++) {
        points *= (double)sw->axes[a].n;
        if ((double)sw->axes[a].n > largest) {
            largest = (double)sw->axes[a].n;
            at = p->axis_key[a];
        }
    }
    if ((double)sw->n_seeds > largest && p->seeds_node)
        at = p->seeds_node;
    double runs = (double)sw->n_datasets * points * (double)sw->n_seeds;
    if (runs <= (double)SS_MAX_RUNS)
        return 0;
    return cfg_fail(&p->y, at, "the sweep has %.0f runs (%d dataset%s x %.0f sweep point%s x "
                    "%d seed%s), more than the %d a sweep may have", runs, sw->n_datasets,
                    sw->n_datasets == 1 ? "" : "s", points, points == 1.0 ? "" : "s",
                    sw->n_seeds, sw->n_seeds == 1 ? "" : "s", SS_MAX_RUNS);
}

/* Cross-section checks and derived values, once every section has been read. */
static int cfg_finish(cfg_parse_t *p)
{
    cfg_yaml_t *y = &p->y;
    ss_sweep_t *sw = p->sw;

    if (!sw->output) {
        size_t n = strlen(CFG_DEFAULT_OUTPUT) + strlen(sw->name) + 1;
        sw->output = ss_malloc(n);
        snprintf(sw->output, n, CFG_DEFAULT_OUTPUT, sw->name);
    }

    unsigned axis_mask = 0;
    for (int a = 0; a < sw->n_axes; a++) {
        axis_mask |= sw->axes[a].training_mask;
        sw->record_model |= sw->axes[a].kind != SS_AXIS_TRAINING;
    }
    sw->record_model |= p->uses_regime_keys;

    size_t seed_w = 0;
    for (int s = 0; s < sw->n_seeds; s++) {
        char buf[32];
        size_t n = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)sw->seeds[s]);
        if (n > seed_w)
            seed_w = n;
    }
    size_t axes_w = 0;
    for (int a = 0; a < sw->n_axes; a++)
        axes_w += 2 + strlen(sw->axes[a].name) + 1 + cfg_axis_width(&sw->axes[a]);

    for (int d = 0; d < sw->n_datasets; d++) {
        ss_dataset_spec_t *ds = &sw->datasets[d];

        /* a key set both here and on an axis: which value would a run use? */
        unsigned both = ds->training_set_mask & axis_mask;
        for (int k = 0; both && k < SS_KEY_COUNT; k++) {
            if (!(both & (1u << k)))
                continue;
            int at = 0;
            for (int a = 0; a < sw->n_axes; a++)
                if ((sw->axes[a].training_mask >> k) & 1u)
                    at = a;
            if (sw->axes[at].kind == SS_AXIS_BUNDLE)
                return cfg_fail(y, p->override_key[(size_t)d * SS_KEY_COUNT + (size_t)k],
                                "datasets.%s.training sets %s, which the bundle axis %s sets "
                                "(line %d): ambiguous, remove one of them", ds->name,
                                cfg_training_names[k], sw->axes[at].name,
                                cfg_line(cfg_axis_sets_at(p, at, k)));
            return cfg_fail(y, p->override_key[(size_t)d * SS_KEY_COUNT + (size_t)k],
                            "datasets.%s.training sets %s, which is also a sweep axis (line "
                            "%d): ambiguous, remove one of them", ds->name,
                            cfg_training_names[k], cfg_line(p->axis_key[at]));
        }

        /* resolved training: the global values, then this dataset's overrides */
        ds->training = ss_sweep_dataset_training(sw, ds);

        /* ids must fit ss_run_t (and the results' run_id); their form is grid.c's */
        size_t cell_len = strlen(ds->name) + axes_w;
        size_t run_len = cell_len + strlen("__seed=") + seed_w;
        size_t run_max = SS_RUN_ID_SIZE - 1;
        size_t cell_max = SS_CELL_ID_SIZE - 1;
        if (run_len > run_max || cell_len > cell_max)
            return cfg_fail_pos(y, ds->line, ds->col, "the ids of dataset '%s' would be too "
                                "long (run ids up to %zu characters, at most %zu; cell ids "
                                "up to %zu, at most %zu): use a shorter dataset name or fewer "
                                "sweep axes", ds->name, run_len, run_max, cell_len, cell_max);
    }
    /* the grid's size first: the models are checked at every combination of model axes */
    if (cfg_check_grid(p) < 0)
        return -1;
    return cfg_check_models(p);
}

static int cfg_parse_root(cfg_parse_t *p, yaml_node_t *root)
{
    cfg_yaml_t *y = &p->y;
    static const char *const known[] = {"name", "output", "seeds", "datasets", "model",
                                        "init", "training", "sweep", "relevance",
                                        "parallel"};
    ss_sweep_t *sw = p->sw;
    char got[96];
    if (root->type != YAML_MAPPING_NODE)
        return cfg_fail(y, root, "a sweep file must be a mapping of keys (name, datasets, "
                        "model, training, sweep, ...), got %s", cfg_got(root, got, sizeof got));
    int have_name = 0, have_datasets = 0;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
         pr < root->data.mapping.pairs.top; pr++) {
        const char *name = cfg_key(y, root, pr);
        if (!name)
            return -1;
        yaml_node_t *v = cfg_node(y, pr->value);
        const char *s = NULL;
        int rc;
        if (!strcmp(name, "name")) {
            rc = cfg_read_name(y, v, "name", sw->name, sizeof sw->name);
            have_name = 1;
        } else if (!strcmp(name, "output")) {
            rc = cfg_read_string(y, v, "output", &s);
            if (rc == 0)
                sw->output = ss_strdup(s);
        } else if (!strcmp(name, "seeds")) {
            p->seeds_node = v;
            rc = cfg_parse_seeds(p, v);
        } else if (!strcmp(name, "datasets")) {
            p->datasets_node = v;
            rc = cfg_parse_datasets(p, v);
            have_datasets = 1;
        } else if (!strcmp(name, "model")) {
            rc = cfg_parse_model(p, v, "model");
        } else if (!strcmp(name, "init")) {
            rc = cfg_parse_model(p, v, "init");
        } else if (!strcmp(name, "training")) {
            rc = cfg_parse_training(p, v, "training", &sw->training, NULL, NULL);
        } else if (!strcmp(name, "sweep")) {
            rc = cfg_parse_sweep(p, v);
        } else if (!strcmp(name, "relevance")) {
            rc = cfg_parse_relevance(p, v);
        } else if (!strcmp(name, "parallel")) {
            rc = cfg_parse_parallel(p, v);
        } else {
            rc = cfg_unknown_key(y, cfg_node(y, pr->key), "at the top level", known,
                                 CFG_COUNT(known));
        }
        if (rc < 0)
            return -1;
    }
    if (!have_name)
        return cfg_fail(y, root, "missing required key 'name' (the sweep's name, e.g. "
                        "name: gaussian-fig3)");
    if (!have_datasets)
        return cfg_fail(y, root, "missing required key 'datasets' (dataset name -> spec, "
                        "e.g. gauss20: {kind: gaussian})");
    return cfg_finish(p);
}


/*
 * Parse and validate the sweep text `text` of `len` bytes; `path` names it in messages and
 * its directory anchors relative dataset paths. Returns 0 with *sw filled (free with
 * ss_sweep_free), or -1 with err set (SS_EXIT_INPUT for a bad file) and *sw zeroed. The
 * libyaml parser and documents are released on every path.
 */
int ss_sweep_parse_bytes(const char *path, const char *text, size_t len, ss_sweep_t *sw,
                         ss_error_t *err)
{
    cfg_parse_t p;
    yaml_node_t *root = NULL;
    int rc = -1;

    memset(sw, 0, sizeof *sw);
    memset(&p, 0, sizeof p);
    if (!path)
        path = "<sweep>";
    if (!text)
        len = 0;
    if (len > SS_SWEEP_MAX_BYTES) {  /* before the text is copied */
        ss_error_set(err, SS_EXIT_INPUT, "%s: the sweep file is %zu bytes, more than the %d "
                     "(1 MiB) a sweep file may have", path, len, SS_SWEEP_MAX_BYTES);
        return -1;
    }
    p.sw = sw;
    ss_sweep_defaults(sw, p.ds_default);
    sw->path = ss_strdup(path);
    sw->dir = ss_dirname(path);
    sw->yaml_text = ss_malloc(len + 1);
    if (len)
        memcpy(sw->yaml_text, text, len);
    sw->yaml_text[len] = '\0';

    if (cfg_yaml_open(&p.y, path, sw->yaml_text, len, err, &root) == 0 &&
        cfg_parse_root(&p, root) == 0)
        rc = 0;
    free(p.override_key);
    free(p.retrain_at);
    for (int a = 0; a < SS_MAX_AXES; a++)
        free(p.point_node[a]);
    cfg_yaml_close(&p.y);
    if (rc < 0)
        ss_sweep_free(sw);
    return rc;
}

int ss_sweep_parse(const char *path, const char *text, ss_sweep_t *sw, ss_error_t *err)
{
    return ss_sweep_parse_bytes(path, text, text ? strlen(text) : 0, sw, err);
}

/* Read the file at `path` (at most SS_SWEEP_MAX_BYTES + 1 bytes of it) and parse it
   (ss_sweep_parse_bytes). A file that cannot be read is SS_EXIT_INPUT with the path in
   the message. */
int ss_sweep_load(const char *path, ss_sweep_t *sw, ss_error_t *err)
{
    char *text = NULL;
    size_t len = 0;
    memset(sw, 0, sizeof *sw);
    int rc = ss_read_file_limited(path, SS_SWEEP_MAX_BYTES, 0, &text, &len, err);
    if (rc == -2) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: the sweep file is larger than %d bytes (1 MiB), "
                     "the most a sweep file may have", path, SS_SWEEP_MAX_BYTES);
        return -1;
    }
    if (rc < 0)
        return -1;
    rc = ss_sweep_parse_bytes(path, text, len, sw, err);
    free(text);
    return rc;
}

/* Free everything a parse allocated and zero *sw. Accepts NULL, a zeroed sweep or one a
   failed parse left half-built (pointers are NULL or owned; counts cover only owned
   entries). */
void ss_sweep_free(ss_sweep_t *sw)
{
    if (!sw)
        return;
    free(sw->path);
    free(sw->dir);
    free(sw->yaml_text);
    free(sw->output);
    free(sw->seeds);
    free(sw->topk);
    if (sw->datasets) {
        for (int i = 0; i < sw->n_datasets; i++) {
            ss_dataset_spec_t *ds = &sw->datasets[i];
            free(ds->path);
            free(ds->train_images);
            free(ds->train_labels);
            free(ds->test_images);
            free(ds->test_labels);
            free(ds->input_shape_at);
        }
        free(sw->datasets);
    }
    for (int a = 0; a < SS_MAX_AXES; a++) {
        ss_axis_t *ax = &sw->axes[a];
        free(ax->values);
        free(ax->points);
        for (int i = 0; ax->labels && i < ax->n; i++)
            free(ax->labels[i]);
        free(ax->labels);
    }
    for (int mode = 0; mode < 3; mode++) {
        free(sw->retrain.k[mode]);
        free(sw->retrain.k_at[mode]);
    }
    memset(sw, 0, sizeof *sw);
}
