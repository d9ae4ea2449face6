# Helpers for the top-level CMakeLists.txt: cargo builds the libraries, CMake
# installs them the way C libraries are installed.

# `out` = the first group of `pattern` on the first line of `file` it
# matches; a change to `file` reconfigures.
function(dbshm_read_line file pattern out)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${file}")
  file(STRINGS "${file}" line REGEX "${pattern}" LIMIT_COUNT 1)
  if(NOT line MATCHES "${pattern}")
    message(FATAL_ERROR "no line like ${pattern} in ${file}")
  endif()
  set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

# The package version from Cargo.toml (its first `version = "..."` line, the
# [package] one): one place to bump.
function(dbshm_cargo_version out)
  dbshm_read_line("${CMAKE_CURRENT_SOURCE_DIR}/Cargo.toml" "^version = \"([0-9]+\\.[0-9]+\\.[0-9]+)\"" version)
  set(${out} "${version}" PARENT_SCOPE)
endfunction()

# Builds libdbshm.so and libdbshm.a with `cargo rustc` into the build tree,
# and names the SONAME (libdbshm.so.0.1 while 0.x; libdbshm.so.1 from 1.0).
#
# Cross-built where DBSHM_RUST_TARGET names a Rust target (a toolchain file
# sets it: cmake/aarch64-linux-gnu.cmake), linked by the C compiler of the
# toolchain.
function(dbshm_cargo_build)
  find_program(CARGO cargo HINTS "$ENV{HOME}/.cargo/bin" REQUIRED)
  set(target_dir "${CMAKE_CURRENT_BINARY_DIR}/cargo")
  set(out "${target_dir}/release")
  set(env CARGO_TARGET_DIR=${target_dir})
  set(cross)
  if(CMAKE_CROSSCOMPILING AND NOT DBSHM_RUST_TARGET)
    message(FATAL_ERROR "cross-compiling for ${CMAKE_SYSTEM_PROCESSOR}: set DBSHM_RUST_TARGET "
      "to its Rust target (as cmake/aarch64-linux-gnu.cmake does), or cargo builds for this machine")
  endif()
  if(DBSHM_RUST_TARGET)
    string(TOUPPER "${DBSHM_RUST_TARGET}" upper)
    string(REPLACE "-" "_" upper "${upper}")
    list(APPEND env CARGO_TARGET_${upper}_LINKER=${CMAKE_C_COMPILER})
    set(cross --target ${DBSHM_RUST_TARGET})
    set(out "${target_dir}/${DBSHM_RUST_TARGET}/release")
  endif()
  # Cargo runs at every build and decides itself what is stale: it tracks
  # the Rust sources, Cargo.toml and Cargo.lock, which CMake cannot see.
  add_custom_target(dbshm_libraries ALL
    COMMAND ${CMAKE_COMMAND} -E env ${env}
            ${CARGO} rustc --release --manifest-path "${CMAKE_CURRENT_SOURCE_DIR}/Cargo.toml"
            -p dbshm --features capi ${cross} --lib --crate-type cdylib --crate-type staticlib
    BYPRODUCTS "${out}/libdbshm.so" "${out}/libdbshm.a"
    COMMENT "cargo: building libdbshm.so and libdbshm.a"
    USES_TERMINAL VERBATIM)
  # The SONAME as the generator recorded it in the header (build.rs passes
  # the same line to the linker); the capi_drift test keeps it in step with
  # the version.
  dbshm_read_line("${CMAKE_CURRENT_SOURCE_DIR}/include/dbshm.h" "^#define DBSHM_SONAME \"([^\"]+)\"$" soname)
  set(DBSHM_SHARED "${out}/libdbshm.so" PARENT_SCOPE)
  set(DBSHM_STATIC "${out}/libdbshm.a" PARENT_SCOPE)
  set(DBSHM_SONAME "${soname}" PARENT_SCOPE)
endfunction()

