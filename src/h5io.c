/* h5io.c - HDF5 helpers shared by the loader, the snapshot and the summary. See
   include/specsweep/h5io.h. */
#define _GNU_SOURCE /* PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP */
#include "specsweep/h5io.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specsweep/util.h"

/* The library as Debian builds it is not thread-safe, and a snapshot may be written by a
   thread of its own (snapshot.h): every use of HDF5 is bracketed by ss_h5_quiet and
   ss_h5_loud, which hold this lock (recursive: brackets nest). */
static pthread_mutex_t h5_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

void ss_h5_quiet(ss_h5_quiet_t *q)
{
    pthread_mutex_lock(&h5_lock);
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void ss_h5_loud(const ss_h5_quiet_t *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
    pthread_mutex_unlock(&h5_lock);
}

void ss_h5_abandon(const ss_h5_quiet_t *q)
{
    (void)q;
    pthread_mutex_unlock(&h5_lock);
}

static herr_t walk_innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc && e->desc[0])
        snprintf(data, 400, "%s", e->desc);
    return 0;
}

void ss_h5_detail(char *buf, size_t cap)
{
    char tmp[400] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_innermost, tmp);
    H5Eclear2(H5E_DEFAULT);
    /* The file driver's messages carry a timestamp, the buffer address and the system
       error; the system error is what a user can act on. */
    const char *sys = strstr(tmp, "error message = '");
    if (sys) {
        sys += strlen("error message = '");
        snprintf(buf, cap, "%.*s", (int)strcspn(sys, "'"), sys);
        return;
    }
    for (char *p = tmp; *p; p++)
        if (*p == '\n')
            *p = ' ';
    snprintf(buf, cap, "%s", tmp[0] ? tmp : "HDF5 error");
}

hid_t ss_h5_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return -1;
#if H5_VERSION_GE(1, 10, 7) && !(H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 12 && H5_VERS_RELEASE < 1)
    if (H5Pset_file_locking(fapl, 0, 1) < 0) {
        H5Pclose(fapl);
        return -1;
    }
#endif
    return fapl;
}

/* ---- reading ------------------------------------------------------------------------- */

char *ss_h5_attr_str(hid_t loc, const char *name)
{
    if (H5Aexists(loc, name) <= 0)
        return NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return NULL;
    char *out = NULL;
    hid_t ft = H5Aget_type(a);
    if (ft >= 0 && H5Tget_class(ft) == H5T_STRING) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_cset(mt, H5Tget_cset(ft)); /* HDF5 does not convert between csets */
        if (H5Tis_variable_str(ft) > 0) {
            char *v = NULL;
            H5Tset_size(mt, H5T_VARIABLE);
            if (H5Aread(a, mt, &v) >= 0 && v) {
                out = ss_strdup(v);
                H5free_memory(v);
            }
        } else {
            size_t n = H5Tget_size(ft);
            char *v = ss_calloc(n + 1, 1);
            H5Tset_size(mt, n + 1);
            if (H5Aread(a, mt, v) >= 0)
                out = v;
            else
                free(v);
        }
        H5Tclose(mt);
    }
    if (ft >= 0)
        H5Tclose(ft);
    H5Aclose(a);
    return out;
}

