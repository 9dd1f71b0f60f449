# The PTX's virtual architecture, chosen by the CUDA compiler's version: the
# oldest one that compiler still accepts, so the PTX JIT-compiles on as many
# GPUs as it can.
#   CUDA 11.x, 12.x -> 70 (compute_70: Volta and every later GPU)
#   CUDA 13.x on    -> 75 (compute_75: Turing on; CUDA 13 dropped offline
#                          compilation for Maxwell, Pascal and Volta)
# Older than 11: a fatal error (the oldest toolkit Sharpmax is built with is 11.8).
function(sharpmax_ptx_arch_for_cuda_version version out_var)
  if(NOT version MATCHES "^[0-9]+(\\.[0-9]+)*$")
    message(FATAL_ERROR "Sharpmax: '${version}' is not a CUDA compiler version (expected e.g. 11.8.89)")
  endif()
  if(version VERSION_LESS 11)
    message(FATAL_ERROR "Sharpmax: CUDA ${version} is too old for the PTX build (11.x or later needed); "
      "install a newer toolkit or configure with -DSHARPMAX_PTX=OFF")
  elseif(version VERSION_LESS 13)
    set(${out_var} 70 PARENT_SCOPE)
  else()
    set(${out_var} 75 PARENT_SCOPE)
  endif()
endfunction()
