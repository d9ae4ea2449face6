/*
 * reader.c: waits for each new frame of a u8 segment and prints its number,
 * its age (publish-to-read latency, from the frame's CLOCK_MONOTONIC
 * timestamp) and a checksum.
 *
 * Build and run (from the repository root):
 *
 *   cargo rustc --release -p dbshm --features capi --lib --crate-type cdylib
 *   make -C examples-c
 *   target/examples-c/reader [name] [frames]      # defaults: dbshm-example, forever
 *
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dbshm.h"

static uint64_t monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "dbshm-example";
    /* One line per frame, as it happens, also into a pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    long frames = argc > 2 ? atol(argv[2]) : -1;

    dbshm_u8 *shm = NULL;
    if (dbshm_u8_open_readonly(name, &shm) != DBSHM_OK) {
        fprintf(stderr, "reader: %s\n", dbshm_last_error());
        return 1;
    }
    size_t shape[DBSHM_MAX_NDIM];
    size_t ndim = dbshm_u8_ndim(shm);
    dbshm_u8_shape(shm, shape, DBSHM_MAX_NDIM);
    printf("reader: %s, %zu dimensions, first %zu, %zu bytes of shared memory\n", name, ndim, shape[0],
           dbshm_u8_memory_size(shm));

    size_t len = dbshm_u8_len(shm);
    unsigned char *frame = malloc(len);
    if (frame == NULL) {
        dbshm_u8_free(shm);
        return 1;
    }
    dbshm_frame_info info = {0, 0};
    int status = 0;
    for (long n = 0; frames < 0 || n < frames; n++) {
        dbshm_status s = dbshm_u8_wait(shm, info.seq, 5000000, frame, len, &info);
        if (s != DBSHM_OK) {
            fprintf(stderr, "reader: %s\n", dbshm_last_error());
            status = 1;
            break;
        }
        double age_us = (double)(monotonic_ns() - info.timestamp_ns) / 1000.0;
        uint64_t sum = 0;
        for (size_t i = 0; i < len; i++) {
            sum += frame[i];
        }
        printf("frame %" PRIu64 ": %.1f us old, checksum %" PRIu64 "\n", info.seq, age_us, sum);
    }
    free(frame);
    dbshm_u8_free(shm);
    return status;
}
