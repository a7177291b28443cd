// A one-rank stand-in for Open MPI's libmpi.so.40, for running autopar-run
// on a machine that has a GPU but no MPI (scripts/gpu-bundle.sh, for
// scripts/gpu-checks.sh --bundle). It implements the calls that
// autopar's runtimes make, with the semantics MPI gives them in a job of
// one rank: rank 0 of 1, broadcasts and barriers complete at once, and a
// send to oneself is buffered until the matching receive (same tag, in
// order). Only MPI_BYTE is moved; anything else aborts loudly. The
// predefined handles (MPI_COMM_WORLD, MPI_BYTE, ...) are Open MPI's
// symbols, defined in mpi_single_rank_handles.c.
#include <mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct Message {
  int tag;
  int bytes;
  char *data;
  struct Message *next;
};

// A request: a receive waiting for its send, or a finished operation.
struct Request {
  int done;
  int tag;
  int bytes;
  void *buffer;
  struct Request *next; // the queue of waiting receives
};

static struct Message *sentFirst, *sentLast;
static struct Request *waitingFirst, *waitingLast;
static int initialized, finalized;

static void fail(const char *what) {
  fprintf(stderr, "mpi_single_rank: %s\n", what);
  abort();
}

static void checkPeer(int peer, MPI_Datatype type, MPI_Comm comm) {
  if (peer != 0 && peer != MPI_ANY_SOURCE)
    fail("a peer other than rank 0 in a job of one rank");
  if (type != MPI_BYTE)
    fail("only MPI_BYTE is supported");
  if (comm != MPI_COMM_WORLD)
    fail("only MPI_COMM_WORLD is supported");
}

static struct Request *newRequest(int done) {
  struct Request *request = calloc(1, sizeof(struct Request));
  if (!request)
    fail("out of memory");
  request->done = done;
  return request;
}

static int tagMatches(int wanted, int tag) {
  return wanted == MPI_ANY_TAG || wanted == tag;
}

static void deliver(struct Request *receive, const void *data, int bytes) {
  if (bytes > receive->bytes)
    fail("message longer than the receive buffer (MPI_ERR_TRUNCATE)");
  memcpy(receive->buffer, data, (size_t)bytes);
  receive->bytes = bytes;
  receive->done = 1;
}

int MPI_Init_thread(int *argc, char ***argv, int required, int *provided) {
  (void)argc;
  (void)argv;
  initialized = 1;
  if (provided)
    *provided = required;
  return MPI_SUCCESS;
}

int MPI_Initialized(int *flag) {
  *flag = initialized;
  return MPI_SUCCESS;
}

int MPI_Finalize(void) {
  finalized = 1;
  return MPI_SUCCESS;
}

int MPI_Finalized(int *flag) {
  *flag = finalized;
  return MPI_SUCCESS;
}

int MPI_Abort(MPI_Comm comm, int code) {
  (void)comm;
  fprintf(stderr, "mpi_single_rank: MPI_Abort(%d)\n", code);
  exit(code ? code : 1);
}

int MPI_Comm_rank(MPI_Comm comm, int *rank) {
  (void)comm;
  *rank = 0;
  return MPI_SUCCESS;
}

int MPI_Comm_size(MPI_Comm comm, int *size) {
  (void)comm;
  *size = 1;
  return MPI_SUCCESS;
}

int MPI_Comm_set_errhandler(MPI_Comm comm, MPI_Errhandler handler) {
  (void)comm;
  (void)handler;
  return MPI_SUCCESS;
}

int MPI_Error_string(int code, char *text, int *length) {
  *length = snprintf(text, MPI_MAX_ERROR_STRING, "MPI error %d", code);
  return MPI_SUCCESS;
}

double MPI_Wtime(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

int MPI_Bcast(void *buffer, int count, MPI_Datatype type, int root,
              MPI_Comm comm) {
  (void)buffer;
  (void)count;
  checkPeer(root, type, comm);
  return MPI_SUCCESS;
}

int MPI_Ibarrier(MPI_Comm comm, MPI_Request *request) {
  (void)comm;
  *request = (MPI_Request)newRequest(1);
  return MPI_SUCCESS;
}

int MPI_Isend(const void *buffer, int count, MPI_Datatype type, int dest,
              int tag, MPI_Comm comm, MPI_Request *request) {
  checkPeer(dest, type, comm);
  // The oldest waiting receive of this tag takes it; else it is buffered.
  for (struct Request **link = &waitingFirst; *link; link = &(*link)->next) {
    struct Request *receive = *link;
    if (!tagMatches(receive->tag, tag))
      continue;
    *link = receive->next;
    if (waitingLast == receive) {
      waitingLast = NULL;
      for (struct Request *r = waitingFirst; r; r = r->next)
        waitingLast = r;
    }
    deliver(receive, buffer, count);
    *request = (MPI_Request)newRequest(1);
    return MPI_SUCCESS;
  }
  struct Message *message = calloc(1, sizeof(struct Message));
  if (!message || !(message->data = malloc(count > 0 ? (size_t)count : 1)))
    fail("out of memory");
  memcpy(message->data, buffer, (size_t)count);
  message->tag = tag;
  message->bytes = count;
  if (sentLast)
    sentLast->next = message;
  else
    sentFirst = message;
  sentLast = message;
  *request = (MPI_Request)newRequest(1);
  return MPI_SUCCESS;
}

int MPI_Irecv(void *buffer, int count, MPI_Datatype type, int source, int tag,
              MPI_Comm comm, MPI_Request *request) {
  checkPeer(source, type, comm);
  struct Request *receive = newRequest(0);
  receive->tag = tag;
  receive->bytes = count;
  receive->buffer = buffer;
  *request = (MPI_Request)receive;
  for (struct Message *prev = NULL, *message = sentFirst; message;
       prev = message, message = message->next) {
    if (!tagMatches(tag, message->tag))
      continue;
    if (prev)
      prev->next = message->next;
    else
      sentFirst = message->next;
    if (sentLast == message)
      sentLast = prev;
    deliver(receive, message->data, message->bytes);
    free(message->data);
    free(message);
    return MPI_SUCCESS;
  }
  if (waitingLast)
    waitingLast->next = receive;
  else
    waitingFirst = receive;
  waitingLast = receive;
  return MPI_SUCCESS;
}

static int isNull(MPI_Request request) {
  return request == MPI_REQUEST_NULL || request == NULL;
}

int MPI_Test(MPI_Request *request, int *flag, MPI_Status *status) {
  (void)status;
  if (isNull(*request)) {
    *flag = 1;
    return MPI_SUCCESS;
  }
  struct Request *r = (struct Request *)*request;
  *flag = r->done;
  if (r->done) {
    free(r);
    *request = MPI_REQUEST_NULL;
  }
  return MPI_SUCCESS;
}

int MPI_Testall(int count, MPI_Request requests[], int *flag,
                MPI_Status statuses[]) {
  (void)statuses;
  for (int i = 0; i < count; ++i)
    if (!isNull(requests[i]) && !((struct Request *)requests[i])->done) {
      *flag = 0;
      return MPI_SUCCESS;
    }
  for (int i = 0; i < count; ++i) {
    if (!isNull(requests[i]))
      free(requests[i]);
    requests[i] = MPI_REQUEST_NULL;
  }
  *flag = 1;
  return MPI_SUCCESS;
}
