// The few pieces of MPI that Swift cannot import as they are. Open MPI spells
// MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE, MPI_REQUEST_NULL, MPI_STATUS_IGNORE and
// MPI_INFO_NULL as macros over addresses of globals or casts, which the importer drops;
// these prefixed one-line functions hand them to Swift. Everything else (MPI_Init_thread, MPI_Iallreduce,
// MPI_Test, MPI_Abort, ...) Swift calls directly.
#ifndef NN_MPI_SHIM_H
#define NN_MPI_SHIM_H

#include <mpi.h>

static inline MPI_Comm nnmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype nnmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype nnmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Op nnmpi_sum(void) { return MPI_SUM; }
static inline void *nnmpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Request nnmpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *nnmpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int nnmpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }
static inline int nnmpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int nnmpi_success(void) { return MPI_SUCCESS; }
static inline int nnmpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline MPI_Info nnmpi_info_null(void) { return MPI_INFO_NULL; }

#endif
