#ifndef CPINPOINT_HDF5_H
#define CPINPOINT_HDF5_H

#include <stddef.h>
#include <stdint.h>

// A read-only view of an HDF5 file for Keras weights: objects by path, string attributes, float
// datasets. HDF5's API is mostly macros (H5P_DEFAULT, H5T_NATIVE_FLOAT) that Swift cannot
// import, and it prints its error stack to stderr unless told not to; these functions hide both.
// Every function returns a negative value on failure.

/// 1 if the file is HDF5, 0 if it is not, negative if it cannot be read.
int pp_h5_is_hdf5(const char *path);
/// A file handle, or negative.
int64_t pp_h5_open(const char *path);
void pp_h5_close(int64_t file);

enum { PP_H5_MISSING = 0, PP_H5_GROUP = 1, PP_H5_DATASET = 2, PP_H5_OTHER = 3 };
enum { PP_H5_NO_ATTRIBUTE = -2 };

/// The kind of the object at `path`, PP_H5_MISSING when there is none.
int pp_h5_kind(int64_t file, const char *path);

/// Calls `each` with the path (from the root, without a leading slash) and kind of every object
/// in the file, in name order. Returns the count.
int pp_h5_visit(int64_t file, void (*each)(void *context, const char *path, int kind), void *context);

/// The strings of attribute `name` on the object at `path` (a scalar counts as one), passed to
/// `each` with their lengths. Returns the count, PP_H5_NO_ATTRIBUTE when there is no such
/// attribute, or -1 when it exists but is not strings or cannot be read.
int pp_h5_string_attribute(int64_t file, const char *path, const char *name,
                           void (*each)(void *context, const char *string, size_t length), void *context);

/// The dataset's rank, its dimensions in `dims` (up to `capacity`); negative if `path` is not a
/// dataset.
int pp_h5_dataset_shape(int64_t file, const char *path, int64_t *dims, int capacity);
/// 1 if the dataset holds floating-point numbers (of any width), 0 if not, negative on error.
int pp_h5_dataset_is_float(int64_t file, const char *path);
/// Reads the whole dataset as float32 (HDF5 converts from float16 or float64) into `out`,
/// which holds `count` values, the dataset's element count.
int pp_h5_read_floats(int64_t file, const char *path, float *out, int64_t count);

#endif
