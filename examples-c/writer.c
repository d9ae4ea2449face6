/*
 * writer.c: publishes a moving gradient into a 480x640x3 u8 segment at a
 * fixed rate.
 *
 * Build and run (from the repository root):
 *
 *   cargo rustc --release -p dbshm --features capi --lib --crate-type cdylib
 *   make -C examples-c
 *   target/examples-c/writer [name] [frames] [fps]      # defaults: dbshm-example, forever, 30
 *
 *
 * Then run reader (C) or reader_cpp (C++) beside it. The segment stays after
 * the writer exits; `dbshm_unlink` (or the dbshm command) removes it.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dbshm.h"

#define HEIGHT 480
#define WIDTH 640
#define CHANNELS 3

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "dbshm-example";
    long frames = argc > 2 ? atol(argv[2]) : -1;
    long fps = argc > 3 ? atol(argv[3]) : 30;
    const size_t shape[3] = {HEIGHT, WIDTH, CHANNELS};

    dbshm_u8 *shm = NULL;
    if (dbshm_u8_new(name, shape, 3, &shm) != DBSHM_OK) {
        fprintf(stderr, "writer: %s\n", dbshm_last_error());
        return 1;
    }
    size_t len = dbshm_u8_len(shm);
    unsigned char *frame = malloc(len);
    if (frame == NULL) {
        dbshm_u8_free(shm);
        return 1;
    }

    /* nanosleep refuses tv_nsec of 1e9 or more (EINVAL, without sleeping):
     * whole seconds go in tv_sec. */
    long period_ns = fps > 0 ? 1000000000L / fps : 0;
    struct timespec period = {period_ns / 1000000000L, period_ns % 1000000000L};
    int status = 0;
    for (long n = 0; frames < 0 || n < frames; n++) {
        /* A diagonal gradient that moves one pixel per frame. */
        for (size_t y = 0; y < HEIGHT; y++) {
            for (size_t x = 0; x < WIDTH; x++) {
                unsigned char *px = frame + (y * WIDTH + x) * CHANNELS;
                px[0] = (unsigned char)(x + (size_t)n);
                px[1] = (unsigned char)(y + (size_t)n);
                px[2] = (unsigned char)(x + y);
            }
        }
        if (dbshm_u8_write(shm, frame, len) != DBSHM_OK) {
            fprintf(stderr, "writer: %s\n", dbshm_last_error());
            status = 1;
            break;
        }
        nanosleep(&period, NULL);
    }
    printf("writer: published %ld frames to %s\n", frames, name);
    free(frame);
    dbshm_u8_free(shm);
    return status;
}
