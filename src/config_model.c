/*
 * config_model.c - the model keys (`model:` and `init:`) as one table. See
 * src/config_model.h and include/specsweep/config.h.
 *
 * A model key is read the same way wherever it appears: in its section, as the value of
 * a point of a sweep axis, or inside a bundle. Its value is one member (or a few, for the
 * layer list) of ss_model_t, copied from a patch into a run's model by
 * ss_model_key_copy.
 */
#include "config_model.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* ---- names ------------------------------------------------------------------------------ */

static const char *const cfg_model_names[SS_MKEY_COUNT] = {
    [SS_MKEY_HIDDEN] = "model.hidden",
    [SS_MKEY_ACTIVATIONS] = "model.activations",
    [SS_MKEY_SPECTRAL] = "model.spectral",
    [SS_MKEY_BATCHNORM] = "model.batchnorm_after_first",
    [SS_MKEY_DROPOUT] = "model.dropout_after_first",
    [SS_MKEY_TRAIN_LAMBDA_OUT] = "model.train_lambda_out",
    [SS_MKEY_TRAINABLE_WEIGHTS] = "model.trainable_weights",
    [SS_MKEY_RETRACT] = "model.retract",
    [SS_MKEY_HISTOGRAM_BINS] = "model.histogram_bins",
    [SS_MKEY_HISTOGRAM_RANGE] = "model.histogram_range",
    [SS_MKEY_INIT_EIGENVECTORS] = "init.eigenvectors",
    [SS_MKEY_INIT_WEIGHTS] = "init.weights",
    [SS_MKEY_INIT_LAMBDA_IN] = "init.lambda_in",
    [SS_MKEY_INIT_LAMBDA_OUT] = "init.lambda_out",
};
static const char *const cfg_spectral_names[] = {"all", "first", "none"};
static const char *const cfg_weights_names[] = {"all", "match_eigenvalues"};
static const char *const cfg_retract_names[] = {"none", "linear", "all"};
#define CFG_MAX_HISTOGRAM_BINS 100000

const char *ss_model_key_name(ss_model_key_t k)
{
    return (unsigned)k < SS_MKEY_COUNT ? cfg_model_names[k] : "?";
}

int ss_model_key_lookup(const char *name)
{
    for (int k = 0; name && k < SS_MKEY_COUNT; k++)
        if (!strcmp(name, cfg_model_names[k]))
            return k;
    return -1;
}

const char *ss_spectral_name(ss_spectral_t s)
{
    return (unsigned)s < 3u ? cfg_spectral_names[s] : "?";
}

const char *ss_trainable_weights_name(ss_trainable_weights_t t)
{
    return (unsigned)t < 2u ? cfg_weights_names[t] : "?";
}

const char *ss_retract_name(ss_retract_t r)
{
    return (unsigned)r < 3u ? cfg_retract_names[r] : "?";
}

/* The key's name inside its section ("hidden" of "model.hidden"). */
static const char *cfg_model_short(ss_model_key_t k)
{
    const char *dot = strchr(cfg_model_names[k], '.');
    return dot + 1;
}

/* ---- defaults, copies, values ------------------------------------------------------------ */

void ss_model_defaults(ss_model_t *m)
{
    static const int hidden[] = {100, 100, 50};
    memset(m, 0, sizeof *m);
    m->n_hidden = CFG_COUNT(hidden);
    for (int i = 0; i < m->n_hidden; i++)
        m->hidden[i] = hidden[i];
    for (int i = 0; i < SS_MAX_LAYERS; i++)     /* tanh, relu, relu, ... for any depth */
        m->act[i] = i == 0 ? SS_ACT_TANH : SS_ACT_RELU;
    m->n_act = -1;
    m->spectral = SS_SPECTRAL_ALL;
    m->batchnorm_after_first = 0;
    m->dropout_after_first = 0.0;
    m->train_lambda_out = 0;
    m->trainable_weights = SS_WEIGHTS_ALL;
    m->retract = SS_RETRACT_NONE;
    m->histogram_bins = 100;
    m->histogram_range = 1.0;
    m->init.eigenvectors = 0.0;                 /* Glorot uniform */
    m->init.weights = 0.0;
    m->init.lambda_in[0] = m->init.lambda_in[1] = 1.0;
    m->init.lambda_out[0] = m->init.lambda_out[1] = 0.0;
}

