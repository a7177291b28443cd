//===- CPURuntime.h - collectives on CPU ranks through MPI ------*- C++ -*-===//
//
// The C functions that the CPU lowering of autopar collectives calls
// (autopar-lower-collectives-to-mpi). One process per mesh device, ranks in
// row-major mesh order. Buffers are contiguous, passed as addresses.
//
// A mesh is passed as `meshCode` (axis sizes, 16 bits each, axis 0 lowest,
// at most 4 axes) and a group of axes as `axesCode` (axis index + 1 in 4
// bits each, first listed axis lowest). The group of a device along those
// axes is the devices that differ from it only there, ordered by their
// linearized coordinate along the axes (the first listed axis major).
//
// Every MPI call is checked: a failure prints the call and the rank and
// aborts every rank. Collectives poll with a deadline (environment
// variable AUTOPAR_COLLECTIVE_TIMEOUT, seconds, default 300): a rank that
// waits longer names the collective and aborts the job.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_CPURUNTIME_H
#define AUTOPAR_RUNTIME_CPURUNTIME_H

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" {
/// Element types: 0 f32, 1 f64, 2 i32, 3 i64. Reductions: the values of
/// autopar::ReductionKind (0 sum, 1 product, 2 min, 3 max).
int64_t autopar_rt_device_coord(int64_t meshCode, int64_t axesCode);
void autopar_rt_all_reduce(int64_t in, int64_t out, int64_t count,
                           int32_t dtype, int32_t op, int64_t meshCode,
                           int64_t axesCode);
/// The all-reduce, reduce-scatter and all-gather started: the messages
/// posted, a handle returned; autopar_rt_wait(handle) completes it (the
/// input must not be written, nor the output touched, before). The
/// collective lowering starts these three this way and waits where their
/// buffers are next used, so that gradient synchronisation runs behind the
/// rest of the backward and ZeRO-3's prefetched parameter gathers behind
/// the layer before theirs.
int64_t autopar_rt_all_reduce_start(int64_t in, int64_t out, int64_t count,
                                    int32_t dtype, int32_t op, int64_t meshCode,
                                    int64_t axesCode);
int64_t autopar_rt_reduce_scatter_start(int64_t in, int64_t out, int64_t outer,
                                        int64_t chunk, int32_t dtype,
                                        int32_t op, int64_t meshCode,
                                        int64_t axesCode);
int64_t autopar_rt_all_gather_start(int64_t in, int64_t out, int64_t outer,
                                    int64_t chunk, int32_t dtype,
                                    int64_t meshCode, int64_t axesCode);
void autopar_rt_wait(int64_t handle);
/// Concatenates along a dimension: the local value viewed as
/// [outer, chunk] becomes [outer, group, chunk].
void autopar_rt_all_gather(int64_t in, int64_t out, int64_t outer,
                           int64_t chunk, int32_t dtype, int64_t meshCode,
                           int64_t axesCode);
/// The local value viewed as [outer, group, chunk]; device i keeps the
/// combination of slice i, [outer, chunk].
void autopar_rt_reduce_scatter(int64_t in, int64_t out, int64_t outer,
                               int64_t chunk, int32_t dtype, int32_t op,
                               int64_t meshCode, int64_t axesCode);
/// The local value viewed as [splitOuter, group, splitChunk]: slice j goes
/// to device j; the received slices, each viewed as [concatOuter,
/// concatChunk], are concatenated as [concatOuter, group, concatChunk].
void autopar_rt_all_to_all(int64_t in, int64_t out, int64_t splitOuter,
                           int64_t splitChunk, int64_t concatOuter,
                           int64_t concatChunk, int32_t dtype,
                           int64_t meshCode, int64_t axesCode);
/// Step timing for the runner: a barrier, then the wall clock.
double autopar_rt_wtime();
/// The runner's check: the largest relative error of result `index`.
void autopar_rt_report(int64_t index, double error);
/// The runner's timing: the wall time of step `step`.
void autopar_rt_report_time(int64_t step, double seconds);
/// The loss a training step returned (the whole value, on every rank).
void autopar_rt_report_loss(int64_t step, double loss);
/// Buffers of compiled code, counted (autopar-lower-to-cpu's
/// count-allocations=true calls these instead of malloc/free).
void *_mlir_memref_to_llvm_alloc(size_t bytes);
void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t bytes);
void _mlir_memref_to_llvm_free(void *buffer);
/// The runner's memory measure: the bytes held now become the baseline;
/// the most held above it until autopar_rt_memory_report is step `step`'s.
void autopar_rt_memory_mark();
void autopar_rt_memory_report(int64_t step);
/// Step `step`'s device memory as the CUDA runtime measured it: the most
/// bytes its stream-ordered pool held at once, and the most managed bytes
/// held (arguments and results), and the pool's bytes held by library
/// workspaces.
void autopar_rt_report_device_memory(int64_t step, double pool, double managed,
                                     double workspaces);
/// The loss scale a (fp16) training step returned for the next step.
void autopar_rt_report_loss_scale(int64_t step, double scale);
/// The CUDA graphs the run captured and the launches that replayed one
/// (autopar_cuda_graph_captures, _replays), reported after the steps.
void autopar_rt_report_graphs(int64_t captures, int64_t replays);
/// A host clock (seconds), and the time since `start` added to `site`'s sum
/// for the current step (the steps counted by autopar_rt_report_time):
/// what autopar-profile-ops calls.
double autopar_rt_clock();
void autopar_rt_profile(int64_t site, double start);
}

namespace autopar::runtime {
/// Initialises MPI if the process has not (the runner does it itself).
void initialize();
/// What autopar_rt_report recorded, by result index.
const double *getReported(int64_t &count);
/// What autopar_rt_report_time recorded, by step.
const double *getStepTimes(int64_t &count);
/// What autopar_rt_report_loss recorded, by step (NaN where none was).
const double *getStepLosses(int64_t &count);
/// What autopar_rt_memory_report recorded: per step, the most bytes of
/// buffers allocated during it beyond those held at its start.
const double *getStepPeakBytes(int64_t &count);
/// What autopar_rt_report_device_memory recorded, by step: pool and
/// managed peaks and workspaces (NaN where none was).
const double *getStepDevicePoolPeaks(int64_t &count);
const double *getStepDeviceManagedPeaks(int64_t &count);
const double *getStepDeviceWorkspaces(int64_t &count);
/// What autopar_rt_report_loss_scale recorded, by step (NaN where none was).
const double *getStepLossScales(int64_t &count);
/// What autopar_rt_report_graphs recorded: false when it was not called.
bool getGraphCounts(int64_t &captures, int64_t &replays);
/// autopar_rt_profile's sums, per site and step.
const std::vector<std::vector<double>> &getProfile();
int getRank();
int getSize();
} // namespace autopar::runtime

#endif // AUTOPAR_RUNTIME_CPURUNTIME_H
