//===- Rendezvous.cpp - how the ranks of a job find each other ------------===//
//
// The TCP rendezvous: rank 0 listens on the rendezvous port; every other
// rank connects to MASTER_ADDR at that port (retrying while rank 0 starts)
// and sends a hello with its rank; once all have said hello, rank 0 sends
// each the blob. The port is AUTOPAR_RENDEZVOUS_PORT, else MASTER_PORT + 1:
// torchrun's agent serves its own store on MASTER_PORT itself. Every wait
// is bounded by the timeout.
//
//===----------------------------------------------------------------------===//

#include "autopar/Runtime/Rendezvous.h"

#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace autopar::runtime;

namespace {
constexpr uint32_t kHelloMagic = 0x41505256; // "APRV"

using Clock = std::chrono::steady_clock;

/// Parses a non-negative integer variable; false when malformed.
bool parseInt(const char *text, int &value) {
  if (!text || !*text)
    return false;
  char *end = nullptr;
  long parsed = std::strtol(text, &end, 10);
  if (*end != '\0' || parsed < 0 || parsed > (1 << 30))
    return false;
  value = static_cast<int>(parsed);
  return true;
}

std::string errnoText(const std::string &what) {
  return what + ": " + std::strerror(errno);
}

/// Closes a socket when it goes out of scope.
struct Socket {
  int fd = -1;
  explicit Socket(int fd = -1) : fd(fd) {}
  Socket(Socket &&other) : fd(other.fd) { other.fd = -1; }
  Socket(const Socket &) = delete;
  Socket &operator=(Socket &&other) {
    std::swap(fd, other.fd);
    return *this;
  }
  ~Socket() {
    if (fd >= 0)
      close(fd);
  }
};

/// Waits until `fd` is ready for `events` or `deadline` passes.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  while (true) {
    double left =
        std::chrono::duration<double>(deadline - Clock::now()).count();
    if (left <= 0)
      return false;
    pollfd entry = {fd, events, 0};
    int ready = poll(&entry, 1, static_cast<int>(left * 1000) + 1);
    if (ready > 0)
      return true;
    if (ready < 0 && errno != EINTR)
      return false;
  }
}