void ss_model_key_copy(ss_model_t *dst, const ss_model_t *src, ss_model_key_t k)
{
    switch (k) {
    case SS_MKEY_HIDDEN:
        dst->n_hidden = src->n_hidden;
        memcpy(dst->hidden, src->hidden, sizeof dst->hidden);
        break;
    case SS_MKEY_ACTIVATIONS:
        dst->n_act = src->n_act;
        memcpy(dst->act, src->act, sizeof dst->act);
        break;
    case SS_MKEY_SPECTRAL: dst->spectral = src->spectral; break;
    case SS_MKEY_BATCHNORM: dst->batchnorm_after_first = src->batchnorm_after_first; break;
    case SS_MKEY_DROPOUT: dst->dropout_after_first = src->dropout_after_first; break;
    case SS_MKEY_TRAIN_LAMBDA_OUT: dst->train_lambda_out = src->train_lambda_out; break;
    case SS_MKEY_TRAINABLE_WEIGHTS: dst->trainable_weights = src->trainable_weights; break;
    case SS_MKEY_RETRACT: dst->retract = src->retract; break;
    case SS_MKEY_HISTOGRAM_BINS: dst->histogram_bins = src->histogram_bins; break;
    case SS_MKEY_HISTOGRAM_RANGE: dst->histogram_range = src->histogram_range; break;
    case SS_MKEY_INIT_EIGENVECTORS: dst->init.eigenvectors = src->init.eigenvectors; break;
    case SS_MKEY_INIT_WEIGHTS: dst->init.weights = src->init.weights; break;
    case SS_MKEY_INIT_LAMBDA_IN:
        memcpy(dst->init.lambda_in, src->init.lambda_in, sizeof dst->init.lambda_in);
        break;
    case SS_MKEY_INIT_LAMBDA_OUT:
        memcpy(dst->init.lambda_out, src->init.lambda_out, sizeof dst->init.lambda_out);
        break;
    case SS_MKEY_COUNT: break;
    }
}

/* "glorot", or the half-width of a uniform initialisation. */
static void init_scale_text(double a, char *buf, size_t size)
{
    if (a > 0.0)
        snprintf(buf, size, "%.6g", a);
    else
        snprintf(buf, size, "glorot");
}

