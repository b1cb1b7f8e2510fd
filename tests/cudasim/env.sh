# Source me after build.sh: `CUDASIM_DIR=OUT_DIR . tests/cudasim/env.sh`. Points Electra's CUDA library overrides
# at the simulator (one library serves the driver API, NVRTC and cuBLAS) and keeps its compiled kernels in a cache
# of their own, apart from a real GPU's.
SIM_DIR=${CUDASIM_DIR:?set CUDASIM_DIR to the folder build.sh wrote}
export ELECTRA_LIBCUDA=$SIM_DIR/libcudasim.so ELECTRA_LIBNVRTC=$SIM_DIR/libcudasim.so
export ELECTRA_LIBCUBLAS=$SIM_DIR/libcudasim.so ELECTRA_LIBCUBLASLT=$SIM_DIR/libcudasim.so
export ELECTRA_KERNEL_CACHE=${ELECTRA_KERNEL_CACHE_SIM:-$SIM_DIR/kernel-cache}
