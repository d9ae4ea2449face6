/*
 * consumer.c: a program outside the dbshm tree, built only against an
 * installed dbshm (tests/install.rs builds it with CMake, statically, and
 * with pkg-config).
 *
 *   consumer NAME
 *
 * Opens the u32 segment NAME, which a Rust process created and published
 * frame 1 in; checks every element of it; publishes frame 2; prints "ok".
 * Element i of frame n is n * 1000 + i.
 */
#include <stdio.h>
#include <stdlib.h>

#include <dbshm.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: consumer NAME\n");
        return 2;
    }
    dbshm_u32 *shm = NULL;
    if (dbshm_u32_open(argv[1], &shm) != DBSHM_OK) {
        fprintf(stderr, "consumer: %s\n", dbshm_last_error());
        return 1;
    }
    size_t len = dbshm_u32_len(shm);
    uint32_t *frame = malloc(len * sizeof *frame);
    dbshm_frame_info info;
    int status = 1;
    if (frame != NULL && dbshm_u32_read(shm, frame, len, &info) == DBSHM_OK && info.seq == 1) {
        status = 0;
        for (size_t i = 0; i < len; i++) {
            if (frame[i] != 1000u + (uint32_t)i) {
                fprintf(stderr, "consumer: element %zu of frame 1 is %u\n", i, (unsigned)frame[i]);
                status = 1;
                break;
            }
            frame[i] = 2000u + (uint32_t)i;
        }
        if (status == 0 && dbshm_u32_write(shm, frame, len) != DBSHM_OK) {
            fprintf(stderr, "consumer: %s\n", dbshm_last_error());
            status = 1;
        }
    } else {
        fprintf(stderr, "consumer: no frame 1 to read: %s\n", dbshm_last_error());
    }
    if (status == 0) {
        printf("ok %s %s\n", dbshm_version(), argv[1]);
    }
    free(frame);
    dbshm_u32_free(shm);
    return status;
}
