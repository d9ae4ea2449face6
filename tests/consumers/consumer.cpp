// consumer.cpp: consumer.c through the C++ wrapper, built against an
// installed dbshm with find_package. Same protocol: check frame 1, publish
// frame 2, print "ok".
#include <cstdio>
#include <vector>

#include <dbshm.hpp>

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer_cpp NAME\n");
        return 2;
    }
    try {
        auto shm = dbshm::Buffer<uint32_t>::open(argv[1]);
        std::vector<uint32_t> frame;
        dbshm::FrameInfo info = shm.read(frame);
        if (info.seq != 1) {
            std::fprintf(stderr, "consumer_cpp: latest frame is %llu, not 1\n", static_cast<unsigned long long>(info.seq));
            return 1;
        }
        for (size_t i = 0; i < frame.size(); i++) {
            if (frame[i] != 1000u + i) {
                std::fprintf(stderr, "consumer_cpp: element %zu of frame 1 is %u\n", i, frame[i]);
                return 1;
            }
            frame[i] = static_cast<uint32_t>(2000u + i);
        }
        shm.write(frame);
    } catch (const dbshm::Error &e) {
        std::fprintf(stderr, "consumer_cpp: %s\n", e.what());
        return 1;
    }
    std::printf("ok %s %s\n", dbshm_version(), argv[1]);
    return 0;
}
