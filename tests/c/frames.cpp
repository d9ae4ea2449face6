// frames.cpp: the C++ side of the cross-language tests, through dbshm.hpp.
// The same roles, formula and JSON report as frames.c:
//
//   frames_cpp write|read|pin TYPE NAME MILLIS
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dbshm.hpp"

namespace {

// The test kit's frame pattern (testkit/src/frame.rs); tests/capi.rs checks
// that the two agree, in both directions.
uint64_t value(uint64_t seq, size_t i) { return (seq * 131u + static_cast<uint64_t>(i) * 7u) % 100u; }

using Clock = std::chrono::steady_clock;

template <typename T>
int write(const std::string &name, double ms) {
    auto shm = dbshm::Buffer<T>::open(name);
    std::vector<T> frame(shm.len());
    uint64_t written = 0;
    auto end = Clock::now() + std::chrono::duration<double, std::milli>(ms);
    while (Clock::now() < end) {
        uint64_t seq = shm.latest_seq() + 1;  // the writer role makes this the frame's number
        for (size_t i = frame.size(); i-- > 0;) {
            frame[i] = static_cast<T>(value(seq, i));
        }
        shm.write(frame);
        written++;
    }
    std::printf("{\"written\":%" PRIu64 "}\n", written);
    return written > 0 ? 0 : 1;
}

template <typename T>
int read(const std::string &name, double ms) {
    auto shm = dbshm::Buffer<T>::open_readonly(name);
    const int fd = shm.event_fd(); // frames are announced from here on
    std::vector<T> frame;
    uint64_t reads = 0, torn = 0, backwards = 0, distinct = 0, last = 0;
    auto end = Clock::now() + std::chrono::duration<double, std::milli>(ms);
    while (Clock::now() < end) {
        dbshm::FrameInfo info = shm.read(frame);
        bool whole = true;
        for (size_t i = 0; i < frame.size() && whole; i++) {
            whole = frame[i] == (info.seq == 0 ? T(0) : static_cast<T>(value(info.seq, i)));
        }
        reads++;
        torn += !whole;
        backwards += info.seq < last;
        distinct += info.seq != last;
        last = info.seq > last ? info.seq : last;
    }
    const uint64_t announced = shm.acknowledge_events();
    const bool same_fd = shm.event_fd() == fd;
    std::printf("{\"reads\":%" PRIu64 ",\"torn\":%" PRIu64 ",\"backwards\":%" PRIu64 ",\"distinct\":%" PRIu64
                ",\"max_seq\":%" PRIu64 ",\"announced\":%" PRIu64 ",\"same_fd\":%s}\n",
                reads, torn, backwards, distinct, last, announced, same_fd ? "true" : "false");
    return reads > 0 ? 0 : 1;
}

template <typename T>
bool whole(const dbshm::Pinned<T> &frame) {
    uint64_t seq = frame.info().seq;
    size_t i = 0;
    for (const T &x : frame) {
        if (x != (seq == 0 ? T(0) : static_cast<T>(value(seq, i++)))) {
            return false;
        }
    }
    return true;
}

// Pins frames through the RAII guard, checking each when pinned and again
// before it goes out of scope.
template <typename T>
int pin(const std::string &name, double ms) {
    auto shm = dbshm::Buffer<T>::open_readonly(name);
    uint64_t reads = 0, torn = 0, changed = 0, backwards = 0, distinct = 0, last = 0;
    auto end = Clock::now() + std::chrono::duration<double, std::milli>(ms);
    while (Clock::now() < end) {
        dbshm::Pinned<T> frame = shm.pin();
        uint64_t seq = frame.info().seq;
        reads++;
        torn += !whole(frame);
        changed += !whole(frame);
        backwards += seq < last;
        distinct += seq != last;
        last = seq > last ? seq : last;
    }
    std::printf("{\"reads\":%" PRIu64 ",\"torn\":%" PRIu64 ",\"changed\":%" PRIu64 ",\"backwards\":%" PRIu64
                ",\"distinct\":%" PRIu64 ",\"max_seq\":%" PRIu64 "}\n",
                reads, torn, changed, backwards, distinct, last);
    return reads > 0 ? 0 : 1;
}

template <typename T>
int run(const std::string &role, const std::string &name, double ms) {
    return role == "write" ? write<T>(name, ms) : role == "pin" ? pin<T>(name, ms) : read<T>(name, ms);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: frames_cpp write|read|pin TYPE NAME MILLIS\n");
        return 2;
    }
    std::string role = argv[1];
    std::string type = argv[2], name = argv[3];
    double ms = std::atof(argv[4]);
    try {
        if (type == "u8") return run<uint8_t>(role, name, ms);
        if (type == "i8") return run<int8_t>(role, name, ms);
        if (type == "u16") return run<uint16_t>(role, name, ms);
        if (type == "i16") return run<int16_t>(role, name, ms);
        if (type == "u32") return run<uint32_t>(role, name, ms);
        if (type == "i32") return run<int32_t>(role, name, ms);
        if (type == "u64") return run<uint64_t>(role, name, ms);
        if (type == "i64") return run<int64_t>(role, name, ms);
        if (type == "f32") return run<float>(role, name, ms);
        if (type == "f64") return run<double>(role, name, ms);
    } catch (const dbshm::Error &e) {
        std::fprintf(stderr, "frames_cpp: %s\n", e.what());
        return 1;
    }
    std::fprintf(stderr, "frames_cpp: unknown type %s\n", type.c_str());
    return 2;
}