/// Sends or receives exactly `bytes` bytes before `deadline`.
bool transfer(int fd, void *data, size_t bytes, bool send,
              Clock::time_point deadline) {
  char *at = static_cast<char *>(data);
  while (bytes > 0) {
    if (!waitFor(fd, send ? POLLOUT : POLLIN, deadline))
      return false;
    ssize_t done =
        send ? ::send(fd, at, bytes, MSG_NOSIGNAL) : ::recv(fd, at, bytes, 0);
    if (done < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (done <= 0)
      return false;
    at += done;
    bytes -= static_cast<size_t>(done);
  }
  return true;
}

std::string serve(const World &world, void *data, size_t bytes,
                  double timeout) {
  std::string where = "port " + world.port;
  addrinfo hints = {};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo *found = nullptr;
  if (int code = getaddrinfo(nullptr, world.port.c_str(), &hints, &found))
    return "rendezvous port " + world.port + ": " + gai_strerror(code);
  Socket listener(socket(found->ai_family, found->ai_socktype, 0));
  if (listener.fd < 0) {
    freeaddrinfo(found);
    return errnoText("socket");
  }
  int yes = 1;
  setsockopt(listener.fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  int bound = bind(listener.fd, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (bound != 0)
    return errnoText("cannot listen on " + where);
  if (listen(listener.fd, world.size) != 0)
    return errnoText("cannot listen on " + where);
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(timeout));
  std::vector<Socket> peers;
  std::vector<bool> joined(world.size, false);
  joined[0] = true;
  for (int waiting = world.size - 1; waiting > 0; --waiting) {
    if (!waitFor(listener.fd, POLLIN, deadline)) {
      std::string missing;
      for (int rank = 0; rank < world.size; ++rank)
        if (!joined[rank])
          missing += (missing.empty() ? "" : ", ") + std::to_string(rank);
      return "rendezvous on " + where + ": ranks " + missing +
             " did not join within " + std::to_string(int(timeout)) +
             " s (AUTOPAR_RENDEZVOUS_TIMEOUT)";
    }
    Socket peer(accept(listener.fd, nullptr, nullptr));
    if (peer.fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) {
        ++waiting;
        continue;
      }
      return errnoText("accept on " + where);
    }
    // A connection that says nothing within a few seconds is not one of
    // ours: it must not hold the others up.
    uint32_t hello[2] = {0, 0};
    auto helloDeadline =
        std::min(deadline, Clock::now() + std::chrono::seconds(5));
    if (!transfer(peer.fd, hello, sizeof(hello), false, helloDeadline) ||
        hello[0] != kHelloMagic || hello[1] >= uint32_t(world.size) ||
        joined[hello[1]]) {
      // Not one of ours (or a duplicate rank): ignore it.
      ++waiting;
      continue;
    }
    joined[hello[1]] = true;
    peers.push_back(std::move(peer));
  }
  for (Socket &peer : peers)
    if (!transfer(peer.fd, data, bytes, true, deadline))
      return "rendezvous on " + where + ": a rank left before receiving";
  return "";
}

std::string join(const World &world, void *data, size_t bytes, double timeout) {
  std::string where = world.masterAddress + ":" + world.port;
  addrinfo hints = {};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *found = nullptr;
  if (int code = getaddrinfo(world.masterAddress.c_str(), world.port.c_str(),
                             &hints, &found))
    return "rendezvous address " + where + ": " + gai_strerror(code);
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(timeout));
  // Rank 0 may not listen yet: retry until the deadline. Connects are
  // non-blocking, so an unreachable address cannot outlast the deadline.
  Socket connection;
  int lastError = 0;
  while (true) {
    connection = Socket(socket(found->ai_family, found->ai_socktype, 0));
    if (connection.fd < 0) {
      freeaddrinfo(found);
      return errnoText("socket");
    }
    int flags = fcntl(connection.fd, F_GETFL, 0);
    fcntl(connection.fd, F_SETFL, flags | O_NONBLOCK);
    int result = connect(connection.fd, found->ai_addr, found->ai_addrlen);
    if (result != 0 && errno == EINPROGRESS) {
      auto attempt = std::min(deadline, Clock::now() + std::chrono::seconds(2));
      if (waitFor(connection.fd, POLLOUT, attempt)) {
        int error = 0;
        socklen_t length = sizeof(error);
        getsockopt(connection.fd, SOL_SOCKET, SO_ERROR, &error, &length);
        result = error == 0 ? 0 : -1;
        errno = error;
      } else {
        // Cut short by the deadline: the previous attempt's error (if any)
        // says more than this one's.
        errno = Clock::now() >= deadline && lastError ? lastError : ETIMEDOUT;
      }
    }
    if (result == 0)
      break;
    lastError = errno;
    if (Clock::now() >= deadline) {
      freeaddrinfo(found);
      errno = lastError;
      return errnoText(
          "rendezvous with rank 0 at " + where + ": cannot connect within " +
          std::to_string(int(timeout)) + " s (AUTOPAR_RENDEZVOUS_TIMEOUT)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  freeaddrinfo(found);
  uint32_t hello[2] = {kHelloMagic, static_cast<uint32_t>(world.rank)};
  if (!transfer(connection.fd, hello, sizeof(hello), true, deadline))
    return "rendezvous with rank 0 at " + where + ": cannot send";
  if (!transfer(connection.fd, data, bytes, false, deadline))
    return "rendezvous with rank 0 at " + where + ": no answer within " +
           std::to_string(int(timeout)) +
           " s (AUTOPAR_RENDEZVOUS_TIMEOUT; did every rank start?)";
  return "";
}

std::string broadcastByMPI(const World &world, void *data, size_t bytes) {
  if (!initializeMPI())
    return "MPI_Init failed";
  // The launcher's variables can describe a job that MPI did not start
  // (srun's variables inside a batch script): MPI must agree.
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank != world.rank || size != world.size)
    return "the environment describes rank " + std::to_string(world.rank) +
           " of " + std::to_string(world.size) + " but MPI started rank " +
           std::to_string(rank) + " of " + std::to_string(size) +
           " (run under mpirun or srun)";
  if (MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, 0, MPI_COMM_WORLD) !=
      MPI_SUCCESS)
    return "MPI_Bcast of the rendezvous blob failed";
  return "";
}
} // namespace

