//===- CPURuntime.cpp - collectives on CPU ranks through MPI --------------===//

#include "autopar/Runtime/CPURuntime.h"
#include "autopar/Runtime/MeshGroup.h"
#include "autopar/Runtime/Rendezvous.h"

#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {
int worldRank = 0;
int worldSize = 1;
std::vector<double> reported;
std::vector<double> stepTimes;
std::vector<double> stepLosses;
std::vector<double> stepLossScales;
/// autopar_rt_report_graphs's counts (-1: not reported).
int64_t graphCaptures = -1, graphReplays = -1;
/// Buffers of compiled code (the `_mlir_memref_to_llvm_*` functions) by
/// address, the bytes they hold, the most held since the last mark, and
/// per step the most held during it.
std::unordered_map<void *, size_t> liveBuffers;
size_t liveBytes = 0, peakBytes = 0, markedBytes = 0;
std::vector<double> stepPeakBytes;
/// autopar_rt_report_device_memory's figures, by step.
std::vector<double> stepDevicePoolPeaks, stepDeviceManagedPeaks,
    stepDeviceWorkspaces;
/// autopar_rt_profile's sums: per site, per step.
std::vector<std::vector<double>> profile;
size_t currentStep = 0;

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "autopar runtime: rank %d: %s\n", worldRank,
               message.c_str());
  std::fflush(stderr);
  // Open MPI's launcher forwards a rank's stderr through a pipe it reads
  // asynchronously, and tears the job down as soon as a rank fails: the
  // message above was lost that way once under load (permute.mlir's
  // timeout case, 2026-12-05). Give the launcher a moment to read it.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // Leave without MPI_Finalize and with a failing status, which the
  // launcher counts as the job's failure and answers by stopping the other
  // ranks. MPI_Abort did the same, but once returned status 0 from mpirun
  // when the peer had finalised already (permute.mlir's timeout case under
  // load, 2026-12-07).
  std::_Exit(3);
}

void check(int code, const char *call) {
  if (code == MPI_SUCCESS)
    return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail(std::string(call) + " failed: " + std::string(text, length));
}

/// The group of this rank for a collective over `axesCode` of `meshCode`.
std::vector<int> groupOf(int64_t meshCode, int64_t axesCode, int &position) {
  autopar::runtime::MeshGroup group;
  std::string error = autopar::runtime::getMeshGroup(
      meshCode, axesCode, worldRank, worldSize, group);
  if (!error.empty())
    fail(error);
  position = group.position;
  return group.members;
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
  case 4:
    bytes = 1;
    return MPI_INT8_T;
  case 5:
    bytes = 1;
    return MPI_BYTE;
  case 6:
  case 7:
    bytes = 2;
    return MPI_UINT16_T;
  }
  fail("unsupported element type code " + std::to_string(dtype));
}

template <typename T> void combineAs(char *into, const char *from,
                                     size_t count, int32_t op) {
  T *a = reinterpret_cast<T *>(into);
  const T *b = reinterpret_cast<const T *>(from);
  for (size_t i = 0; i < count; ++i) {
    switch (op) {
    case 0:
      a[i] = a[i] + b[i];
      break;
    case 1:
      a[i] = a[i] * b[i];
      break;
    case 2:
      a[i] = b[i] < a[i] ? b[i] : a[i];
      break;
    case 3:
      a[i] = b[i] > a[i] ? b[i] : a[i];
      break;
    default:
      fail("unsupported reduction code " + std::to_string(op));
    }
  }
}

