//===- Launch.cpp - how autopar's tools start jobs and find GPUs ----------===//

#include "autopar/Tools/Launch.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"

#include <cstdlib>
#include <dlfcn.h>
#include <unistd.h>

bool autopar::tools::isUnderLauncher(bool orTorchRun) {
  for (const char *name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                           "SLURM_PROCID", "MV2_COMM_WORLD_SIZE"})
    if (std::getenv(name))
      return true;
  return orTorchRun && std::getenv("WORLD_SIZE");
}

int autopar::tools::runUnderMPI(int argc, char **argv, void *anchor, int ranks,
                                llvm::StringRef mpirun, std::string &error) {
  llvm::ErrorOr<std::string> launcher = llvm::sys::findProgramByName(mpirun);
  if (!launcher) {
    error = "cannot find '" + mpirun.str() +
            "' (install openmpi-bin, or run under your own launcher)";
    return -1;
  }
  std::string self = llvm::sys::fs::getMainExecutable(argv[0], anchor);
  llvm::SmallVector<std::string> args = {
      *launcher,         "-n",        std::to_string(ranks),
      "--oversubscribe", "--bind-to", "none"};
  if (geteuid() == 0)
    args.push_back("--allow-run-as-root");
  args.push_back(self);
  for (int i = 1; i < argc; ++i)
    args.push_back(argv[i]);
  llvm::SmallVector<llvm::StringRef> refs(args.begin(), args.end());
  std::string message;
  int code = llvm::sys::ExecuteAndWait(*launcher, refs, std::nullopt, {}, 0, 0,
                                       &message);
  if (code < 0)
    error = "could not run " + *launcher + ": " + message;
  return code;
}

std::string autopar::tools::findCUDADevice() {
  void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (!driver)
    return "no CUDA driver (libcuda.so.1 cannot be loaded)";
  using InitFn = int (*)(unsigned);
  using CountFn = int (*)(int *);
  auto init = reinterpret_cast<InitFn>(dlsym(driver, "cuInit"));
  auto getCount = reinterpret_cast<CountFn>(dlsym(driver, "cuDeviceGetCount"));
  if (!init || !getCount)
    return "the CUDA driver has no cuInit/cuDeviceGetCount";
  if (int error = init(0))
    return "cuInit failed with CUDA error " + std::to_string(error);
  int count = 0;
  if (int error = getCount(&count))
    return "cuDeviceGetCount failed with CUDA error " + std::to_string(error);
  if (count == 0)
    return "no CUDA device";
  return "";
}
