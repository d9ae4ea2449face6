/*
 * reader.cpp: the C++ version of reader.c, through the header-only wrapper
 * dbshm.hpp: waits for each new frame, prints its number, age and checksum.
 *
 * Build and run (from the repository root):
 *
 *   cargo rustc --release -p dbshm --features capi --lib --crate-type cdylib
 *   make -C examples-c
 *   target/examples-c/reader_cpp [name] [frames]      # defaults: dbshm-example, forever
 */
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "dbshm.hpp"

int main(int argc, char **argv) {
    std::string name = argc > 1 ? argv[1] : "dbshm-example";
    // One line per frame, as it happens, also into a pipe.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    long frames = argc > 2 ? std::atol(argv[2]) : -1;
    try {
        auto shm = dbshm::Buffer<uint8_t>::open_readonly(name);
        std::printf("reader_cpp: %s, %zu dimensions, %zu bytes of shared memory\n", name.c_str(), shm.shape().size(),
                    shm.memory_size());
        std::vector<uint8_t> frame;
        uint64_t seq = 0;
        for (long n = 0; frames < 0 || n < frames; n++) {
            dbshm::FrameInfo info = shm.wait(seq, std::chrono::seconds(5), frame);
            // steady_clock is CLOCK_MONOTONIC on Linux, the clock of timestamp_ns.
            auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now().time_since_epoch())
                           .count();
            double age_us = (static_cast<double>(now) - static_cast<double>(info.timestamp_ns)) / 1000.0;
            uint64_t sum = std::accumulate(frame.begin(), frame.end(), uint64_t{0});
            std::printf("frame %" PRIu64 ": %.1f us old, checksum %" PRIu64 "\n", info.seq, age_us, sum);
            seq = info.seq;
        }
    } catch (const dbshm::Error &e) {
        std::fprintf(stderr, "reader_cpp: %s\n", e.what());
        return 1;
    }
    return 0;
}
