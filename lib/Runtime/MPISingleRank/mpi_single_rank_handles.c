// Open MPI's predefined handles (MPI_COMM_WORLD is &ompi_mpi_comm_world,
// and so on), as plain storage for mpi_single_rank.c: only their addresses
// are used. Kept apart from mpi.h, which declares them as opaque structs.
char ompi_mpi_comm_world[1024];
char ompi_mpi_byte[1024];
char ompi_mpi_errors_return[1024];
char ompi_request_null[1024];
