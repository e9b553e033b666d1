// Open MPI's C API. Its handles (MPI_COMM_WORLD, MPI_FLOAT, ...) are macros
// over addresses of library globals, which Swift does not import: these
// functions hand them over.
#include <mpi.h>

static inline MPI_Comm ct_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm ct_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype ct_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype ct_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype ct_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Info ct_mpi_info_null(void) { return MPI_INFO_NULL; }
static inline int ct_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline int ct_mpi_success(void) { return MPI_SUCCESS; }
static inline int ct_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
