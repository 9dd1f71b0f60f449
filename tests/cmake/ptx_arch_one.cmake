# Helper of ptx_arch_test.cmake: maps one version (-DVERSION=...), so a fatal error can be observed.
include("${CMAKE_CURRENT_LIST_DIR}/../../runtime/cmake/SharpmaxPtxArch.cmake")
sharpmax_ptx_arch_for_cuda_version("${VERSION}" arch)
message(STATUS "compute_${arch}")