bool autopar::runtime::initializeMPI() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) !=
        MPI_SUCCESS)
      return false;
    std::atexit([] {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (!finalized)
        MPI_Finalize();
    });
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  return true;
}

const char *autopar::runtime::getLauncherName(Launcher launcher) {
  switch (launcher) {
  case Launcher::Single:
    return "single";
  case Launcher::MPI:
    return "mpi";
  case Launcher::TorchRun:
    return "torchrun";
  }
  return "unknown";
}

std::string autopar::runtime::getWorldFromEnvironment(World &world) {
  world = World();
  auto read = [](const char *name, int &value) -> std::string {
    const char *text = std::getenv(name);
    if (!text)
      return std::string(name) + " is not set";
    if (!parseInt(text, value))
      return std::string(name) + "='" + text +
             "' is not a non-negative integer";
    return "";
  };
  auto readPair = [&](const char *rankName, const char *sizeName,
                      const char *localName) -> std::string {
    if (std::string error = read(rankName, world.rank); !error.empty())
      return error;
    if (std::string error = read(sizeName, world.size); !error.empty())
      return error;
    if (std::getenv(localName))
      if (std::string error = read(localName, world.localRank); !error.empty())
        return error;
    if (world.size < 1 || world.rank >= world.size)
      return std::string(rankName) + "=" + std::to_string(world.rank) +
             " is not below " + sizeName + "=" + std::to_string(world.size);
    return "";
  };
  // torchrun and friends.
  if (std::getenv("RANK") || std::getenv("WORLD_SIZE")) {
    world.launcher = Launcher::TorchRun;
    if (std::string error = readPair("RANK", "WORLD_SIZE", "LOCAL_RANK");
        !error.empty())
      return error;
    const char *address = std::getenv("MASTER_ADDR");
    const char *port = std::getenv("MASTER_PORT");
    if (world.size > 1 && (!address || !port))
      return "RANK and WORLD_SIZE are set but MASTER_ADDR or MASTER_PORT is "
             "not: the TCP rendezvous needs both";
    world.masterAddress = address ? address : "127.0.0.1";
    int masterPort = 29500;
    if (port && !parseInt(port, masterPort))
      return std::string("MASTER_PORT='") + port + "' is not a port";
    world.port = std::to_string(masterPort + 1);
    if (const char *own = std::getenv("AUTOPAR_RENDEZVOUS_PORT")) {
      int value = 0;
      if (!parseInt(own, value))
        return std::string("AUTOPAR_RENDEZVOUS_PORT='") + own +
               "' is not a port";
      world.port = own;
    }
    return "";
  }
  if (std::getenv("OMPI_COMM_WORLD_SIZE")) {
    world.launcher = Launcher::MPI;
    return readPair("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                    "OMPI_COMM_WORLD_LOCAL_RANK");
  }
  if (std::getenv("PMI_SIZE")) {
    world.launcher = Launcher::MPI;
    return readPair("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID");
  }
  if (std::getenv("SLURM_PROCID") && std::getenv("SLURM_NTASKS")) {
    world.launcher = Launcher::MPI;
    return readPair("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID");
  }
  return "";
}

/// A positive number of seconds from `name`, else 300.
static double getSeconds(const char *name) {
  const char *text = std::getenv(name);
  double value = text ? std::atof(text) : 0;
  return value > 0 ? value : 300.0;
}

double autopar::runtime::getRendezvousTimeout() {
  static double seconds = getSeconds("AUTOPAR_RENDEZVOUS_TIMEOUT");
  return seconds;
}

double autopar::runtime::getCollectiveTimeout() {
  static double seconds = getSeconds("AUTOPAR_COLLECTIVE_TIMEOUT");
  return seconds;
}

std::string autopar::runtime::broadcastFromRankZero(const World &world,
                                                    void *data, size_t bytes,
                                                    double timeoutSeconds) {
  if (world.size == 1)
    return "";
  switch (world.launcher) {
  case Launcher::Single:
    return "";
  case Launcher::MPI:
    return broadcastByMPI(world, data, bytes);
  case Launcher::TorchRun:
    return world.rank == 0 ? serve(world, data, bytes, timeoutSeconds)
                           : join(world, data, bytes, timeoutSeconds);
  }
  return "unknown launcher";
}
