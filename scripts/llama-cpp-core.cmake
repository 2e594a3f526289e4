# Included right after llama.cpp's project() while pip builds llama-cpp-python from its sdist: the Makefile
# passes -DCMAKE_PROJECT_llama.cpp_INCLUDE=<this file> in CMAKE_ARGS (a standard CMake hook).
# llama-cpp-python forces llama.cpp's "common" library on (chat parsers, an HTTP client, argument parsing),
# but neither installs nor loads it: the bindings use libllama and libggml only. Leaving it out halves the
# build (measured on 2 cores: 464 -> 228 CPU seconds; the libraries and the Python code are the same).
set(LLAMA_BUILD_COMMON OFF CACHE BOOL "llama: build common utils library" FORCE)
