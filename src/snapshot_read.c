/* snapshot_read.c - a results file read back: its run ids, and the runs, datasets and
   relevance of a snapshot recovered into log contents (ss_snapshot_recover, for
   --salvage). See include/specsweep/snapshot.h. */
#include "specsweep/snapshot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "specsweep/h5io.h"

/* ---- reading a results file back --------------------------------------------------------- */

hid_t ss_snapshot_open(const char *h5_path, ss_error_t *err)
{
    struct stat st;
    if (stat(h5_path, &st) != 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot open: %s", h5_path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: not a specsweep results file (not a regular "
                     "file)", h5_path);
        return -1;
    }
    hid_t fapl = ss_h5_fapl();
    hid_t file = H5Fopen(h5_path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (file < 0) {
        char detail[400];
        ss_h5_detail(detail, sizeof detail);
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: not a specsweep results file (HDF5 cannot open it: %s)", h5_path,
                     detail);
        return -1;
    }
    char *format = ss_h5_attr_str(file, "format");
    double version = 0;
    if (!format || strcmp(format, "specsweep-results") != 0 ||
        ss_h5_attr_f64(file, "format_version", &version) != 0)
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: not a specsweep results file (no format=\"specsweep-results\" "
                     "attribute)", h5_path);
    else if (version < SS_FORMAT_VERSION_OLDEST || version > SS_FORMAT_VERSION ||
             version != floor(version))
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: results format_version %g is not supported (this specsweep "
                     "reads versions %d to %d)", h5_path, version, SS_FORMAT_VERSION_OLDEST,
                     SS_FORMAT_VERSION);
    free(format);
    if (err->code) {
        H5Fclose(file);
        return -1;
    }
    return file;
}

int ss_snapshot_run_ids(const char *h5_path, char ***ids, long *n, ss_error_t *err)
{
    *ids = NULL;
    *n = 0;
    ss_h5_quiet_t quiet;
    ss_h5_quiet(&quiet);
    hid_t file = ss_snapshot_open(h5_path, err), grp = -1;
    if (file >= 0 && H5Lexists(file, "runs", H5P_DEFAULT) > 0 &&
        (grp = H5Gopen2(file, "runs", H5P_DEFAULT)) >= 0) {
        *ids = ss_h5_link_names(grp, n);
        H5Gclose(grp);
    }
    if (file >= 0)
        H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    ss_h5_loud(&quiet);
    return file >= 0 ? 0 : -1;
}

/* /datasets/<name> back into a description; -1 if an attribute is missing or wrong. */
static int read_dataset_info(hid_t g, const char *name, ss_dataset_info_t *ds)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "%s", name);
    char *kind = ss_h5_attr_str(g, "kind");
    int k = kind ? ss_kind_lookup(kind) : -1;
    free(kind);
    int64_t v[4], shape[2];
    static const char *const counts[4] = {"n_inputs", "n_classes", "n_train", "n_test"};
    for (int i = 0; i < 4; i++)
        if (ss_h5_attr_i64(g, counts[i], &v[i]) != 0 || v[i] < 0 || v[i] > INT32_MAX)
            return -1;
    if (k < 0)
        return -1;
    ds->kind = (ss_kind_t)k;
    ds->n_inputs = (int)v[0];
    ds->n_classes = (int)v[1];
    ds->n_train = (int)v[2];
    ds->n_test = (int)v[3];
    ds->task = ds->n_classes > 0 ? SS_TASK_CLASSIFICATION : SS_TASK_REGRESSION;
    if (ss_h5_attr_i64v(g, "input_shape", shape, 2) == 2) {
        ds->input_rank = 2;
        ds->input_shape[0] = (int)shape[0];
        ds->input_shape[1] = (int)shape[1];
    }
    long n;
    ds->relevance_truth = ss_h5_read_f64(g, "relevance_truth", &n);
    if (ds->relevance_truth && n != ds->n_inputs) {
        ss_dataset_info_free(ds);
        return -1;
    }
    ds->feature_names = ss_h5_read_strings(g, "feature_names", &n);
    if (ds->feature_names && n != ds->n_inputs) {
        ss_h5_free_strings(ds->feature_names, n);
        ds->feature_names = NULL;
        ss_dataset_info_free(ds);
        return -1;
    }
    long n_std = 0;
    ds->standardize_mean = ss_h5_read_f64(g, "standardize_mean", &n);
    ds->standardize_std = ss_h5_read_f64(g, "standardize_std", &n_std);
    if ((ds->standardize_mean || ds->standardize_std) &&
        (!ds->standardize_mean || !ds->standardize_std || n != ds->n_inputs ||
         n_std != ds->n_inputs)) {
        ss_dataset_info_free(ds);
        return -1;
    }
    return 0;
}