/// 16-bit floats are combined in f32 and rounded back to nearest even, as
/// NCCL does: bf16 is the top half of an f32; f16 is converted by hand
/// (IEEE binary16: 5 exponent bits, 10 fraction bits).
float fromBF16(uint16_t bits) {
  uint32_t word = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &word, sizeof(value));
  return value;
}
uint16_t toBF16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof(word));
  if ((word & 0x7fffffffu) > 0x7f800000u) // NaN stays a (quiet) NaN.
    return static_cast<uint16_t>((word >> 16) | 0x40);
  word += 0x7fffu + ((word >> 16) & 1);
  return static_cast<uint16_t>(word >> 16);
}
float fromF16(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  int exponent = (bits >> 10) & 0x1f;
  uint32_t fraction = bits & 0x3ff;
  float magnitude;
  if (exponent == 0x1f)
    magnitude = fraction ? std::numeric_limits<float>::quiet_NaN()
                         : std::numeric_limits<float>::infinity();
  else if (exponent == 0)
    magnitude = std::ldexp(static_cast<float>(fraction), -24);
  else
    magnitude = std::ldexp(static_cast<float>(fraction | 0x400), exponent - 25);
  return sign ? -magnitude : magnitude;
}
uint16_t toF16(float value) {
  uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  float magnitude = std::fabs(value);
  if (std::isnan(value))
    return sign | 0x7e00;
  if (magnitude >= 65520.0f) // Rounds to infinity.
    return sign | 0x7c00;
  if (magnitude < std::ldexp(1.0f, -14)) {
    // Subnormal: multiples of 2^-24, rounded to nearest even.
    return sign |
           static_cast<uint16_t>(std::nearbyint(std::ldexp(magnitude, 24)));
  }
  int exponent;
  float mantissa = std::frexp(magnitude, &exponent); // [0.5, 1)
  // 11 significant bits, rounded to nearest even (may carry into the
  // exponent, which the addition below handles).
  auto significand =
      static_cast<uint32_t>(std::nearbyint(std::ldexp(mantissa, 11)));
  uint32_t bits =
      (static_cast<uint32_t>(exponent + 14) << 10) + (significand - 0x400);
  return sign | static_cast<uint16_t>(bits);
}

template <float (*From)(uint16_t), uint16_t (*To)(float)>
void combineHalf(char *into, const char *from, size_t count, int32_t op) {
  for (size_t i = 0; i < count; ++i) {
    uint16_t a, b;
    std::memcpy(&a, into + 2 * i, 2);
    std::memcpy(&b, from + 2 * i, 2);
    float x = From(a), y = From(b), r;
    switch (op) {
    case 0:
      r = x + y;
      break;
    case 1:
      r = x * y;
      break;
    case 2:
      r = y < x ? y : x;
      break;
    case 3:
      r = y > x ? y : x;
      break;
    default:
      fail("unsupported reduction code " + std::to_string(op));
    }
    uint16_t bits = To(r);
    std::memcpy(into + 2 * i, &bits, 2);
  }
}

/// into[i] = into[i] (op) from[i], for `count` elements of type `dtype`.
void combine(char *into, const char *from, size_t count, int32_t dtype,
             int32_t op) {
  switch (dtype) {
  case 0:
    return combineAs<float>(into, from, count, op);
  case 1:
    return combineAs<double>(into, from, count, op);
  case 2:
    return combineAs<int32_t>(into, from, count, op);
  case 3:
    return combineAs<int64_t>(into, from, count, op);
  case 4:
    return combineAs<int8_t>(into, from, count, op);
  case 6:
    return combineHalf<fromBF16, toBF16>(into, from, count, op);
  case 7:
    return combineHalf<fromF16, toF16>(into, from, count, op);
  }
  fail("unsupported element type code " + std::to_string(dtype));
}

/// Waits for `requests`, aborting the job after the timeout with
/// "<what> timed out after T s (AUTOPAR_COLLECTIVE_TIMEOUT)<why>".
void waitAll(std::vector<MPI_Request> &requests, const std::string &what,
             const std::string &why) {
  auto start = std::chrono::steady_clock::now();
  int done = 0;
  while (!requests.empty()) {
    check(MPI_Testall(static_cast<int>(requests.size()), requests.data(),
                      &done, MPI_STATUSES_IGNORE),
          "MPI_Testall");
    if (done)
      return;
    double waited = std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    if (waited > autopar::runtime::getCollectiveTimeout())
      fail(what + " timed out after " +
           std::to_string(autopar::runtime::getCollectiveTimeout()) +
           " s (AUTOPAR_COLLECTIVE_TIMEOUT)" + why);
  }
}

/// waitAll for a collective `name` over the axes of `axesCode`.
void waitAll(std::vector<MPI_Request> &requests, const char *name,
             int64_t axesCode) {
  waitAll(requests,
          std::string("collective ") + name + " over mesh axes " +
              autopar::runtime::describeAxes(axesCode),
          "; another rank failed or diverged");
}

