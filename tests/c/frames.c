/*
 * frames.c: the C side of the cross-language tests (tests/capi.rs builds and
 * runs it). Every element of frame `seq` is VALUE(seq, i), so a reader can
 * verify a whole frame against its number.
 *
 *   frames write TYPE NAME MILLIS   writes frames as fast as it can for MILLIS ms
 *   frames read TYPE NAME MILLIS    reads and verifies frames for MILLIS ms
 *   frames pin TYPE NAME MILLIS     pins frames for MILLIS ms, verifying each
 *                                   when pinned and again before unpinning
 *
 * TYPE is u8 i8 u16 i16 u32 i32 u64 i64 f32 f64. Reports one JSON line, as
 * the test kit's children do (testkit/src/report.rs).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dbshm.h"

/* The test kit's frame pattern (testkit/src/frame.rs), which the Rust side
 * uses; below 100, so exact in every type. tests/capi.rs checks that the two
 * agree: Rust reads what this writes and verifies it, and the other way. */
#define VALUE(seq, i) (((uint64_t)(seq) * 131u + (uint64_t)(i) * 7u) % 100u)

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#define DEFINE_ROLES(T, X)                                                                        \
    static int write_##X(const char *name, double ms) {                                          \
        dbshm_##X *h = NULL;                                                                      \
        if (dbshm_##X##_open(name, &h) != DBSHM_OK) {                                             \
            fprintf(stderr, "frames: %s\n", dbshm_last_error());                                  \
            return 1;                                                                             \
        }                                                                                         \
        size_t len = dbshm_##X##_len(h);                                                          \
        T *buf = malloc(len * sizeof(T));                                                         \
        uint64_t written = 0;                                                                     \
        double end = now_ms() + ms;                                                               \
        while (buf != NULL && now_ms() < end) {                                                   \
            /* The writer role makes latest + 1 this frame's number. */                           \
            uint64_t seq = dbshm_##X##_latest_seq(h) + 1;                                         \
            for (size_t i = len; i-- > 0;) {                                                      \
                buf[i] = (T)VALUE(seq, i);                                                        \
            }                                                                                     \
            if (dbshm_##X##_write(h, buf, len) != DBSHM_OK) {                                     \
                fprintf(stderr, "frames: %s\n", dbshm_last_error());                              \
                break;                                                                            \
            }                                                                                     \
            written++;                                                                            \
        }                                                                                         \
        printf("{\"written\":%" PRIu64 "}\n", written);                                             \
        free(buf);                                                                                \
        dbshm_##X##_free(h);                                                                      \
        return written > 0 ? 0 : 1;                                                               \
    }                                                                                             \
    static int read_##X(const char *name, double ms) {                                           \
        dbshm_##X *h = NULL;                                                                      \
        if (dbshm_##X##_open_readonly(name, &h) != DBSHM_OK) {                                    \
            fprintf(stderr, "frames: %s\n", dbshm_last_error());                                  \
            return 1;                                                                             \
        }                                                                                         \
        size_t len = dbshm_##X##_len(h);                                                          \
        T *buf = malloc(len * sizeof(T));                                                         \
        uint64_t reads = 0, torn = 0, backwards = 0, distinct = 0, last = 0;                      \
        double end = now_ms() + ms;                                                               \
        while (buf != NULL && now_ms() < end) {                                                   \
            dbshm_frame_info info;                                                                \
            if (dbshm_##X##_read(h, buf, len, &info) != DBSHM_OK) {                               \
                fprintf(stderr, "frames: %s\n", dbshm_last_error());                              \
                break;                                                                            \
            }                                                                                     \
            int whole = 1;                                                                        \
            for (size_t i = 0; i < len && whole; i++) {                                           \
                whole = buf[i] == (info.seq == 0 ? (T)0 : (T)VALUE(info.seq, i));                 \
            }                                                                                     \
            reads++;                                                                              \
            torn += !whole;                                                                       \
            backwards += info.seq < last;                                                         \
            distinct += info.seq != last;                                                         \
            last = info.seq > last ? info.seq : last;                                             \
        }                                                                                         \
        printf("{\"reads\":%" PRIu64 ",\"torn\":%" PRIu64 ",\"backwards\":%" PRIu64                \
               ",\"distinct\":%" PRIu64 ",\"max_seq\":%" PRIu64 "}\n",                             \
               reads, torn, backwards, distinct, last);                                           \
        free(buf);                                                                                \
        dbshm_##X##_free(h);                                                                      \
        return reads > 0 ? 0 : 1;                                                                 \
    }                                                                                             \
    static int whole_##X(const T *data, size_t len, uint64_t seq) {                               \
        for (size_t i = 0; i < len; i++) {                                                        \
            if (data[i] != (seq == 0 ? (T)0 : (T)VALUE(seq, i))) {                                \
                return 0;                                                                         \
            }                                                                                     \
        }                                                                                         \
        return 1;                                                                                 \
    }                                                                                             \
    static int pin_##X(const char *name, double ms) {                                            \
        dbshm_##X *h = NULL;                                                                      \
        if (dbshm_##X##_open_readonly(name, &h) != DBSHM_OK) {                                    \
            fprintf(stderr, "frames: %s\n", dbshm_last_error());                                  \
            return 1;                                                                             \
        }                                                                                         \
        uint64_t reads = 0, torn = 0, changed = 0, backwards = 0, distinct = 0, last = 0;         \
        double end = now_ms() + ms;                                                               \
        while (now_ms() < end) {                                                                  \
            dbshm_##X##_view view;                                                                \
            if (dbshm_##X##_pin(h, &view) != DBSHM_OK) {                                          \
                fprintf(stderr, "frames: %s\n", dbshm_last_error());                              \
                break;                                                                            \
            }                                                                                     \
            reads++;                                                                              \
            torn += !whole_##X(view.data, view.len, view.info.seq);                               \
            changed += !whole_##X(view.data, view.len, view.info.seq);                            \
            backwards += view.info.seq < last;                                                    \
            distinct += view.info.seq != last;                                                    \
            last = view.info.seq > last ? view.info.seq : last;                                   \
            dbshm_##X##_unpin(h, &view);                                                          \
            dbshm_##X##_unpin(h, &view); /* a second unpin does nothing */                       \
        }                                                                                         \
        /* The view checked twice: when pinned and before the unpin. */                          \
        printf("{\"reads\":%" PRIu64 ",\"torn\":%" PRIu64 ",\"changed\":%" PRIu64                  \
               ",\"backwards\":%" PRIu64 ",\"distinct\":%" PRIu64 ",\"max_seq\":%" PRIu64 "}\n",   \
               reads, torn, changed, backwards, distinct, last);                                  \
        dbshm_##X##_free(h);                                                                      \
        return reads > 0 ? 0 : 1;                                                                 \
    }

