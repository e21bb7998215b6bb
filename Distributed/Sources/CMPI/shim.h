#include <mpi.h>

// MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE, ...) are macros, which Swift
// does not import: these return them.
static inline MPI_Comm pinpoint_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype pinpoint_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype pinpoint_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op pinpoint_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op pinpoint_mpi_min(void) { return MPI_MIN; }
static inline MPI_Op pinpoint_mpi_max(void) { return MPI_MAX; }
static inline void *pinpoint_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler pinpoint_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int pinpoint_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int pinpoint_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