/// Posts the sends of block j of `send` to group member j and the receives
/// of member i's block into block i of `receive` (blocks of `bytes` bytes;
/// `sendStride` 0 sends the same block to everyone), point to point on
/// MPI_COMM_WORLD, so that a collective only some ranks reach cannot block
/// the others in a communicator split. Every rank posts its collectives in
/// one program order, and MPI keeps a sender's messages of one tag in
/// order: collectives still in flight match up.
std::vector<MPI_Request> postExchange(const std::vector<int> &members,
                                      int position, const char *send,
                                      size_t sendStride, char *receive,
                                      size_t bytes) {
  constexpr int kTag = 0x4150;
  std::vector<MPI_Request> requests;
  for (size_t i = 0; i < members.size(); ++i) {
    if (static_cast<int>(i) == position) {
      std::memcpy(receive + i * bytes, send + i * sendStride, bytes);
      continue;
    }
    requests.emplace_back();
    check(MPI_Irecv(receive + i * bytes, static_cast<int>(bytes), MPI_BYTE,
                    members[i], kTag, MPI_COMM_WORLD, &requests.back()),
          "MPI_Irecv");
  }
  for (size_t j = 0; j < members.size(); ++j) {
    if (static_cast<int>(j) == position)
      continue;
    requests.emplace_back();
    check(MPI_Isend(send + j * sendStride, static_cast<int>(bytes), MPI_BYTE,
                    members[j], kTag, MPI_COMM_WORLD, &requests.back()),
          "MPI_Isend");
  }
  return requests;
}

/// postExchange, then waits at most the timeout.
void exchange(const std::vector<int> &members, int position, const char *send,
              size_t sendStride, char *receive, size_t bytes, const char *name,
              int64_t axesCode) {
  std::vector<MPI_Request> requests =
      postExchange(members, position, send, sendStride, receive, bytes);
  waitAll(requests, name, axesCode);
}

/// A collective started and not yet waited for (autopar_rt_*_start): its
/// requests, the buffers they use, and what completes it.
struct Pending {
  std::vector<MPI_Request> requests;
  std::vector<char> packed, received;
  const char *name = "";
  int64_t axesCode = 0;
  std::function<void(Pending &)> finish;
};
std::map<int64_t, Pending> &getPending() {
  static std::map<int64_t, Pending> pending;
  return pending;
}
int64_t addPending(Pending pending) {
  static int64_t next = 0;
  getPending().emplace(++next, std::move(pending));
  return next;
}

/// Copies a [a, b, row] array of `row`-byte rows into [b, a, row] order.
void swapOuter(char *to, const char *from, size_t a, size_t b, size_t row) {
  for (size_t i = 0; i < a; ++i)
    for (size_t j = 0; j < b; ++j)
      std::memcpy(to + (j * a + i) * row, from + (i * b + j) * row, row);
}

char *address(int64_t value) { return reinterpret_cast<char *>(value); }
} // namespace