/* /runs/<id>/<name>/<method> back into r's methods (none when the group is absent). */
static int read_methods(hid_t g, const char *name, ss_result_t *r)
{
    r->n_methods = 0;
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0)
        return 0;
    hid_t rg = H5Gopen2(g, name, H5P_DEFAULT);
    if (rg < 0)
        return -1;
    long n_names = 0;
    char **names = ss_h5_link_names(rg, &n_names);
    int rc = 0;
    r->methods = ss_calloc((size_t)(n_names > 0 ? n_names : 1), sizeof *r->methods);
    for (long i = 0; i < n_names && rc == 0; i++) {
        int method = ss_attrib_method_lookup(names[i]);
        if (method < 0)
            continue; /* a method this build does not know */
        ss_method_result_t *m = &r->methods[r->n_methods++];
        m->method = method;
        long nv = 0;
        m->values = ss_h5_read_f64(rg, names[i], &nv);
        m->n_values = (int)nv;
        hid_t d = H5Dopen2(rg, names[i], H5P_DEFAULT);
        static const char *const info_names[SS_METHOD_INFO_COUNT] = {
            "skipped", "n_samples", "seconds", "forward_passes", "backward_passes",
            "check_mean", "check_max", "check_scale", "absorbed_mean"};
        double info[SS_METHOD_INFO_COUNT];
        for (int k = 0; d >= 0 && k < SS_METHOD_INFO_COUNT && rc == 0; k++)
            rc = ss_h5_attr_f64(d, info_names[k], &info[k]);
        if (d < 0 || rc != 0 || (nv > 0 && !m->values)) {
            rc = -1;
        } else {
            ss_method_result_set_info(m, info);
            double topk[4096];
            int nk = ss_h5_attr_f64v(d, "topk_accuracy", topk, 4096);
            if (nk > 0) {
                m->topk_accuracy = ss_malloc((size_t)nk * sizeof *m->topk_accuracy);
                memcpy(m->topk_accuracy, topk, (size_t)nk * sizeof *topk);
                m->n_topk = nk;
            }
        }
        if (d >= 0)
            H5Dclose(d);
    }
    /* in method order, as results keep them */
    for (int i = 1; i < r->n_methods; i++)
        for (int j = i; j > 0 && r->methods[j].method < r->methods[j - 1].method; j--) {
            ss_method_result_t t = r->methods[j];
            r->methods[j] = r->methods[j - 1];
            r->methods[j - 1] = t;
        }
    ss_h5_free_strings(names, n_names);
    H5Gclose(rg);
    return rc;
}

/* One field of the result table from /runs/<id> into r; -1 if it is missing or wrong. */
static int read_result_field(hid_t g, const ss_result_field_t *f, ss_result_t *r)
{
    void *m = (char *)r + f->offset;
    const char *name = ss_result_field_h5_name(f, r->task);
    int *count = f->count_offset ? (int *)((char *)r + f->count_offset) : NULL;
    char *str = NULL;
    int64_t i64;
    long n = -1;
    int st;
    switch (f->kind) {
    case SS_FIELD_STRING:
        if (!(str = ss_h5_attr_str(g, name)) || strlen(str) >= f->size) {
            free(str);
            return -1;
        }
        memcpy(m, str, strlen(str) + 1);
        free(str);
        return 0;
    case SS_FIELD_STATUS:
        st = (str = ss_h5_attr_str(g, name)) ? ss_status_lookup(str) : -1;
        free(str);
        if (st < 0)
            return -1;
        *(ss_status_t *)m = (ss_status_t)st;
        return 0;
    case SS_FIELD_TASK: return 0; /* the dataset's, set by the caller */
    case SS_FIELD_METHODS: return read_methods(g, name, r);
    case SS_FIELD_I64: return ss_h5_attr_i64(g, name, m);
    case SS_FIELD_INT:
        if (ss_h5_attr_i64(g, name, &i64) != 0 || i64 < 0 || i64 > INT32_MAX)
            return -1;
        *(int *)m = (int)i64;
        return 0;
    case SS_FIELD_F64: return ss_h5_attr_f64(g, name, m);
    case SS_FIELD_TRAINING:
        ss_training_defaults(m); /* keys not in use are not written */
        for (int k = 0; k < SS_KEY_COUNT; k++) {
            const char *key = ss_training_key_name((ss_training_key_t)k);
            double v;
            if (ss_training_key_is_choice((ss_training_key_t)k)) {
                char *text = ss_h5_attr_str(g, key);
                if (!text)
                    continue;
                int ok = !strcmp(text, ss_optimizer_name(SS_OPT_ADAMAX)) ||
                         !strcmp(text, ss_optimizer_name(SS_OPT_ADAM));
                v = !strcmp(text, ss_optimizer_name(SS_OPT_ADAMAX));
                free(text);
                if (!ok)
                    return -1;
            } else if (ss_h5_attr_f64(g, key, &v) != 0) {
                if (k < SS_KEY_OPTIMIZER) /* the keys every file has */
                    return -1;
                continue;
            }
            ss_training_set(m, (ss_training_key_t)k, v);
        }
        return 0;
    case SS_FIELD_F64_ARRAY: *(double **)m = ss_h5_read_f64(g, name, &n); break;
    case SS_FIELD_I64_ARRAY: *(int64_t **)m = ss_h5_read_i64(g, name, &n); break;
    }
    if (!*(void **)m || n > INT32_MAX)
        return -1;
    if (*count < 0) /* the first array of this length sets it, the others must agree */
        *count = (int)n;
    return *count == n ? 0 : -1;
}

