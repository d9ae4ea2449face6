/*
 * events.c: one epoll loop following several segments through their event
 * descriptors (tests/capi.rs builds and runs it). Each readiness is
 * acknowledged, then the newest frame is read and checked against the test
 * kit's pattern, as frames.c does.
 *
 *   events MILLIS NAME...   follows the u8 segments NAME... for MILLIS ms
 *
 * Reports one JSON line: per segment its wakes, frames read, torn frames
 * and newest frame number, in the order given.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "dbshm.h"

#define VALUE(seq, i) (((uint64_t)(seq) * 131u + (uint64_t)(i) * 7u) % 100u)
#define MAX_SEGMENTS 8

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc - 2 > MAX_SEGMENTS) {
        fprintf(stderr, "usage: events MILLIS NAME...\n");
        return 2;
    }
    double end = now_ms() + atof(argv[1]);
    int n = argc - 2;
    dbshm_u8 *h[MAX_SEGMENTS] = {0};
    uint8_t *buf[MAX_SEGMENTS] = {0};
    uint64_t wakes[MAX_SEGMENTS] = {0}, reads[MAX_SEGMENTS] = {0}, torn[MAX_SEGMENTS] = {0},
             newest[MAX_SEGMENTS] = {0};
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("events: epoll_create1");
        return 1;
    }
    for (int s = 0; s < n; s++) {
        int fd = -1;
        if (dbshm_u8_open_readonly(argv[s + 2], &h[s]) != DBSHM_OK ||
            dbshm_u8_event_fd(h[s], &fd) != DBSHM_OK) {
            fprintf(stderr, "events: %s\n", dbshm_last_error());
            return 1;
        }
        buf[s] = malloc(dbshm_u8_len(h[s]));
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)s};
        if (buf[s] == NULL || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            perror("events: epoll_ctl");
            return 1;
        }
    }
    printf("{\"ready\":true}\n");
    fflush(stdout);
    while (now_ms() < end) {
        struct epoll_event ready[MAX_SEGMENTS];
        int k = epoll_wait(ep, ready, MAX_SEGMENTS, 100);
        for (int e = 0; e < k; e++) {
            int s = (int)ready[e].data.u32;
            size_t len = dbshm_u8_len(h[s]);
            dbshm_frame_info info;
            wakes[s]++;
            if (dbshm_u8_acknowledge_events(h[s], NULL) != DBSHM_OK ||
                dbshm_u8_read(h[s], buf[s], len, &info) != DBSHM_OK) {
                fprintf(stderr, "events: %s\n", dbshm_last_error());
                return 1;
            }
            int whole = 1;
            for (size_t i = 0; i < len && whole; i++) {
                whole = buf[s][i] == (info.seq == 0 ? 0 : (uint8_t)VALUE(info.seq, i));
            }
            reads[s]++;
            torn[s] += !whole;
            newest[s] = info.seq > newest[s] ? info.seq : newest[s];
        }
    }
    printf("{\"segments\":[");
    for (int s = 0; s < n; s++) {
        printf("%s{\"wakes\":%" PRIu64 ",\"reads\":%" PRIu64 ",\"torn\":%" PRIu64
               ",\"newest\":%" PRIu64 "}",
               s ? "," : "", wakes[s], reads[s], torn[s], newest[s]);
        free(buf[s]);
        dbshm_u8_free(h[s]);
    }
    printf("]}\n");
    close(ep);
    return 0;
}