/* The activations of the hidden layers of *m, joined by sep ("" with no hidden layer). */
static void acts_text(const ss_model_t *m, const char *sep, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int l = 0; l < m->n_hidden && len < size; l++) {
        int w = snprintf(buf + len, size - len, "%s%s", l ? sep : "", ss_act_name(m->act[l]));
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

void ss_model_key_value(const ss_model_t *m, ss_model_key_t k, ss_value_t *v)
{
    memset(v, 0, sizeof *v);
    v->kind = SS_VALUE_TEXT;
    switch (k) {
    case SS_MKEY_HIDDEN:
        v->kind = SS_VALUE_INTS;
        v->n = m->n_hidden;
        for (int l = 0; l < m->n_hidden; l++)
            v->ints[l] = m->hidden[l];
        break;
    case SS_MKEY_ACTIVATIONS: acts_text(m, ",", v->text, sizeof v->text); break;
    case SS_MKEY_SPECTRAL:
        snprintf(v->text, sizeof v->text, "%s", ss_spectral_name(m->spectral));
        break;
    case SS_MKEY_BATCHNORM: v->kind = SS_VALUE_INT; v->i = m->batchnorm_after_first; break;
    case SS_MKEY_DROPOUT: v->kind = SS_VALUE_REAL; v->r = m->dropout_after_first; break;
    case SS_MKEY_TRAIN_LAMBDA_OUT: v->kind = SS_VALUE_INT; v->i = m->train_lambda_out; break;
    case SS_MKEY_TRAINABLE_WEIGHTS:
        snprintf(v->text, sizeof v->text, "%s", ss_trainable_weights_name(m->trainable_weights));
        break;
    case SS_MKEY_RETRACT:
        snprintf(v->text, sizeof v->text, "%s", ss_retract_name(m->retract));
        break;
    case SS_MKEY_HISTOGRAM_BINS: v->kind = SS_VALUE_INT; v->i = m->histogram_bins; break;
    case SS_MKEY_HISTOGRAM_RANGE: v->kind = SS_VALUE_REAL; v->r = m->histogram_range; break;
    case SS_MKEY_INIT_EIGENVECTORS:
        init_scale_text(m->init.eigenvectors, v->text, sizeof v->text);
        break;
    case SS_MKEY_INIT_WEIGHTS: init_scale_text(m->init.weights, v->text, sizeof v->text); break;
    case SS_MKEY_INIT_LAMBDA_IN:
    case SS_MKEY_INIT_LAMBDA_OUT: {
        const double *r = k == SS_MKEY_INIT_LAMBDA_IN ? m->init.lambda_in : m->init.lambda_out;
        v->kind = SS_VALUE_REALS;
        v->n = 2;
        v->reals[0] = r[0];
        v->reals[1] = r[1];
        break;
    }
    case SS_MKEY_COUNT: break;
    }
}

const char *ss_model_key_text(const ss_model_t *m, ss_model_key_t k, char *buf, size_t size)
{
    ss_value_t v;
    ss_model_key_value(m, k, &v);
    size_t len = 0;
    buf[0] = '\0';
    switch (v.kind) {
    case SS_VALUE_INT:
        if (k == SS_MKEY_HISTOGRAM_BINS)
            snprintf(buf, size, "%lld", (long long)v.i);
        else
            snprintf(buf, size, "%s", v.i ? "true" : "false");
        break;
    case SS_VALUE_REAL: snprintf(buf, size, "%.6g", v.r); break;
    case SS_VALUE_TEXT:
        if (k == SS_MKEY_ACTIVATIONS)
            acts_text(m, "-", buf, size);
        else
            snprintf(buf, size, "%s", v.text);
        if (!buf[0])
            snprintf(buf, size, "none");   /* no hidden layer */
        break;
    case SS_VALUE_INTS:
        for (int i = 0; i < v.n && len < size; i++) {
            int w = snprintf(buf + len, size - len, "%s%lld", i ? "-" : "", (long long)v.ints[i]);
            if (w < 0)
                break;
            len += (size_t)w;
        }
        if (v.n == 0)
            snprintf(buf, size, "none");
        break;
    case SS_VALUE_REALS:
        if (v.reals[0] == v.reals[1])
            snprintf(buf, size, "%.6g", v.reals[0]);
        else
            snprintf(buf, size, "%.6g:%.6g", v.reals[0], v.reals[1]);
        break;
    }
    return buf;
}

/* ---- reading values ----------------------------------------------------------------------- */

static const char *const *cfg_act_choices(int *count)
{
    static const char *names[SS_ACT_LINEAR + 1];
    for (int a = 0; a <= SS_ACT_LINEAR; a++)
        names[a] = ss_act_name((ss_act_t)a);
    *count = SS_ACT_LINEAR + 1;
    return names;
}

/* init.eigenvectors / init.weights: glorot, or a positive half-width. */
static int read_init_scale(cfg_yaml_t *y, const yaml_node_t *v, const char *what, double *out)
{
    char got[96];
    if (v->type == YAML_SCALAR_NODE && !strcmp(cfg_text(v), "glorot")) {
        *out = 0.0;
        return 0;
    }
    if (cfg_is_plain(v)) {
        const char *s = cfg_text(v);
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (end != s && !*end && errno != ERANGE && isfinite(d) && d > 0.0) {
            *out = d;
            return 0;
        }
    }
    return cfg_fail(y, v, "%s must be glorot or a positive number a (uniform in [-a, a]), "
                    "got %s", what, cfg_got(v, got, sizeof got));
}

/* init.lambda_in / init.lambda_out: a number (a constant), or [lo, hi] with lo <= hi. */
static int read_init_range(cfg_yaml_t *y, const yaml_node_t *v, const char *what, double r[2])
{
    char got[96];
    if (v->type == YAML_SCALAR_NODE) {
        if (cfg_read(y, v, what, CFG_REAL, CFG_ANY, &r[0], NULL) < 0)
            return -1;
        r[1] = r[0];
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE || cfg_seq_len(v) != 2)
        return cfg_fail(y, v, "%s must be a number or a range [lo, hi], got %s", what,
                        cfg_got(v, got, sizeof got));
    double lo = 0.0, hi = 0.0;
    if (cfg_read(y, cfg_seq_item(y, v, 0), what, CFG_REAL, CFG_ANY, &lo, NULL) < 0 ||
        cfg_read(y, cfg_seq_item(y, v, 1), what, CFG_REAL, CFG_ANY, &hi, NULL) < 0)
        return -1;
    if (lo > hi)
        return cfg_fail(y, v, "%s: the range [%g, %g] has lo above hi", what, lo, hi);
    r[0] = lo;
    r[1] = hi;
    return 0;
}

int cfg_model_read(cfg_yaml_t *y, ss_model_key_t k, const yaml_node_t *v, ss_model_t *m)
{
    const char *what = cfg_model_short(k);
    char got[96];
    int choice = 0, n_names = 0;
    const char *const *acts = cfg_act_choices(&n_names);
    switch (k) {
    case SS_MKEY_HIDDEN:
        if (v->type != YAML_SEQUENCE_NODE)
            return cfg_fail(y, v, "hidden must be a list of layer sizes such as [100, 100, "
                            "50] ([] for no hidden layer), got %s", cfg_got(v, got, sizeof got));
        if (cfg_seq_len(v) > SS_MAX_LAYERS)
            return cfg_fail(y, v, "hidden lists %d layers; at most %d are supported",
                            cfg_seq_len(v), SS_MAX_LAYERS);
        m->n_hidden = cfg_seq_len(v);
        for (int i = 0; i < m->n_hidden; i++)
            if (cfg_read_int(y, cfg_seq_item(y, v, i), "hidden layer size", CFG_POS,
                             &m->hidden[i]) < 0)
                return -1;
        return 0;
    case SS_MKEY_ACTIVATIONS:
        if (v->type == YAML_SEQUENCE_NODE) {
            int n = cfg_seq_len(v);
            if (n > SS_MAX_LAYERS)
                return cfg_fail(y, v, "activations lists %d entries; at most %d layers are "
                                "supported", n, SS_MAX_LAYERS);
            for (int i = 0; i < n; i++) {
                if (cfg_read_choice(y, cfg_seq_item(y, v, i), "an activation", acts, n_names,
                                    &choice) < 0)
                    return -1;
                m->act[i] = (ss_act_t)choice;
            }
            m->n_act = n;
            return 0;
        }
        if (cfg_read_choice(y, v, "activations", acts, n_names, &choice) < 0)
            return -1;
        for (int i = 0; i < SS_MAX_LAYERS; i++)
            m->act[i] = (ss_act_t)choice;
        m->n_act = -1;                   /* one name for every layer */
        return 0;
    case SS_MKEY_SPECTRAL:
        if (cfg_read_choice(y, v, what, cfg_spectral_names, CFG_COUNT(cfg_spectral_names),
                            &choice) < 0)
            return -1;
        m->spectral = (ss_spectral_t)choice;
        return 0;
    case SS_MKEY_BATCHNORM: return cfg_read_bool(y, v, what, &m->batchnorm_after_first);
    case SS_MKEY_DROPOUT:
        return cfg_read(y, v, what, CFG_REAL, CFG_UNIT_CO, &m->dropout_after_first, NULL);
    case SS_MKEY_TRAIN_LAMBDA_OUT: return cfg_read_bool(y, v, what, &m->train_lambda_out);
    case SS_MKEY_TRAINABLE_WEIGHTS:
        if (cfg_read_choice(y, v, what, cfg_weights_names, CFG_COUNT(cfg_weights_names),
                            &choice) < 0)
            return -1;
        m->trainable_weights = (ss_trainable_weights_t)choice;
        return 0;
    case SS_MKEY_RETRACT:
        if (cfg_read_choice(y, v, what, cfg_retract_names, CFG_COUNT(cfg_retract_names),
                            &choice) < 0)
            return -1;
        m->retract = (ss_retract_t)choice;
        return 0;
    case SS_MKEY_HISTOGRAM_BINS:
        if (cfg_read_int(y, v, what, CFG_POS, &m->histogram_bins) < 0)
            return -1;
        if (m->histogram_bins > CFG_MAX_HISTOGRAM_BINS)
            return cfg_fail(y, v, "histogram_bins %d is more than the %d supported",
                            m->histogram_bins, CFG_MAX_HISTOGRAM_BINS);
        return 0;
    case SS_MKEY_HISTOGRAM_RANGE:
        return cfg_read(y, v, what, CFG_REAL, CFG_POS, &m->histogram_range, NULL);
    case SS_MKEY_INIT_EIGENVECTORS: return read_init_scale(y, v, what, &m->init.eigenvectors);
    case SS_MKEY_INIT_WEIGHTS: return read_init_scale(y, v, what, &m->init.weights);
    case SS_MKEY_INIT_LAMBDA_IN: return read_init_range(y, v, what, m->init.lambda_in);
    case SS_MKEY_INIT_LAMBDA_OUT: return read_init_range(y, v, what, m->init.lambda_out);
    case SS_MKEY_COUNT: break;
    }
    return cfg_fail(y, v, "unknown model key");
}

/* ---- the sections ---------------------------------------------------------------------------- */

int cfg_model_section(cfg_yaml_t *y, yaml_node_t *map, const char *section, ss_model_t *m,
                      yaml_node_t *nodes[SS_MKEY_COUNT])
{
    const char *known[SS_MKEY_COUNT];
    int n_known = 0;
    size_t plen = strlen(section);
    for (int k = 0; k < SS_MKEY_COUNT; k++)
        if (!strncmp(cfg_model_names[k], section, plen) && cfg_model_names[k][plen] == '.')
            known[n_known++] = cfg_model_short((ss_model_key_t)k);

    int r = cfg_section(y, map, section);
    if (r <= 0)
        return r;
    char where[32];
    snprintf(where, sizeof where, "in %s", section);
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const char *name = cfg_key(y, map, pr);
        if (!name)
            return -1;
        char dotted[SS_NAME_MAX];
        snprintf(dotted, sizeof dotted, "%s.%s", section, name);
        int k = ss_model_key_lookup(dotted);
        if (k < 0)
            return cfg_unknown_key(y, cfg_node(y, pr->key), where, known, n_known);
        yaml_node_t *v = cfg_node(y, pr->value);
        if (cfg_model_read(y, (ss_model_key_t)k, v, m) < 0)
            return -1;
        nodes[k] = v;
    }
    return 0;
}