/* /runs/<id> back into a result. */
static int read_run(hid_t runs, const char *id, const ss_log_contents_t *c, ss_result_t *r)
{
    memset(r, 0, sizeof *r);
    hid_t g = H5Gopen2(runs, id, H5P_DEFAULT);
    if (g < 0 || strlen(id) >= sizeof r->run_id) {
        if (g >= 0)
            H5Gclose(g);
        return -1;
    }
    snprintf(r->run_id, sizeof r->run_id, "%s", id);
    char *dataset = ss_h5_attr_str(g, "dataset");
    const ss_dataset_info_t *ds = dataset ? ss_log_contents_find_dataset(c, dataset) : NULL;
    free(dataset);
    int rc = ds ? 0 : -1;
    if (ds)
        r->task = ds->task;
    for (int k = 0; k < ss_result_n_fields; k++) /* counts not known yet */
        if (ss_result_fields[k].count_offset)
            *(int *)((char *)r + ss_result_fields[k].count_offset) = -1;
    for (int k = 0; k < ss_result_n_fields && rc == 0; k++) {
        const ss_result_field_t *f = &ss_result_fields[k];
        if (f->flags & SS_FIELD_NOT_IN_H5)
            continue;
        const char *name = ss_result_field_h5_name(f, r->task);
        if ((f->flags & SS_FIELD_OPTIONAL) && H5Aexists(g, name) <= 0 &&
            H5Lexists(g, name, H5P_DEFAULT) <= 0) {
            r->absent |= 1u << k;        /* not computed for this run */
            if (f->count_offset && *(int *)((char *)r + f->count_offset) < 0)
                *(int *)((char *)r + f->count_offset) = 0;
            continue;
        }
        rc = read_result_field(g, f, r);
    }
    H5Gclose(g);
    if (rc != 0 || !ss_result_check(r)) {
        for (int k = 0; k < ss_result_n_fields; k++) /* no count may stay -1 for free */
            if (ss_result_fields[k].count_offset &&
                *(int *)((char *)r + ss_result_fields[k].count_offset) < 0)
                *(int *)((char *)r + ss_result_fields[k].count_offset) = 0;
        ss_result_free(r);
        return -1;
    }
    return 0;
}

/* Every /datasets/<name> that c does not describe yet. */
static void recover_datasets(hid_t file, ss_log_contents_t *c)
{
    hid_t grp;
    if (H5Lexists(file, "datasets", H5P_DEFAULT) <= 0 ||
        (grp = H5Gopen2(file, "datasets", H5P_DEFAULT)) < 0)
        return;
    long n = 0;
    char **names = ss_h5_link_names(grp, &n);
    for (long i = 0; i < n; i++) {
        hid_t g = H5Gopen2(grp, names[i], H5P_DEFAULT);
        ss_dataset_info_t ds;
        if (g >= 0 && !ss_log_contents_find_dataset(c, names[i]) &&
            read_dataset_info(g, names[i], &ds) == 0) {
            ss_log_contents_add_dataset(c, &ds);
            ss_dataset_info_free(&ds);
        }
        if (g >= 0)
            H5Gclose(g);
    }
    ss_h5_free_strings(names, n);
    H5Gclose(grp);
}

int ss_snapshot_recover(const char *h5_path, char *const *ids, long n, ss_log_contents_t *c,
                        ss_error_t *err)
{
    ss_h5_quiet_t quiet;
    ss_h5_quiet(&quiet);
    hid_t file = ss_snapshot_open(h5_path, err), runs = -1;
    int recovered = -1;
    if (file >= 0) {
        recover_datasets(file, c);
        recovered = 0;
        if (H5Lexists(file, "runs", H5P_DEFAULT) > 0)
            runs = H5Gopen2(file, "runs", H5P_DEFAULT);
        for (long i = 0; runs >= 0 && i < n; i++) {
            ss_result_t r;
            if (ss_log_contents_find(c, ids[i]) || read_run(runs, ids[i], c, &r) != 0)
                continue;
            ss_log_contents_add_result(c, &r);
            ss_result_free(&r);
            recovered++;
        }
        if (runs >= 0)
            H5Gclose(runs);
        H5Fclose(file);
    }
    H5Eclear2(H5E_DEFAULT);
    ss_h5_loud(&quiet);
    return recovered;
}
