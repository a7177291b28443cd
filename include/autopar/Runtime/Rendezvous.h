//===- Rendezvous.h - how the ranks of a job find each other ----*- C++ -*-===//
//
// A job's processes learn their rank from their launcher's environment and
// share a small blob that rank 0 makes (NCCL's unique id): through MPI when
// an MPI launcher started them (mpirun, srun with PMI), through a TCP
// rendezvous at MASTER_ADDR:MASTER_PORT when a torchrun-style launcher did
// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT; the rendezvous
// uses MASTER_PORT + 1 or AUTOPAR_RENDEZVOUS_PORT). Used by the
// CUDA runtime; free of CUDA so that it is tested on any machine.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_RENDEZVOUS_H
#define AUTOPAR_RUNTIME_RENDEZVOUS_H

#include <cstddef>
#include <string>

namespace autopar::runtime {

enum class Launcher { Single, MPI, TorchRun };

struct World {
  int rank = 0;
  int size = 1;
  int localRank = 0;
  Launcher launcher = Launcher::Single;
  /// For Launcher::TorchRun: where rank 0 listens (MASTER_ADDR) and the
  /// rendezvous port (AUTOPAR_RENDEZVOUS_PORT, else MASTER_PORT + 1, since
  /// torchrun's own store holds MASTER_PORT).
  std::string masterAddress, port;
};

/// "mpi", "torchrun" or "single".
const char *getLauncherName(Launcher launcher);

/// The job as the environment describes it; an error message for variables
/// that are malformed or inconsistent.
std::string getWorldFromEnvironment(World &world);

/// Copies `bytes` bytes at `data` on rank 0 to `data` on every rank of
/// `world`, returning only when every rank has joined (a barrier); an
/// error message on failure or when a rank has not joined within
/// `timeoutSeconds`.
std::string broadcastFromRankZero(const World &world, void *data, size_t bytes,
                                  double timeoutSeconds);

/// Initializes MPI once per process (finalized at exit), errors returned
/// rather than fatal; false when MPI_Init fails. Both runtimes start MPI
/// through it.
bool initializeMPI();

/// AUTOPAR_RENDEZVOUS_TIMEOUT, else 300 seconds.
double getRendezvousTimeout();

/// AUTOPAR_COLLECTIVE_TIMEOUT, else 300 seconds: how long both runtimes
/// wait for a collective before aborting the job.
double getCollectiveTimeout();

} // namespace autopar::runtime

#endif // AUTOPAR_RUNTIME_RENDEZVOUS_H
