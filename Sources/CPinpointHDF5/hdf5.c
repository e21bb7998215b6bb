#include "CPinpointHDF5.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

// HDF5 prints its error stack from every failing call unless automatic printing is off; the
// Swift side reports its own errors instead, naming the file and the tensor.
static void quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

int pp_h5_is_hdf5(const char *path) {
    quiet();
    htri_t result = H5Fis_hdf5(path);
    return result < 0 ? -1 : (int)result;
}

int64_t pp_h5_open(const char *path) {
    quiet();
    return (int64_t)H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
}

void pp_h5_close(int64_t file) { H5Fclose((hid_t)file); }

static int kind_of(hid_t location, const char *path) {
    hid_t object = H5Oopen(location, path, H5P_DEFAULT);
    if (object < 0) return PP_H5_MISSING;
    H5I_type_t type = H5Iget_type(object);
    H5Oclose(object);
    return type == H5I_GROUP ? PP_H5_GROUP : type == H5I_DATASET ? PP_H5_DATASET : PP_H5_OTHER;
}

int pp_h5_kind(int64_t file, const char *path) {
    // H5Oopen on a path through a missing group fails, so check each link on the way.
    char prefix[4096];
    size_t length = strlen(path);
    if (length == 0 || length >= sizeof(prefix)) return PP_H5_MISSING;
    for (size_t i = 0; i <= length; i++) {
        if (path[i] != '/' && path[i] != 0) continue;
        if (i == 0) continue;
        memcpy(prefix, path, i);
        prefix[i] = 0;
        if (H5Lexists((hid_t)file, prefix, H5P_DEFAULT) <= 0) return PP_H5_MISSING;
    }
    return kind_of((hid_t)file, path);
}

struct visit_state {
    void (*each)(void *, const char *, int);
    void *context;
    int count;
};

static herr_t visit_link(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    struct visit_state *state = data;
    state->each(state->context, name, kind_of(group, name));
    state->count += 1;
    return 0;
}

int pp_h5_visit(int64_t file, void (*each)(void *context, const char *path, int kind), void *context) {
    struct visit_state state = {each, context, 0};
    if (H5Lvisit((hid_t)file, H5_INDEX_NAME, H5_ITER_INC, visit_link, &state) < 0) return -1;
    return state.count;
}

int pp_h5_string_attribute(int64_t file, const char *path, const char *name,
                           void (*each)(void *context, const char *string, size_t length), void *context) {
    htri_t exists = H5Aexists_by_name((hid_t)file, path, name, H5P_DEFAULT);
    if (exists <= 0) return exists < 0 ? -1 : PP_H5_NO_ATTRIBUTE;
    hid_t attribute = H5Aopen_by_name((hid_t)file, path, name, H5P_DEFAULT, H5P_DEFAULT);
    if (attribute < 0) return -1;
    hid_t type = H5Aget_type(attribute), space = H5Aget_space(attribute);
    int result = -1;
    hssize_t count = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    // An empty list (a layer without weights) is written by h5py as an empty float array.
    if (count == 0) result = 0;
    if (type >= 0 && count > 0 && H5Tget_class(type) == H5T_STRING) {
        hid_t memory = H5Tcopy(H5T_C_S1);
        if (H5Tis_variable_str(type) > 0) {
            H5Tset_size(memory, H5T_VARIABLE);
            H5Tset_cset(memory, H5Tget_cset(type));
            char **strings = calloc((size_t)count + 1, sizeof(char *));
            if (strings && H5Aread(attribute, memory, strings) >= 0) {
                for (hssize_t i = 0; i < count; i++) each(context, strings[i] ? strings[i] : "", strings[i] ? strlen(strings[i]) : 0);
                result = (int)count;
#if H5_VERSION_GE(1, 12, 0)
                H5Treclaim(memory, space, H5P_DEFAULT, strings);
#else
                H5Dvlen_reclaim(memory, space, H5P_DEFAULT, strings);
#endif
            }
            free(strings);
        } else {
            size_t size = H5Tget_size(type);
            H5Tset_size(memory, size);
            H5Tset_strpad(memory, H5T_STR_NULLPAD);
            char *buffer = calloc((size_t)count * size + 1, 1);
            if (buffer && H5Aread(attribute, memory, buffer) >= 0) {
                for (hssize_t i = 0; i < count; i++) {
                    const char *string = buffer + i * size;
                    each(context, string, strnlen(string, size));
                }
                result = (int)count;
            }
            free(buffer);
        }
        H5Tclose(memory);
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Aclose(attribute);
    return result;
}

int pp_h5_dataset_shape(int64_t file, const char *path, int64_t *dims, int capacity) {
    if (kind_of((hid_t)file, path) != PP_H5_DATASET) return -1;
    hid_t dataset = H5Dopen2((hid_t)file, path, H5P_DEFAULT);
    if (dataset < 0) return -1;
    hid_t space = H5Dget_space(dataset);
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (rank >= 0 && rank <= capacity && rank <= 32) {
        hsize_t extent[32];
        H5Sget_simple_extent_dims(space, extent, NULL);
        for (int i = 0; i < rank; i++) dims[i] = (int64_t)extent[i];
    } else if (rank > capacity) {
        rank = -1;
    }
    if (space >= 0) H5Sclose(space);
    H5Dclose(dataset);
    return rank;
}

int pp_h5_dataset_is_float(int64_t file, const char *path) {
    hid_t dataset = H5Dopen2((hid_t)file, path, H5P_DEFAULT);
    if (dataset < 0) return -1;
    hid_t type = H5Dget_type(dataset);
    int result = type < 0 ? -1 : H5Tget_class(type) == H5T_FLOAT;
    if (type >= 0) H5Tclose(type);
    H5Dclose(dataset);
    return result;
}

int pp_h5_read_floats(int64_t file, const char *path, float *out, int64_t count) {
    hid_t dataset = H5Dopen2((hid_t)file, path, H5P_DEFAULT);
    if (dataset < 0) return -1;
    hid_t space = H5Dget_space(dataset);
    int result = -1;
    if (space >= 0 && H5Sget_simple_extent_npoints(space) == count) {
        result = H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0 ? -1 : 0;
    }
    if (space >= 0) H5Sclose(space);
    H5Dclose(dataset);
    return result;
}