namespace autopar::runtime {
void initialize() {
  if (!autopar::runtime::initializeMPI()) {
    std::fprintf(stderr, "autopar runtime: MPI_Init failed\n");
    std::exit(3);
  }
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
const double *getStepLosses(int64_t &count) {
  count = static_cast<int64_t>(stepLosses.size());
  return stepLosses.data();
}
const double *getStepPeakBytes(int64_t &count) {
  count = static_cast<int64_t>(stepPeakBytes.size());
  return stepPeakBytes.data();
}
const double *getStepDevicePoolPeaks(int64_t &count) {
  count = static_cast<int64_t>(stepDevicePoolPeaks.size());
  return stepDevicePoolPeaks.data();
}
const double *getStepDeviceManagedPeaks(int64_t &count) {
  count = static_cast<int64_t>(stepDeviceManagedPeaks.size());
  return stepDeviceManagedPeaks.data();
}
const double *getStepDeviceWorkspaces(int64_t &count) {
  count = static_cast<int64_t>(stepDeviceWorkspaces.size());
  return stepDeviceWorkspaces.data();
}
const double *getStepLossScales(int64_t &count) {
  count = static_cast<int64_t>(stepLossScales.size());
  return stepLossScales.data();
}
bool getGraphCounts(int64_t &captures, int64_t &replays) {
  captures = graphCaptures;
  replays = graphReplays;
  return graphCaptures >= 0;
}
const std::vector<std::vector<double>> &getProfile() { return profile; }
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
  int64_t coord = 0;
  std::string error = autopar::runtime::getDeviceCoord(
      meshCode, axesCode, worldRank, worldSize, coord);
  if (!error.empty())
    fail(error);
  return coord;
}

extern "C" int64_t autopar_rt_all_reduce_start(int64_t in, int64_t out,
                                               int64_t count, int32_t dtype,
                                               int32_t op, int64_t meshCode,
                                               int64_t axesCode) {
  ensureInitialized();
  int position;
  std::vector<int> members = groupOf(meshCode, axesCode, position);
  size_t bytes;
  datatype(dtype, bytes);
  size_t size = static_cast<size_t>(count) * bytes;
  Pending pending;
  pending.name = "all_reduce";
  pending.axesCode = axesCode;
  pending.received.resize(size * members.size());
  pending.requests = postExchange(members, position, address(in), 0,
                                  pending.received.data(), size);
  // Every rank combines in group order: identical results everywhere.
  pending.finish = [=, group = members.size()](Pending &done) {
    std::memcpy(address(out), done.received.data(), size);
    for (size_t i = 1; i < group; ++i)
      combine(address(out), done.received.data() + i * size, count, dtype, op);
  };
  return addPending(std::move(pending));
}

extern "C" void autopar_rt_wait(int64_t handle) {
  auto it = getPending().find(handle);
  if (it == getPending().end())
    fail("autopar_rt_wait: no collective in flight with handle " +
         std::to_string(handle));
  Pending &pending = it->second;
  waitAll(pending.requests, pending.name, pending.axesCode);
  pending.finish(pending);
  getPending().erase(it);
}

extern "C" void autopar_rt_all_reduce(int64_t in, int64_t out, int64_t count,
                                      int32_t dtype, int32_t op,
                                      int64_t meshCode, int64_t axesCode) {
  autopar_rt_wait(autopar_rt_all_reduce_start(in, out, count, dtype, op,
                                              meshCode, axesCode));
}

extern "C" int64_t autopar_rt_all_gather_start(int64_t in, int64_t out,
                                               int64_t outer, int64_t chunk,
                                               int32_t dtype, int64_t meshCode,
                                               int64_t axesCode) {
  ensureInitialized();
  int position;
  std::vector<int> members = groupOf(meshCode, axesCode, position);
  size_t bytes;
  datatype(dtype, bytes);
  size_t row = static_cast<size_t>(chunk) * bytes;
  size_t local = static_cast<size_t>(outer) * row;
  size_t group = members.size();
  Pending pending;
  pending.name = "all_gather";
  pending.axesCode = axesCode;
  pending.received.resize(local * group);
  pending.requests = postExchange(members, position, address(in), 0,
                                  pending.received.data(), local);
  // [group, outer, chunk] -> [outer, group, chunk].
  pending.finish = [=](Pending &done) {
    swapOuter(address(out), done.received.data(), group, outer, row);
  };
  return addPending(std::move(pending));
}

extern "C" void autopar_rt_all_gather(int64_t in, int64_t out, int64_t outer,
                                      int64_t chunk, int32_t dtype,
                                      int64_t meshCode, int64_t axesCode) {
  autopar_rt_wait(autopar_rt_all_gather_start(in, out, outer, chunk, dtype,
                                              meshCode, axesCode));
}

extern "C" int64_t autopar_rt_reduce_scatter_start(int64_t in, int64_t out,
                                                   int64_t outer, int64_t chunk,
                                                   int32_t dtype, int32_t op,
                                                   int64_t meshCode,
                                                   int64_t axesCode) {
  ensureInitialized();
  int position;
  std::vector<int> members = groupOf(meshCode, axesCode, position);
  size_t bytes;
  datatype(dtype, bytes);
  size_t group = members.size();
  size_t row = static_cast<size_t>(chunk) * bytes;
  size_t local = static_cast<size_t>(outer) * row;
  Pending pending;
  pending.name = "reduce_scatter";
  pending.axesCode = axesCode;
  // [outer, group, chunk] -> [group, outer, chunk]: slice j for member j.
  pending.packed.resize(local * group);
  pending.received.resize(local * group);
  swapOuter(pending.packed.data(), address(in), outer, group, row);
  pending.requests = postExchange(members, position, pending.packed.data(),
                                  local, pending.received.data(), local);
  pending.finish = [=](Pending &done) {
    std::memcpy(address(out), done.received.data(), local);
    for (size_t i = 1; i < group; ++i)
      combine(address(out), done.received.data() + i * local, outer * chunk,
              dtype, op);
  };
  return addPending(std::move(pending));
}

extern "C" void autopar_rt_reduce_scatter(int64_t in, int64_t out,
                                          int64_t outer, int64_t chunk,
                                          int32_t dtype, int32_t op,
                                          int64_t meshCode, int64_t axesCode) {
  autopar_rt_wait(autopar_rt_reduce_scatter_start(in, out, outer, chunk, dtype,
                                                  op, meshCode, axesCode));
}

extern "C" void autopar_rt_all_to_all(int64_t in, int64_t out,
                                      int64_t splitOuter, int64_t splitChunk,
                                      int64_t concatOuter, int64_t concatChunk,
                                      int32_t dtype, int64_t meshCode,
                                      int64_t axesCode) {
  ensureInitialized();
  int position;
  std::vector<int> members = groupOf(meshCode, axesCode, position);
  size_t bytes;
  datatype(dtype, bytes);
  size_t group = members.size();
  size_t piece = static_cast<size_t>(splitOuter * splitChunk) * bytes;
  if (static_cast<size_t>(concatOuter * concatChunk) * bytes != piece)
    fail("all_to_all: inconsistent slice sizes");
  // [splitOuter, group, splitChunk] -> [group, splitOuter, splitChunk].
  std::vector<char> packed(piece * group), received(piece * group);
  swapOuter(packed.data(), address(in), splitOuter, group,
            static_cast<size_t>(splitChunk) * bytes);
  exchange(members, position, packed.data(), piece, received.data(), piece,
           "all_to_all", axesCode);
  // [group, concatOuter, concatChunk] -> [concatOuter, group, concatChunk].
  swapOuter(address(out), received.data(), group, concatOuter,
            static_cast<size_t>(concatChunk) * bytes);
}

extern "C" void autopar_rt_permute(int64_t in, int64_t out, int64_t count,
                                   int32_t dtype, int64_t numPairs,
                                   int64_t pairs, int64_t meshCode,
                                   int64_t axesCode) {
  ensureInitialized();
  int position;
  std::vector<int> members = groupOf(meshCode, axesCode, position);
  size_t bytes;
  datatype(dtype, bytes);
  size_t size = static_cast<size_t>(count) * bytes;
  int target, source;
  autopar::runtime::getPermutePeers(reinterpret_cast<const int64_t *>(pairs),
                                    numPairs, position, target, source);
  // The input stays readable while the output is received or zeroed
  // (they may be one buffer).
  std::vector<char> sent;
  const char *send = address(in);
  if (in == out && target >= 0 && target != position) {
    sent.assign(send, send + size);
    send = sent.data();
  }
  constexpr int kTag = 0x5045;
  std::vector<MPI_Request> requests;
  if (source == position) {
    std::memmove(address(out), send, size);
  } else if (source >= 0) {
    requests.emplace_back();
    check(MPI_Irecv(address(out), static_cast<int>(size), MPI_BYTE,
                    members[source], kTag, MPI_COMM_WORLD, &requests.back()),
          "MPI_Irecv");
  }
  if (target >= 0 && target != position) {
    requests.emplace_back();
    check(MPI_Isend(send, static_cast<int>(size), MPI_BYTE, members[target],
                    kTag, MPI_COMM_WORLD, &requests.back()),
          "MPI_Isend");
  }
  if (source < 0)
    std::memset(address(out), 0, size);
  // Waits at most the timeout, naming the peers this rank waits on.
  std::string peers;
  if (source >= 0 && source != position)
    peers += "receiving from rank " + std::to_string(members[source]);
  if (target >= 0 && target != position)
    peers += std::string(peers.empty() ? "" : ", ") + "sending to rank " +
             std::to_string(members[target]);
  waitAll(requests,
          "permute over mesh axes " + autopar::runtime::describeAxes(axesCode),
          " " + peers + "; that rank failed or never reached this transfer");
}

namespace {
/// Sends still in flight: each holds a copy of its value, so the program
/// goes on at once (autopar.send does not wait for its receive).
struct PendingSend {
  MPI_Request request;
  std::vector<char> data;
  std::string what;
};
std::vector<std::unique_ptr<PendingSend>> pendingSends;
/// Values a rank sent to itself, by tag, in order.
std::multimap<int64_t, std::vector<char>> sentToSelf;
/// Point-to-point tags live above the collectives' (0x4150, 0x5045).
constexpr int kTransferTagBase = 0x10000;

/// Frees the sends that completed; with `wait`, waits (at most the timeout)
/// for all of them.
void completeSends(bool wait) {
  auto start = std::chrono::steady_clock::now();
  while (true) {
    for (size_t i = 0; i < pendingSends.size();) {
      int done = 0;
      check(MPI_Test(&pendingSends[i]->request, &done, MPI_STATUS_IGNORE),
            "MPI_Test");
      if (done)
        pendingSends.erase(pendingSends.begin() + i);
      else
        ++i;
    }
    if (!wait || pendingSends.empty())
      return;
    double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (waited > autopar::runtime::getCollectiveTimeout())
      fail(pendingSends.front()->what + " timed out after " +
           std::to_string(autopar::runtime::getCollectiveTimeout()) +
           " s (AUTOPAR_COLLECTIVE_TIMEOUT); that rank failed or never "
           "reached the matching recv");
  }
}

/// What a send and a recv start with: the world rank of the group member at
/// `peer` along `axesCode` (checked) and the bytes of `count` elements.
int startTransfer(int64_t peer, int64_t count, int32_t dtype, int64_t meshCode,
                  int64_t axesCode, const char *what, size_t &size) {
  ensureInitialized();
  completeSends(/*wait=*/false);
  autopar::runtime::MeshGroup group;
  std::string error = autopar::runtime::getMeshGroup(
      meshCode, axesCode, worldRank, worldSize, group);
  int rank = 0;
  if (error.empty())
    error =
        autopar::runtime::getTransferPeer(group, peer, axesCode, what, rank);
  if (!error.empty())
    fail(error);
  size_t bytes;
  datatype(dtype, bytes);
  size = static_cast<size_t>(count) * bytes;
  return rank;
}
} // namespace

extern "C" void autopar_rt_send(int64_t in, int64_t count, int32_t dtype,
                                int64_t peer, int64_t tag, int64_t meshCode,
                                int64_t axesCode) {
  size_t size;
  int target =
      startTransfer(peer, count, dtype, meshCode, axesCode, "send", size);
  const char *data = address(in);
  if (target == worldRank) {
    sentToSelf.emplace(tag, std::vector<char>(data, data + size));
    return;
  }
  auto pending = std::make_unique<PendingSend>();
  pending->data.assign(data, data + size);
  pending->what = "send (tag " + std::to_string(tag) + ") from rank " +
                  std::to_string(worldRank) + " to rank " +
                  std::to_string(target) + " over mesh axes " +
                  autopar::runtime::describeAxes(axesCode);
  check(MPI_Isend(pending->data.data(), static_cast<int>(size), MPI_BYTE,
                  target, kTransferTagBase + static_cast<int>(tag),
                  MPI_COMM_WORLD, &pending->request),
        "MPI_Isend");
  pendingSends.push_back(std::move(pending));
}

extern "C" void autopar_rt_recv(int64_t out, int64_t count, int32_t dtype,
                                int64_t peer, int64_t tag, int64_t meshCode,
                                int64_t axesCode) {
  size_t size;
  int source =
      startTransfer(peer, count, dtype, meshCode, axesCode, "recv", size);
  if (source == worldRank) {
    auto it = sentToSelf.find(tag);
    if (it == sentToSelf.end() || it->second.size() != size)
      fail("recv (tag " + std::to_string(tag) +
           ") from itself: nothing of that size was sent");
    std::memcpy(address(out), it->second.data(), size);
    sentToSelf.erase(it);
    return;
  }
  std::vector<MPI_Request> requests(1);
  check(MPI_Irecv(address(out), static_cast<int>(size), MPI_BYTE, source,
                  kTransferTagBase + static_cast<int>(tag), MPI_COMM_WORLD,
                  &requests[0]),
        "MPI_Irecv");
  waitAll(requests,
          "recv (tag " + std::to_string(tag) + ") on rank " +
              std::to_string(worldRank) + " from rank " +
              std::to_string(source) + " over mesh axes " +
              autopar::runtime::describeAxes(axesCode),
          "; rank " + std::to_string(source) +
              " failed or never reached the matching send");
}

extern "C" double autopar_rt_wtime() {
  ensureInitialized();
  // A step's sends are received within it: they end before the clock does.
  completeSends(/*wait=*/true);
  std::vector<MPI_Request> requests(1);
  check(MPI_Ibarrier(MPI_COMM_WORLD, &requests[0]), "MPI_Ibarrier");
  waitAll(requests, "barrier", 0);
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
  currentStep = static_cast<size_t>(step) + 1;
}

extern "C" void autopar_rt_report_loss(int64_t step, double loss) {
  if (step < 0)
    return;
  if (static_cast<size_t>(step) >= stepLosses.size())
    stepLosses.resize(step + 1, std::nan(""));
  stepLosses[step] = loss;
}

extern "C" void autopar_rt_report_graphs(int64_t captures, int64_t replays) {
  graphCaptures = captures;
  graphReplays = replays;
}

extern "C" void autopar_rt_report_loss_scale(int64_t step, double scale) {
  if (step < 0)
    return;
  if (static_cast<size_t>(step) >= stepLossScales.size())
    stepLossScales.resize(step + 1, std::nan(""));
  stepLossScales[step] = scale;
}

namespace {
void *track(void *buffer, size_t bytes) {
  if (!buffer)
    fail("out of memory allocating " + std::to_string(bytes) + " bytes");
  liveBuffers[buffer] = bytes;
  liveBytes += bytes;
  peakBytes = std::max(peakBytes, liveBytes);
  return buffer;
}
} // namespace

extern "C" void *_mlir_memref_to_llvm_alloc(size_t bytes) {
  return track(std::malloc(bytes), bytes);
}

extern "C" void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment,
                                                    size_t bytes) {
  // aligned_alloc wants a multiple of the alignment.
  size_t rounded = (bytes + alignment - 1) / alignment * alignment;
  return track(std::aligned_alloc(alignment, rounded), bytes);
}