int ss_h5_attr_f64(hid_t loc, const char *name, double *v)
{
    if (H5Aexists(loc, name) <= 0)
        return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    int rc = -1;
    hid_t ft = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    if (ft >= 0 && sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1 &&
        (H5Tget_class(ft) == H5T_INTEGER || H5Tget_class(ft) == H5T_FLOAT))
        rc = H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0 ? -1 : 0;
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

/* The attribute `name` of loc if it holds integers: its id (close it), else -1. */
static hid_t open_int_attr(hid_t loc, const char *name, hssize_t *count)
{
    if (H5Aexists(loc, name) <= 0)
        return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    int ok = ft >= 0 && sp >= 0 && H5Tget_class(ft) == H5T_INTEGER;
    *count = ok ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    if (!ok || *count < 0) {
        H5Aclose(a);
        return -1;
    }
    return a;
}

int ss_h5_attr_i64(hid_t loc, const char *name, int64_t *v)
{
    hssize_t count;
    hid_t a = open_int_attr(loc, name, &count);
    if (a < 0)
        return -1;
    int rc = count == 1 && H5Aread(a, H5T_NATIVE_INT64, v) >= 0 ? 0 : -1;
    H5Aclose(a);
    return rc;
}

int ss_h5_attr_f64v(hid_t loc, const char *name, double *v, int cap)
{
    if (H5Aexists(loc, name) <= 0)
        return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t count = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    int ok = ft >= 0 && (H5Tget_class(ft) == H5T_FLOAT || H5Tget_class(ft) == H5T_INTEGER) &&
             count >= 0 && count <= cap;
    int rc = ok && (count == 0 || H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0) ? (int)count : -1;
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

int ss_h5_attr_i64v(hid_t loc, const char *name, int64_t *v, int cap)
{
    hssize_t count;
    hid_t a = open_int_attr(loc, name, &count);
    if (a < 0)
        return -1;
    int rc = count <= cap && (count == 0 || H5Aread(a, H5T_NATIVE_INT64, v) >= 0)
                 ? (int)count : -1;
    H5Aclose(a);
    return rc;
}

/* All elements of dataset `name` of loc as mtype (elem bytes each), malloc'd, *n of
   them; NULL if absent or unreadable, or (ints_only) not integers in the file. */
static void *read_numeric(hid_t loc, const char *name, hid_t mtype, size_t elem, int ints_only,
                          long *n)
{
    *n = 0;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return NULL;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return NULL;
    void *v = NULL;
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
    hssize_t count = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (ft >= 0 && (!ints_only || H5Tget_class(ft) == H5T_INTEGER) && count >= 0) {
        v = ss_malloc((size_t)(count > 0 ? count : 1) * elem);
        if (count > 0 && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
            free(v);
            v = NULL;
        } else {
            *n = (long)count;
        }
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    H5Dclose(d);
    return v;
}

int64_t *ss_h5_read_i64(hid_t loc, const char *name, long *n)
{
    return read_numeric(loc, name, H5T_NATIVE_INT64, sizeof(int64_t), 1, n);
}

double *ss_h5_read_f64(hid_t loc, const char *name, long *n)
{
    return read_numeric(loc, name, H5T_NATIVE_DOUBLE, sizeof(double), 0, n);
}

char **ss_h5_read_strings(hid_t loc, const char *name, long *n)
{
    *n = 0;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return NULL;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return NULL;
    char **out = NULL;
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
    hssize_t count = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (ft >= 0 && count > 0 && H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft));
        char **raw = ss_calloc((size_t)count, sizeof *raw);
        if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) >= 0) {
            out = ss_calloc((size_t)count, sizeof *out);
            for (hssize_t i = 0; i < count; i++) {
                out[i] = ss_strdup(raw[i] ? raw[i] : "");
                if (raw[i])
                    H5free_memory(raw[i]);
            }
            *n = (long)count;
        }
        free(raw);
        H5Tclose(mt);
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    H5Dclose(d);
    return out;
}

