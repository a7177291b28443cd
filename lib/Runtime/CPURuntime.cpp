//===- CPURuntime.cpp - collectives on CPU ranks through MPI --------------===//

#include "autopar/Runtime/CPURuntime.h"

#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {
int worldRank = 0;
int worldSize = 1;
std::vector<double> reported;
std::vector<double> stepTimes;
std::map<std::pair<int64_t, int64_t>, MPI_Comm> groups;

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "autopar runtime: rank %d: %s\n", worldRank,
               message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 3);
  std::exit(3);
}

void check(int code, const char *call) {
  if (code == MPI_SUCCESS)
    return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail(std::string(call) + " failed: " + std::string(text, length));
}

std::vector<int64_t> meshSizes(int64_t meshCode) {
  std::vector<int64_t> sizes;
  for (int axis = 0; axis < 4; ++axis) {
    int64_t size = (meshCode >> (16 * axis)) & 0xffff;
    if (size == 0)
      break;
    sizes.push_back(size);
  }
  return sizes;
}

std::vector<int> axisList(int64_t axesCode) {
  std::vector<int> axes;
  for (int i = 0; i < 16; ++i) {
    int axis = static_cast<int>((axesCode >> (4 * i)) & 0xf);
    if (axis == 0)
      break;
    axes.push_back(axis - 1);
  }
  return axes;
}

/// This rank's coordinates on the mesh, checking that the job has exactly
/// one rank per device.
std::vector<int64_t> coordinates(const std::vector<int64_t> &sizes) {
  int64_t devices = 1;
  for (int64_t size : sizes)
    devices *= size;
  if (devices != worldSize)
    fail("the program runs on a mesh of " + std::to_string(devices) +
         " devices but the job has " + std::to_string(worldSize) +
         " ranks; run it with -n " + std::to_string(devices));
  std::vector<int64_t> coords(sizes.size());
  int64_t rest = worldRank;
  for (int axis = static_cast<int>(sizes.size()) - 1; axis >= 0; --axis) {
    coords[axis] = rest % sizes[axis];
    rest /= sizes[axis];
  }
  return coords;
}

MPI_Comm groupOf(int64_t meshCode, int64_t axesCode) {
  auto key = std::make_pair(meshCode, axesCode);
  auto it = groups.find(key);
  if (it != groups.end())
    return it->second;
  std::vector<int64_t> sizes = meshSizes(meshCode);
  std::vector<int64_t> coords = coordinates(sizes);
  std::vector<int> axes = axisList(axesCode);
  std::vector<bool> inGroup(sizes.size(), false);
  int64_t key2 = 0;
  for (int axis : axes) {
    if (axis >= static_cast<int>(sizes.size()))
      fail("a collective names mesh axis " + std::to_string(axis) +
           " of a mesh with " + std::to_string(sizes.size()) + " axes");
    inGroup[axis] = true;
    key2 = key2 * sizes[axis] + coords[axis];
  }
  int64_t color = 0;
  for (size_t axis = 0; axis < sizes.size(); ++axis)
    if (!inGroup[axis])
      color = color * sizes[axis] + coords[axis];
  MPI_Comm comm;
  check(MPI_Comm_split(MPI_COMM_WORLD, static_cast<int>(color),
                       static_cast<int>(key2), &comm),
        "MPI_Comm_split");
  check(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN),
        "MPI_Comm_set_errhandler");
  groups[key] = comm;
  return comm;
}

MPI_Datatype datatype(int32_t dtype, size_t &bytes) {
  switch (dtype) {
  case 0:
    bytes = 4;
    return MPI_FLOAT;
  case 1:
    bytes = 8;
    return MPI_DOUBLE;
  case 2:
    bytes = 4;
    return MPI_INT32_T;
  case 3:
    bytes = 8;
    return MPI_INT64_T;
  }
  fail("unsupported element type code " + std::to_string(dtype));
}