extern "C" void _mlir_memref_to_llvm_free(void *buffer) {
  auto found = liveBuffers.find(buffer);
  if (found != liveBuffers.end()) {
    liveBytes -= found->second;
    liveBuffers.erase(found);
  }
  std::free(buffer);
}

extern "C" void autopar_rt_memory_mark() {
  markedBytes = liveBytes;
  peakBytes = liveBytes;
}

extern "C" void autopar_rt_memory_report(int64_t step) {
  if (step < 0)
    return;
  if (static_cast<size_t>(step) >= stepPeakBytes.size())
    stepPeakBytes.resize(step + 1, std::nan(""));
  stepPeakBytes[step] = static_cast<double>(peakBytes - markedBytes);
}

extern "C" void autopar_rt_report_device_memory(int64_t step, double pool,
                                                double managed,
                                                double workspaces) {
  if (step < 0)
    return;
  if (static_cast<size_t>(step) >= stepDevicePoolPeaks.size()) {
    stepDevicePoolPeaks.resize(step + 1, std::nan(""));
    stepDeviceManagedPeaks.resize(step + 1, std::nan(""));
    stepDeviceWorkspaces.resize(step + 1, std::nan(""));
  }
  stepDevicePoolPeaks[step] = pool;
  stepDeviceManagedPeaks[step] = managed;
  stepDeviceWorkspaces[step] = workspaces;
}

extern "C" double autopar_rt_clock() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

extern "C" void autopar_rt_profile(int64_t site, double start) {
  double seconds = autopar_rt_clock() - start;
  if (site < 0)
    return;
  if (static_cast<size_t>(site) >= profile.size())
    profile.resize(site + 1);
  std::vector<double> &steps = profile[site];
  if (steps.size() <= currentStep)
    steps.resize(currentStep + 1, 0);
  steps[currentStep] += seconds;
}