/* ---- checks of a whole model ------------------------------------------------------------------ */

/* " (line N)" when the key was set at a known line, else "". */
static const char *at_line(const int lines[SS_MKEY_COUNT], ss_model_key_t k, char *buf,
                           size_t size)
{
    if (lines && lines[k] > 0)
        snprintf(buf, size, " (line %d)", lines[k]);
    else
        buf[0] = '\0';
    return buf;
}

/* The memory rule (util.h) for the weights between the hidden layers: each weight is a
   float32 with its gradient and the optimizer's two moments. The input layer is left to
   the data, which the sweep file does not size. 0, or -1 with the message in msg. */
static int check_memory(const ss_model_t *m, char *msg, size_t size)
{
    double weights = 0.0;
    for (int i = 0; i + 1 < m->n_hidden; i++)
        weights += ((double)m->hidden[i] + 1.0) * (double)m->hidden[i + 1];
    double need = weights * 4.0 * (double)sizeof(float);
    size_t limit = ss_memory_limit();
    if (need <= (double)limit)
        return 0;
    char a[32], b[32];
    snprintf(msg, size, "hidden layers of these sizes need %s for their weights (with "
             "gradients and Adam state, as float32), more than this machine's memory (%s)",
             ss_format_bytes(need, a, sizeof a), ss_format_bytes((double)limit, b, sizeof b));
    return -1;
}