MPI_Op reduction(int32_t op) {
  switch (op) {
  case 0:
    return MPI_SUM;
  case 1:
    return MPI_PROD;
  case 2:
    return MPI_MIN;
  case 3:
    return MPI_MAX;
  }
  fail("unsupported reduction code " + std::to_string(op));
}

double timeoutSeconds() {
  static double seconds = [] {
    const char *text = std::getenv("AUTOPAR_COLLECTIVE_TIMEOUT");
    double value = text ? std::atof(text) : 0;
    return value > 0 ? value : 300.0;
  }();
  return seconds;
}

/// Waits for `request`, aborting the job after the timeout.
void wait(MPI_Request &request, const char *name, int64_t axesCode) {
  auto start = std::chrono::steady_clock::now();
  int done = 0;
  while (true) {
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done)
      return;
    double waited = std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    if (waited > timeoutSeconds()) {
      std::string axes;
      for (int axis : axisList(axesCode))
        axes += (axes.empty() ? "" : ",") + std::to_string(axis);
      fail(std::string("collective ") + name + " over mesh axes [" + axes +
           "] timed out after " + std::to_string(timeoutSeconds()) +
           " s (AUTOPAR_COLLECTIVE_TIMEOUT); another rank failed or "
           "diverged");
    }
  }
}

char *address(int64_t value) { return reinterpret_cast<char *>(value); }
} // namespace

namespace autopar::runtime {
void initialize() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) !=
        MPI_SUCCESS) {
      std::fprintf(stderr, "autopar runtime: MPI_Init failed\n");
      std::exit(3);
    }
    std::atexit([] {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (!finalized)
        MPI_Finalize();
    });
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &worldRank);
  MPI_Comm_size(MPI_COMM_WORLD, &worldSize);
}

const double *getReported(int64_t &count) {
  count = static_cast<int64_t>(reported.size());
  return reported.data();
}
const double *getStepTimes(int64_t &count) {
  count = static_cast<int64_t>(stepTimes.size());
  return stepTimes.data();
}
int getRank() { return worldRank; }
int getSize() { return worldSize; }
} // namespace autopar::runtime

static void ensureInitialized() {
  static bool done = [] {
    autopar::runtime::initialize();
    return true;
  }();
  (void)done;
}

extern "C" int64_t autopar_rt_device_coord(int64_t meshCode,
                                           int64_t axesCode) {
  ensureInitialized();
  std::vector<int64_t> sizes = meshSizes(meshCode);
  std::vector<int64_t> coords = coordinates(sizes);
  int64_t linear = 0;
  for (int axis : axisList(axesCode))
    linear = linear * sizes[axis] + coords[axis];
  return linear;
}

extern "C" void autopar_rt_all_reduce(int64_t in, int64_t out, int64_t count,
                                      int32_t dtype, int32_t op,
                                      int64_t meshCode, int64_t axesCode) {
  ensureInitialized();
  MPI_Comm comm = groupOf(meshCode, axesCode);
  size_t bytes;
  MPI_Datatype type = datatype(dtype, bytes);
  MPI_Request request;
  check(MPI_Iallreduce(address(in), address(out), static_cast<int>(count),
                       type, reduction(op), comm, &request),
        "MPI_Iallreduce");
  wait(request, "all_reduce", axesCode);
}

extern "C" void autopar_rt_all_gather(int64_t in, int64_t out, int64_t outer,
                                      int64_t chunk, int32_t dtype,
                                      int64_t meshCode, int64_t axesCode) {
  ensureInitialized();
  MPI_Comm comm = groupOf(meshCode, axesCode);
  int group;
  MPI_Comm_size(comm, &group);
  size_t bytes;
  MPI_Datatype type = datatype(dtype, bytes);
  size_t local = static_cast<size_t>(outer * chunk) * bytes;
  std::vector<char> received(local * group);
  MPI_Request request;
  check(MPI_Iallgather(address(in), static_cast<int>(outer * chunk), type,
                       received.data(), static_cast<int>(outer * chunk), type,
                       comm, &request),
        "MPI_Iallgather");
  wait(request, "all_gather", axesCode);
  // [group, outer, chunk] -> [outer, group, chunk].
  size_t row = static_cast<size_t>(chunk) * bytes;
  for (int g = 0; g < group; ++g)
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(address(out) + (o * group + g) * row,
                  received.data() + g * local + o * row, row);
}

