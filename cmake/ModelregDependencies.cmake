# Resolves modelreg's dependencies: the installed package first (Debian: nlohmann-json3-dev,
# libfmt-dev, libspdlog-dev, libssl-dev, libsqlite3-dev), a pinned source release otherwise.
include(FetchContent)

FetchContent_Declare(nlohmann_json
  GIT_REPOSITORY https://github.com/nlohmann/json.git
  GIT_TAG v3.11.2
  GIT_SHALLOW TRUE
  FIND_PACKAGE_ARGS 3.10 NAMES nlohmann_json)

# fmt and spdlog come as a pair: both from the system, or both fetched at matching versions
# (spdlog 1.10 is built against fmt 9, as in Debian 12).
find_package(fmt 9 QUIET)
find_package(spdlog 1.10 QUIET)
if(fmt_FOUND AND spdlog_FOUND)
  message(STATUS "modelreg: using installed fmt ${fmt_VERSION} and spdlog ${spdlog_VERSION}")
else()
  message(STATUS "modelreg: fetching fmt 9.1.0 and spdlog 1.10.0")
  FetchContent_Declare(fmt
    GIT_REPOSITORY https://github.com/fmtlib/fmt.git
    GIT_TAG 9.1.0
    GIT_SHALLOW TRUE)
  FetchContent_Declare(spdlog
    GIT_REPOSITORY https://github.com/gabime/spdlog.git
    GIT_TAG v1.10.0
    GIT_SHALLOW TRUE)
  set(SPDLOG_FMT_EXTERNAL ON CACHE BOOL "" FORCE)
  FetchContent_MakeAvailable(fmt spdlog)
endif()

FetchContent_MakeAvailable(nlohmann_json)

# SHA-256 of artifacts: OpenSSL's libcrypto (Debian: libssl-dev).
find_package(OpenSSL 1.1 REQUIRED COMPONENTS Crypto)

if(MODELREG_SQLITE)
  find_package(SQLite3 REQUIRED)
endif()

# Export and import of models (Debian: libarchive-dev).
if(MODELREG_ARCHIVE)
  find_package(LibArchive 3.3 REQUIRED)
endif()

# The S3-compatible artifact store (Debian: libcurl4-openssl-dev); 7.75 brought
# CURLOPT_AWS_SIGV4.
if(MODELREG_S3)
  find_package(CURL 7.75 REQUIRED)
endif()

# The PostgreSQL catalog (Debian: libpq-dev).
if(MODELREG_POSTGRES)
  find_package(PostgreSQL 12 REQUIRED)
endif()

# The command-line tool (Debian: libcli11-dev).
if(MODELREG_BUILD_TOOLS)
  find_package(CLI11 2.1 CONFIG REQUIRED)
endif()
