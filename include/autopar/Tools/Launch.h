//===- Launch.h - how autopar's tools start jobs and find GPUs --*- C++ -*-===//
//
// Shared by autopar-run and autopar-calibrate: whether a launcher started
// this process, starting this program again under mpirun, and why no CUDA
// device can be used (the driver is loaded at run time, so the tools start
// on machines without one).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_TOOLS_LAUNCH_H
#define AUTOPAR_TOOLS_LAUNCH_H

#include "llvm/ADT/StringRef.h"

#include <string>

namespace autopar::tools {

/// Whether an MPI launcher (mpirun, srun) started this process; with
/// `orTorchRun`, a torchrun-style one (WORLD_SIZE) too.
bool isUnderLauncher(bool orTorchRun = false);

/// Runs `mpirun -n ranks --oversubscribe --bind-to none [--allow-run-as-root]
/// <this program> <argv[1..]>` and returns its exit code, or -1 with
/// `error` set when mpirun cannot be found or started. `anchor` is any
/// function of the program (to find its executable).
int runUnderMPI(int argc, char **argv, void *anchor, int ranks,
                llvm::StringRef mpirun, std::string &error);

/// Why CUDA programs cannot run here ("" when a device is present): no
/// driver, no cuInit/cuDeviceGetCount, cuInit's error, or no device.
std::string findCUDADevice();

} // namespace autopar::tools

#endif // AUTOPAR_TOOLS_LAUNCH_H
