// MPI_CHECK: throws fasttab::Error naming the failing MPI call, MPI's error text and the file:line of the call.
#pragma once

#include <mpi.h>

#include "fasttab/error.hpp"

namespace fasttab::mpi_detail {

[[noreturn]] inline void fail_mpi(int status, const char* call, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(status, text, &length);
  FASTTAB_FAIL("MPI error ", status, " (", text, ") in ", call, " at ", file, ":", line);
}

}  // namespace fasttab::mpi_detail

#define MPI_CHECK(call)                                                                       \
  do {                                                                                        \
    const int fasttab_status_ = (call);                                                       \
    if (fasttab_status_ != MPI_SUCCESS)                                                       \
      ::fasttab::mpi_detail::fail_mpi(fasttab_status_, #call, __FILE__, __LINE__);            \
  } while (0)
