// The part of the OpenMP runtime API (libomp's omp.h) that the kernels call.
//
// Why our own: Swift's clang compiles `#pragma omp` under -fopenmp but ships no omp.h, and
// Debian installs libomp's header in a versioned clang directory
// (/usr/lib/llvm-<N>/lib/clang/<version>/include), different on every release. The OpenMP
// functions below have had these C signatures since OpenMP 1.0 (kmp_set_blocktime is a
// libomp extension, unchanged since Intel's runtime), so declaring them here lets one build
// work against any libomp. Package.swift puts this directory first on the include
// path, so `#include <omp.h>` in a kernel finds this file. Need another runtime call? Add
// its declaration here, copied from the OpenMP specification.
#ifndef CK_OPENMP_OMP_H
#define CK_OPENMP_OMP_H

#ifdef __cplusplus
extern "C" {
#endif

/// Sets the thread count of the next parallel regions started by the calling thread.
void omp_set_num_threads(int num_threads);
/// The thread count the next parallel region would use.
int omp_get_max_threads(void);
/// The number of threads in the current team (1 outside a parallel region).
int omp_get_num_threads(void);
/// The calling thread's number in its team, from 0.
int omp_get_thread_num(void);
/// Nonzero inside an active parallel region (one with more than one thread).
int omp_in_parallel(void);
/// libomp: how long (ms) an idle worker spins before it sleeps, for the calling thread's teams.
void kmp_set_blocktime(int milliseconds);

#ifdef __cplusplus
}
#endif

#endif // CK_OPENMP_OMP_H