int cfg_model_check(const ss_model_t *m, const int lines[SS_MKEY_COUNT], char *msg,
                    size_t size)
{
    char where[32], text[SS_MAX_LAYERS * 8 + 8];
    if (check_memory(m, msg, size) < 0)
        return SS_MKEY_HIDDEN;
    if (m->n_act >= 0 && m->n_act != m->n_hidden) {
        snprintf(msg, size, "activations lists %d activation%s but hidden has %d layer%s%s "
                 "(give one per layer, or one name for all layers)", m->n_act,
                 m->n_act == 1 ? "" : "s", m->n_hidden, m->n_hidden == 1 ? "" : "s",
                 at_line(lines, SS_MKEY_HIDDEN, where, sizeof where));
        return SS_MKEY_ACTIVATIONS;
    }
    if (m->n_hidden == 0 && (m->batchnorm_after_first || m->dropout_after_first > 0.0)) {
        int bn = m->batchnorm_after_first;
        snprintf(msg, size, "%s after the first layer needs a hidden layer, but hidden is "
                 "[]%s", bn ? "batch-norm" : "dropout",
                 at_line(lines, SS_MKEY_HIDDEN, where, sizeof where));
        return bn ? SS_MKEY_BATCHNORM : SS_MKEY_DROPOUT;
    }
    if (m->trainable_weights == SS_WEIGHTS_MATCH_EIGENVALUES &&
        m->spectral != SS_SPECTRAL_NONE) {
        snprintf(msg, size, "trainable_weights: match_eigenvalues trains a random subset of a "
                 "dense network's weights, but the model is spectral (spectral: %s%s); use "
                 "spectral: none", ss_spectral_name(m->spectral),
                 at_line(lines, SS_MKEY_SPECTRAL, where, sizeof where));
        return SS_MKEY_TRAINABLE_WEIGHTS;
    }
    if (m->retract != SS_RETRACT_NONE && m->batchnorm_after_first) {
        snprintf(msg, size, "retract: %s cannot multiply layers out across the batch-norm "
                 "after the first layer (batchnorm_after_first%s)", ss_retract_name(m->retract),
                 at_line(lines, SS_MKEY_BATCHNORM, where, sizeof where));
        return SS_MKEY_RETRACT;
    }
    if (m->retract == SS_RETRACT_ALL)
        for (int l = 0; l < m->n_hidden; l++)
            if (m->act[l] != SS_ACT_LINEAR) {
                ss_model_key_text(m, SS_MKEY_ACTIVATIONS, text, sizeof text);
                snprintf(msg, size, "retract: all multiplies the whole network out into one "
                         "layer, but hidden layer %d is non-linear (%s; activations %s%s): "
                         "retraction across a non-linear layer is not possible (retract: "
                         "linear merges only the chains of linear layers)", l + 1,
                         ss_act_name(m->act[l]), text,
                         at_line(lines, SS_MKEY_ACTIVATIONS, where, sizeof where));
                return SS_MKEY_RETRACT;
            }
    return -1;
}