# The system libraries a Rust static library needs, as rustc prints them
# (`--print native-static-libs`), for dbshm::dbshm_static and Libs.private.
# Asked of an empty crate at configure time: the library links nothing native
# beyond what the Rust standard library does.
function(dbshm_native_static_libs out)
  find_program(RUSTC rustc HINTS "$ENV{HOME}/.cargo/bin" REQUIRED)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/native-libs")
  set(cross)
  if(DBSHM_RUST_TARGET)
    set(cross --target ${DBSHM_RUST_TARGET})
  endif()
  file(MAKE_DIRECTORY "${dir}")
  file(WRITE "${dir}/empty.rs" "")
  execute_process(
    COMMAND ${RUSTC} --crate-type staticlib --crate-name empty --print native-static-libs
            ${cross} -o "${dir}/libempty.a" "${dir}/empty.rs"
    ERROR_VARIABLE printed RESULT_VARIABLE failed)
  string(REGEX MATCH "native-static-libs: ([^\n]*)" _ "${printed}")
  if(failed OR NOT CMAKE_MATCH_1)
    message(FATAL_ERROR "rustc did not print its native static libraries:\n${printed}")
  endif()
  set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

# Installs the libraries (versioned, with the SONAME and development links),
# the headers, the CMake package and the pkg-config module.
function(dbshm_install)
  include(CMakePackageConfigHelpers)
  # The package files locate the library relative to themselves.
  foreach(dir CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
    if(IS_ABSOLUTE "${${dir}}")
      message(FATAL_ERROR "${dir} must be relative to the prefix, not ${${dir}}")
    endif()
  endforeach()
  set(real "libdbshm.so.${PROJECT_VERSION}")
  set(stage "${CMAKE_CURRENT_BINARY_DIR}/stage")
  # The links are made in the build tree and installed as links.
  add_custom_command(TARGET dbshm_libraries POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E make_directory "${stage}"
    COMMAND ${CMAKE_COMMAND} -E copy "${DBSHM_SHARED}" "${stage}/${real}"
    COMMAND ${CMAKE_COMMAND} -E create_symlink "${real}" "${stage}/${DBSHM_SONAME}"
    COMMAND ${CMAKE_COMMAND} -E create_symlink "${DBSHM_SONAME}" "${stage}/libdbshm.so"
    VERBATIM)
  install(FILES "${stage}/${real}" DESTINATION "${CMAKE_INSTALL_LIBDIR}"
          PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  install(FILES "${stage}/${DBSHM_SONAME}" "${stage}/libdbshm.so" "${DBSHM_STATIC}"
          DESTINATION "${CMAKE_INSTALL_LIBDIR}")
  install(FILES include/dbshm.h include/dbshm.hpp DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

  # The native libraries as CMake wants them: "-lpthread" -> "pthread".
  string(REPLACE "-l" "" native "${DBSHM_NATIVE_LIBS}")
  separate_arguments(native UNIX_COMMAND "${native}")
  set(DBSHM_NATIVE_LIBS_CMAKE "${native}")
  set(DBSHM_REAL_NAME "${real}")
  set(config_dir "${CMAKE_INSTALL_LIBDIR}/cmake/dbshm")
  configure_package_config_file(cmake/dbshmConfig.cmake.in "${CMAKE_CURRENT_BINARY_DIR}/dbshmConfig.cmake"
    INSTALL_DESTINATION "${config_dir}"
    PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
  # While 0.x a minor release may break compatibility; from 1.0, a major one.
  if(PROJECT_VERSION_MAJOR EQUAL 0)
    set(compat SameMinorVersion)
  else()
    set(compat SameMajorVersion)
  endif()
  write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/dbshmConfigVersion.cmake"
    VERSION ${PROJECT_VERSION} COMPATIBILITY ${compat})
  install(FILES "${CMAKE_CURRENT_BINARY_DIR}/dbshmConfig.cmake" "${CMAKE_CURRENT_BINARY_DIR}/dbshmConfigVersion.cmake"
          DESTINATION "${config_dir}")

  file(RELATIVE_PATH DBSHM_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  configure_file(cmake/dbshm.pc.in "${CMAKE_CURRENT_BINARY_DIR}/dbshm.pc" @ONLY)
  install(FILES "${CMAKE_CURRENT_BINARY_DIR}/dbshm.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endfunction()
