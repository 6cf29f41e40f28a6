// The few pieces of MPI that Swift cannot import as they are. Open MPI spells
// MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE, MPI_REQUEST_NULL, MPI_STATUS_IGNORE and
// MPI_INFO_NULL as macros over addresses of globals or casts, which the importer drops;
// these prefixed one-line functions hand them to Swift. Everything else (MPI_Init_thread, MPI_Iallreduce,
// MPI_Test, MPI_Abort, ...) Swift calls directly. And one piece of C11 that Swift has no
// spelling for: atomics on memory other processes map (the shared-memory barrier below).
#ifndef NN_MPI_SHIM_H
#define NN_MPI_SHIM_H

#include <mpi.h>
#include <sched.h>
#include <stdatomic.h>

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

/// The bytes between two ranks' barrier flags: one cache line each, so a rank's store does
/// not take the line another rank is polling.
#define NNMPI_FLAG_STRIDE 64

/// Tells the core this thread is spin-waiting (x86 `pause`, Arm `yield`): the poll loop
/// then takes less from a sibling hardware thread and leaves the loop sooner.
static inline void nnmpi_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// A barrier of `size` processes over memory they all map: `flags` holds one long per rank,
/// NNMPI_FLAG_STRIDE bytes apart, each rank's the number of barriers it has passed. This rank
/// publishes `generation` (its count, one more than at its last barrier) with release order
/// and waits until every rank's flag has reached it, reading them with acquire order: every
/// write a rank made before its barrier is visible to every rank after it. It pauses
/// between polls, and after 1024 polls of a flag yields the core at each poll, so that
/// with more ranks than cores the rank it waits for gets to run.
static inline void nnmpi_shared_barrier(void *flags, int size, int rank, long generation) {
    atomic_store_explicit((_Atomic long *)((char *)flags + NNMPI_FLAG_STRIDE * rank), generation,
                          memory_order_release);
    for (int k = 0; k < size; k++) {
        _Atomic long *flag = (_Atomic long *)((char *)flags + NNMPI_FLAG_STRIDE * k);
        for (unsigned polls = 0; atomic_load_explicit(flag, memory_order_acquire) < generation; polls++) {
            if (polls >= 1024) {
                sched_yield();
            } else {
                nnmpi_spin_pause();
            }
        }
    }
}

#endif