extern "C" void autopar_rt_reduce_scatter(int64_t in, int64_t out,
                                          int64_t outer, int64_t chunk,
                                          int32_t dtype, int32_t op,
                                          int64_t meshCode, int64_t axesCode) {
  ensureInitialized();
  MPI_Comm comm = groupOf(meshCode, axesCode);
  int group;
  MPI_Comm_size(comm, &group);
  size_t bytes;
  MPI_Datatype type = datatype(dtype, bytes);
  size_t row = static_cast<size_t>(chunk) * bytes;
  size_t local = static_cast<size_t>(outer) * row;
  // [outer, group, chunk] -> [group, outer, chunk].
  std::vector<char> packed(local * group);
  for (int g = 0; g < group; ++g)
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(packed.data() + g * local + o * row,
                  address(in) + (o * group + g) * row, row);
  MPI_Request request;
  check(MPI_Ireduce_scatter_block(packed.data(), address(out),
                                  static_cast<int>(outer * chunk), type,
                                  reduction(op), comm, &request),
        "MPI_Ireduce_scatter_block");
  wait(request, "reduce_scatter", axesCode);
}

extern "C" void autopar_rt_all_to_all(int64_t in, int64_t out,
                                      int64_t splitOuter, int64_t splitChunk,
                                      int64_t concatOuter, int64_t concatChunk,
                                      int32_t dtype, int64_t meshCode,
                                      int64_t axesCode) {
  ensureInitialized();
  MPI_Comm comm = groupOf(meshCode, axesCode);
  int group;
  MPI_Comm_size(comm, &group);
  size_t bytes;
  MPI_Datatype type = datatype(dtype, bytes);
  size_t piece = static_cast<size_t>(splitOuter * splitChunk) * bytes;
  if (static_cast<size_t>(concatOuter * concatChunk) * bytes != piece)
    fail("all_to_all: inconsistent slice sizes");
  // [splitOuter, group, splitChunk] -> [group, splitOuter, splitChunk].
  std::vector<char> packed(piece * group), received(piece * group);
  size_t splitRow = static_cast<size_t>(splitChunk) * bytes;
  for (int g = 0; g < group; ++g)
    for (int64_t o = 0; o < splitOuter; ++o)
      std::memcpy(packed.data() + g * piece + o * splitRow,
                  address(in) + (o * group + g) * splitRow, splitRow);
  MPI_Request request;
  int count = static_cast<int>(splitOuter * splitChunk);
  check(MPI_Ialltoall(packed.data(), count, type, received.data(), count,
                      type, comm, &request),
        "MPI_Ialltoall");
  wait(request, "all_to_all", axesCode);
  // [group, concatOuter, concatChunk] -> [concatOuter, group, concatChunk].
  size_t concatRow = static_cast<size_t>(concatChunk) * bytes;
  for (int g = 0; g < group; ++g)
    for (int64_t o = 0; o < concatOuter; ++o)
      std::memcpy(address(out) + (o * group + g) * concatRow,
                  received.data() + g * piece + o * concatRow, concatRow);
}

extern "C" double autopar_rt_wtime() {
  ensureInitialized();
  check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  return MPI_Wtime();
}

extern "C" void autopar_rt_report(int64_t index, double error) {
  if (index < 0)
    return;
  if (static_cast<size_t>(index) >= reported.size())
    reported.resize(index + 1, 0);
  reported[index] = error;
}

extern "C" void autopar_rt_report_time(int64_t step, double seconds) {
  if (step < 0)
    return;
  if (static_cast<size_t>(step) >= stepTimes.size())
    stepTimes.resize(step + 1, 0);
  stepTimes[step] = seconds;
}
