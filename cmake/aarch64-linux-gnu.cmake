# A CMake toolchain file for aarch64 Linux (Jetson, Raspberry Pi), with
# Debian's cross compilers (gcc-aarch64-linux-gnu, g++-aarch64-linux-gnu)
# and the rustup target aarch64-unknown-linux-gnu:
#
#   cmake -S . -B build-aarch64 -DCMAKE_BUILD_TYPE=Release \
#       -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# The same file configures a project that uses dbshm, with find_package.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# The Rust target cargo builds libdbshm for (cmake/DbshmCargo.cmake).
if(NOT DEFINED DBSHM_RUST_TARGET)
  set(DBSHM_RUST_TARGET aarch64-unknown-linux-gnu)
endif()