DEFINE_ROLES(uint8_t, u8)
DEFINE_ROLES(int8_t, i8)
DEFINE_ROLES(uint16_t, u16)
DEFINE_ROLES(int16_t, i16)
DEFINE_ROLES(uint32_t, u32)
DEFINE_ROLES(int32_t, i32)
DEFINE_ROLES(uint64_t, u64)
DEFINE_ROLES(int64_t, i64)
DEFINE_ROLES(float, f32)
DEFINE_ROLES(double, f64)

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: frames write|read|pin TYPE NAME MILLIS\n");
        return 2;
    }
    const char *role = argv[1];
    const char *type = argv[2], *name = argv[3];
    double ms = atof(argv[4]);
#define DISPATCH(X)                                                                               \
    if (strcmp(type, #X) == 0) {                                                                  \
        return strcmp(role, "write") == 0 ? write_##X(name, ms)                                   \
               : strcmp(role, "pin") == 0 ? pin_##X(name, ms)                                     \
                                          : read_##X(name, ms);                                   \
    }
    DISPATCH(u8) DISPATCH(i8) DISPATCH(u16) DISPATCH(i16) DISPATCH(u32)
    DISPATCH(i32) DISPATCH(u64) DISPATCH(i64) DISPATCH(f32) DISPATCH(f64)
    fprintf(stderr, "frames: unknown type %s\n", type);
    return 2;
}