char **ss_h5_link_names(hid_t loc, long *n)
{
    *n = 0;
    H5G_info_t info;
    if (H5Gget_info(loc, &info) < 0)
        return NULL;
    char **names = ss_calloc(info.nlinks ? (size_t)info.nlinks : 1, sizeof *names);
    H5_index_t order = H5_INDEX_CRT_ORDER;
    for (hsize_t i = 0; i < info.nlinks; i++) {
        ssize_t len = H5Lget_name_by_idx(loc, ".", order, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
        if (len < 0 && order == H5_INDEX_CRT_ORDER && i == 0) {
            order = H5_INDEX_NAME; /* creation order not tracked */
            H5Eclear2(H5E_DEFAULT);
            len = H5Lget_name_by_idx(loc, ".", order, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
        }
        if (len < 0)
            break;
        names[*n] = ss_malloc((size_t)len + 1);
        H5Lget_name_by_idx(loc, ".", order, H5_ITER_INC, i, names[*n], (size_t)len + 1,
                           H5P_DEFAULT);
        (*n)++;
    }
    return names;
}

void ss_h5_free_strings(char **v, long n)
{
    if (!v)
        return;
    for (long i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- writing ------------------------------------------------------------------------- */

int ss_h5w_open(ss_h5w_t *w)
{
    memset(w, 0, sizeof *w);
    w->vlstr = w->scalar = w->gcpl = -1;
    w->vlstr = H5Tcopy(H5T_C_S1);
    if (w->vlstr < 0 || H5Tset_size(w->vlstr, H5T_VARIABLE) < 0 ||
        H5Tset_cset(w->vlstr, H5T_CSET_UTF8) < 0 ||
        (w->scalar = H5Screate(H5S_SCALAR)) < 0 ||
        (w->gcpl = H5Pcreate(H5P_GROUP_CREATE)) < 0 ||
        H5Pset_link_creation_order(w->gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0)
        return ss_h5w_fail(w, "setting up HDF5 types and properties for");
    return 0;
}

void ss_h5w_close(ss_h5w_t *w)
{
    if (w->gcpl > 0)
        H5Pclose(w->gcpl);
    if (w->scalar > 0)
        H5Sclose(w->scalar);
    if (w->vlstr > 0)
        H5Tclose(w->vlstr);
    w->gcpl = w->scalar = w->vlstr = -1;
}

int ss_h5w_fail(ss_h5w_t *w, const char *fmt, ...)
{
    if (!w->step[0]) {
        char what[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        snprintf(w->step, sizeof w->step, "%s %s", what, w->where[0] ? w->where : "/");
        ss_h5_detail(w->detail, sizeof w->detail);
    }
    return -1;
}

int ss_h5_valid_link_name(const char *name)
{
    return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0;
}

hid_t ss_h5w_group(ss_h5w_t *w, hid_t loc, const char *name, const char *path, int ordered)
{
    snprintf(w->where, sizeof w->where, "%s", path);
    if (!ss_h5_valid_link_name(name)) {
        ss_h5w_fail(w, "invalid group name for");
        return -1;
    }
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, ordered ? w->gcpl : H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        ss_h5w_fail(w, "creating group");
    return g;
}

int ss_h5w_attr_str(ss_h5w_t *w, hid_t loc, const char *name, const char *v)
{
    hid_t a = H5Acreate2(loc, name, w->vlstr, w->scalar, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return ss_h5w_fail(w, "creating attribute %s of", name);
    const char *p = v ? v : "";
    herr_t rc = H5Awrite(a, w->vlstr, &p);
    H5Aclose(a);
    return rc < 0 ? ss_h5w_fail(w, "writing attribute %s of", name) : 0;
}

static int attr_num(ss_h5w_t *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                    const void *v)
{
    hid_t a = H5Acreate2(loc, name, ftype, w->scalar, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return ss_h5w_fail(w, "creating attribute %s of", name);
    herr_t rc = H5Awrite(a, mtype, v);
    H5Aclose(a);
    return rc < 0 ? ss_h5w_fail(w, "writing attribute %s of", name) : 0;
}

int ss_h5w_attr_i64(ss_h5w_t *w, hid_t loc, const char *name, int64_t v)
{
    return attr_num(w, loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

int ss_h5w_attr_f64(ss_h5w_t *w, hid_t loc, const char *name, double v)
{
    return attr_num(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

/* A 1-D attribute of n values of the file type ftype, from memory of type mtype. */
static int attr_vec(ss_h5w_t *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                    const void *v, int n)
{
    hsize_t dim = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    if (sp < 0)
        return ss_h5w_fail(w, "creating the dataspace of attribute %s of", name);
    hid_t a = H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(sp);
    if (a < 0)
        return ss_h5w_fail(w, "creating attribute %s of", name);
    herr_t rc = H5Awrite(a, mtype, v);
    H5Aclose(a);
    return rc < 0 ? ss_h5w_fail(w, "writing attribute %s of", name) : 0;
}

int ss_h5w_attr_i64v(ss_h5w_t *w, hid_t loc, const char *name, const int64_t *v, int n)
{
    return attr_vec(w, loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, v, n);
}

int ss_h5w_attr_f64v(ss_h5w_t *w, hid_t loc, const char *name, const double *v, int n)
{
    return attr_vec(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v, n);
}

/* A contiguous dataset of rank 1 or 2; `data` may be NULL only when it is empty. */
static int write_dataset(ss_h5w_t *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                         int rank, const hsize_t *dims, const void *data)
{
    hsize_t total = 1;
    for (int i = 0; i < rank; i++)
        total *= dims[i];
    if (total > 0 && !data)
        return ss_h5w_fail(w, "writing dataset %s (no data) in", name);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    if (sp < 0)
        return ss_h5w_fail(w, "creating the dataspace of dataset %s in", name);
    hid_t d = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(sp);
    if (d < 0)
        return ss_h5w_fail(w, "creating dataset %s in", name);
    herr_t rc = total > 0 ? H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    if (H5Dclose(d) < 0)
        rc = -1;
    return rc < 0 ? ss_h5w_fail(w, "writing dataset %s in", name) : 0;
}

int ss_h5w_f64(ss_h5w_t *w, hid_t loc, const char *name, const double *v, int n)
{
    hsize_t dim = (hsize_t)(n > 0 ? n : 0);
    return write_dataset(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dim, v);
}

int ss_h5w_f64_2d(ss_h5w_t *w, hid_t loc, const char *name, const double *v, int rows,
                  int cols)
{
    hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
    return write_dataset(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, v);
}

int ss_h5w_i64(ss_h5w_t *w, hid_t loc, const char *name, const int64_t *v, int n)
{
    hsize_t dim = (hsize_t)(n > 0 ? n : 0);
    return write_dataset(w, loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &dim, v);
}

int ss_h5w_strings(ss_h5w_t *w, hid_t loc, const char *name, char *const *v, int n)
{
    const char **p = ss_calloc(n > 0 ? (size_t)n : 1, sizeof *p);
    for (int i = 0; i < n; i++)
        p[i] = v[i] ? v[i] : "";
    hsize_t dim = (hsize_t)(n > 0 ? n : 0);
    int rc = write_dataset(w, loc, name, w->vlstr, w->vlstr, 1, &dim, p);
    free(p);
    return rc;
}
