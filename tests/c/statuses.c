/*
 * statuses.c: produces every status of the C API on purpose, from C, and
 * checks each one's code, its message, and that out-parameters stay
 * untouched on failure (tests/capi.rs builds and runs it).
 *
 *   statuses PREFIX      segment names start with PREFIX; all are removed
 *
 * Ends with the JSON line {"checked":N,"failed":M}; exits non-zero if any check failed.
 * DBSHM_ERR_INTERNAL (a caught panic) cannot be provoked through a correct
 * library; the Rust unit tests of the boundary check it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dbshm.h"

static int checked, failed;

/* Checks that `got` is `want` and that the last error is a non-empty message. */
static void expect(dbshm_status got, dbshm_status want, const char *what) {
    checked++;
    const char *msg = dbshm_last_error();
    if (got != want || (want != DBSHM_OK && (msg == NULL || msg[0] == '\0'))) {
        failed++;
        printf("FAIL %s: got %s, want %s (message: \"%s\")\n", what, dbshm_status_str(got), dbshm_status_str(want),
               msg ? msg : "(null)");
    } else if (want != DBSHM_OK) {
        printf("ok   %-44s %-28s %s\n", what, dbshm_status_str(got), msg);
    }
}

static void expect_true(int ok, const char *what) {
    checked++;
    if (!ok) {
        failed++;
    }
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
}

static char names[16][256];
static int nnames;

static const char *name(const char *prefix, const char *tag) {
    snprintf(names[nnames], sizeof names[nnames], "%s-%s", prefix, tag);
    return names[nnames++];
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: statuses PREFIX\n");
        return 2;
    }
    const char *prefix = argv[1];
    const size_t shape[2] = {4, 8};
    dbshm_u8 *const SENTINEL = (dbshm_u8 *)(uintptr_t)0x5a5a;
    dbshm_u8 *h = SENTINEL;
    uint8_t buf[32];
    dbshm_frame_info info = {777, 777};

    expect_true(strcmp(dbshm_last_error(), "") == 0, "no error before any failure");

    /* DBSHM_ERR_INVALID_ARGUMENT: names, shapes, pointers. */
    expect(dbshm_u8_new(NULL, shape, 2, &h), DBSHM_ERR_INVALID_ARGUMENT, "NULL name");
    expect(dbshm_u8_new("", shape, 2, &h), DBSHM_ERR_INVALID_ARGUMENT, "empty name");
    expect(dbshm_u8_new("a/b", shape, 2, &h), DBSHM_ERR_INVALID_ARGUMENT, "name with '/'");
    expect(dbshm_u8_new("bad-\xff-utf8", shape, 2, &h), DBSHM_ERR_INVALID_ARGUMENT, "name not UTF-8");
    char long_name[300];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    expect(dbshm_u8_new(long_name, shape, 2, &h), DBSHM_ERR_INVALID_ARGUMENT, "name too long");
    const char *n_args = name(prefix, "args");
    expect(dbshm_u8_new(n_args, NULL, 2, &h), DBSHM_ERR_INVALID_ARGUMENT, "NULL shape");
    expect(dbshm_u8_new(n_args, shape, 0, &h), DBSHM_ERR_INVALID_ARGUMENT, "ndim 0");
    size_t many[17] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    expect(dbshm_u8_new(n_args, many, 17, &h), DBSHM_ERR_INVALID_ARGUMENT, "ndim 17");
    const size_t zero[2] = {4, 0};
    expect(dbshm_u8_create(n_args, zero, 2, &h), DBSHM_ERR_INVALID_ARGUMENT, "zero dimension");
    const size_t huge[2] = {SIZE_MAX / 2, 3};
    expect(dbshm_u8_create(n_args, huge, 2, &h), DBSHM_ERR_INVALID_ARGUMENT, "size overflows");
    expect(dbshm_u8_new(n_args, shape, 2, NULL), DBSHM_ERR_INVALID_ARGUMENT, "NULL out");
    expect(dbshm_u8_open(NULL, &h), DBSHM_ERR_INVALID_ARGUMENT, "open: NULL name");
    expect(dbshm_unlink(NULL), DBSHM_ERR_INVALID_ARGUMENT, "unlink: NULL name");
    expect_true(h == SENTINEL, "a failed call left *out untouched");
    expect(dbshm_u8_write(NULL, buf, 32), DBSHM_ERR_INVALID_ARGUMENT, "write: NULL handle");
    expect(dbshm_u8_read(NULL, buf, 32, &info), DBSHM_ERR_INVALID_ARGUMENT, "read: NULL handle");
    expect(dbshm_u8_wait(NULL, 0, 0, buf, 32, &info), DBSHM_ERR_INVALID_ARGUMENT, "wait: NULL handle");
    expect_true(dbshm_u8_len(NULL) == 0 && dbshm_u8_ndim(NULL) == 0 && dbshm_u8_memory_size(NULL) == 0 &&
                    dbshm_u8_latest_seq(NULL) == 0,
                "NULL handle queries give 0");
    dbshm_u8_free(NULL);

    /* A real segment for the rest. */
    const char *n_main = name(prefix, "main");
    dbshm_u8 *w = NULL;
    expect(dbshm_u8_create(n_main, shape, 2, &w), DBSHM_OK, "create");
    memset(buf, 7, sizeof buf);
    expect(dbshm_u8_write(w, NULL, 32), DBSHM_ERR_INVALID_ARGUMENT, "write: NULL data");
    expect(dbshm_u8_read(w, NULL, 32, &info), DBSHM_ERR_INVALID_ARGUMENT, "read: NULL out");
    size_t dims[1] = {99};
    expect(dbshm_u8_shape(w, dims, 1), DBSHM_ERR_INVALID_ARGUMENT, "shape: cap below ndim");
    expect_true(dims[0] == 99, "a failed shape call left out untouched");
    expect(dbshm_u8_shape(w, NULL, 2), DBSHM_ERR_INVALID_ARGUMENT, "shape: NULL out");
    /* Successful calls leave the last message alone: no success writes it. */
    char before[512];
    snprintf(before, sizeof before, "%s", dbshm_last_error());
    uint8_t frame0[32];
    dbshm_frame_info info0;
    size_t dims2[2];
    expect(dbshm_u8_read(w, frame0, 32, &info0), DBSHM_OK, "read frame 0");
    expect(dbshm_u8_shape(w, dims2, 2), DBSHM_OK, "shape");
    expect_true(strcmp(dbshm_last_error(), before) == 0, "successful calls left the last error as it was");

    /* DBSHM_ERR_NOT_FOUND, DBSHM_ERR_ALREADY_EXISTS */
    expect(dbshm_u8_open(name(prefix, "missing"), &h), DBSHM_ERR_NOT_FOUND, "open a missing segment");
    expect(dbshm_unlink(name(prefix, "missing2")), DBSHM_ERR_NOT_FOUND, "unlink a missing segment");
    expect(dbshm_u8_create(n_main, shape, 2, &h), DBSHM_ERR_ALREADY_EXISTS, "create twice");

    /* DBSHM_ERR_TYPE_MISMATCH, DBSHM_ERR_SHAPE_MISMATCH */
    dbshm_f32 *f = (dbshm_f32 *)SENTINEL;
    expect(dbshm_f32_open(n_main, &f), DBSHM_ERR_TYPE_MISMATCH, "open u8 segment as f32");
    expect_true(f == (dbshm_f32 *)SENTINEL, "type mismatch left *out untouched");
    const size_t other[2] = {8, 4};
    expect(dbshm_u8_new(n_main, other, 2, &h), DBSHM_ERR_SHAPE_MISMATCH, "new with another shape");
    expect(dbshm_u8_write(w, buf, 31), DBSHM_ERR_SHAPE_MISMATCH, "write: len one short");
    uint8_t out[40];
    memset(out, 0xEE, sizeof out);
    expect(dbshm_u8_read(w, out, 40, &info), DBSHM_ERR_SHAPE_MISMATCH, "read: len too long");
    expect_true(out[0] == 0xEE && out[39] == 0xEE && info.seq == 777, "failed read left out and info untouched");
    expect(dbshm_u8_wait(w, 0, 0, out, 3, NULL), DBSHM_ERR_SHAPE_MISMATCH, "wait: len too short");

    /* A good round trip, so the failures above are not the only thing seen. */
    expect(dbshm_u8_write(w, buf, 32), DBSHM_OK, "write");
    expect(dbshm_u8_read(w, out, 32, &info), DBSHM_OK, "read");
    expect_true(info.seq == 1 && out[31] == 7, "read returns frame 1");

    /* DBSHM_ERR_WRITER_BUSY: another handle in this process, and a forked child. */
    dbshm_u8 *w2 = NULL;
    expect(dbshm_u8_open(n_main, &w2), DBSHM_OK, "second handle");
    expect(dbshm_u8_write(w2, buf, 32), DBSHM_ERR_WRITER_BUSY, "write through a second handle");
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        /* The child inherits the handle, not the writer role. */
        _exit(dbshm_u8_write(w, buf, 32) == DBSHM_ERR_WRITER_BUSY ? 0 : 1);
    }
    int wstatus = 0;
    waitpid(child, &wstatus, 0);
    expect_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "a forked child of the writer gets WRITER_BUSY");
    expect(dbshm_u8_write(w, buf, 32), DBSHM_OK, "the parent still writes");
    dbshm_u8_free(w2);

    /* DBSHM_ERR_READ_ONLY */
    dbshm_u8 *ro = NULL;
    expect(dbshm_u8_open_readonly(n_main, &ro), DBSHM_OK, "open read-only");
    expect(dbshm_u8_write(ro, buf, 32), DBSHM_ERR_READ_ONLY, "write through a read-only handle");

    /* DBSHM_ERR_TIMEOUT */
    expect(dbshm_u8_wait(ro, dbshm_u8_latest_seq(ro), 20000, out, 32, &info), DBSHM_ERR_TIMEOUT,
           "wait 20 ms with no writer");
    dbshm_u8_free(ro);

    /* DBSHM_ERR_CANNOT_PIN and DBSHM_ERR_ALL_PINNED. */
    dbshm_u8_view view;
    expect(dbshm_u8_pin(w, &view), DBSHM_ERR_CANNOT_PIN, "pin a segment of 2 buffers");
    const char *n_pins = name(prefix, "pins");
    dbshm_options three = {0};
    three.buffers = 3;
    dbshm_u8 *pw = NULL, *pa = NULL, *pb = NULL;
    expect(dbshm_u8_create_with(n_pins, shape, 2, &three, &pw), DBSHM_OK, "create with 3 buffers");
    expect_true(dbshm_u8_buffers(pw) == 3, "a segment of 3 buffers has 3");
    three.buffers = 17;
    expect(dbshm_u8_create_with(name(prefix, "pins17"), shape, 2, &three, &h), DBSHM_ERR_INVALID_ARGUMENT,
           "create with 17 buffers");
    dbshm_options read_only = {0};
    read_only.read_only = 1;
    expect(dbshm_u8_open_with(n_pins, &read_only, &pa), DBSHM_OK, "open_with read-only");
    expect(dbshm_u8_write(pa, buf, 32), DBSHM_ERR_READ_ONLY, "open_with read-only cannot write");
    expect(dbshm_u8_open_with(n_pins, &read_only, &pb), DBSHM_OK, "open_with read-only again");
    dbshm_u8_view va, vb, vc;
    expect(dbshm_u8_write(pw, buf, 32), DBSHM_OK, "write frame 1");
    expect(dbshm_u8_pin(pa, &va), DBSHM_OK, "pin frame 1");
    expect(dbshm_u8_write(pw, buf, 32), DBSHM_OK, "write frame 2");
    expect(dbshm_u8_pin(pb, &vb), DBSHM_OK, "pin frame 2");
    expect(dbshm_u8_pin(pb, &vc), DBSHM_OK, "pin frame 2 again");
    expect(dbshm_u8_write(pw, buf, 32), DBSHM_OK, "write frame 3");
    expect(dbshm_u8_pin(pb, &vc), DBSHM_ERR_CANNOT_PIN, "pin a second buffer past the handle's limit");
    expect(dbshm_u8_write(pw, buf, 32), DBSHM_ERR_ALL_PINNED, "write with every other buffer pinned");
    expect_true(dbshm_u8_dropped_writes(pw) == 1 && dbshm_u8_latest_seq(pw) == 3, "a dropped write is counted, not published");
    expect_true(va.info.seq == 1 && vb.info.seq == 2 && va.len == 32 && va.data[31] == 7, "views hold their frames");
    expect(dbshm_u8_unpin(pa, &va), DBSHM_OK, "unpin frame 1");
    expect_true(va.data == NULL && va.len == 0, "unpin clears the view");
    expect(dbshm_u8_unpin(pa, &va), DBSHM_OK, "a second unpin does nothing");
    expect(dbshm_u8_write(pw, buf, 32), DBSHM_OK, "write after a pin is let go");
    expect(dbshm_u8_unpin(pb, &vb), DBSHM_OK, "unpin frame 2");
    expect(dbshm_u8_unpin(NULL, &vb), DBSHM_ERR_INVALID_ARGUMENT, "unpin: NULL handle");
    dbshm_u8_view theirs;
    expect(dbshm_u8_pin(pa, &theirs), DBSHM_OK, "pin through one handle");
    expect(dbshm_u8_unpin(pb, &theirs), DBSHM_ERR_INVALID_ARGUMENT, "unpin through another handle");
    expect_true(theirs.data != NULL, "a refused unpin left the view");
    expect(dbshm_u8_unpin(pa, &theirs), DBSHM_OK, "unpin through its own handle");
    expect(dbshm_u8_pin(pb, NULL), DBSHM_ERR_INVALID_ARGUMENT, "pin: NULL view");
    dbshm_u8_free(pa);
    dbshm_u8_free(pb);
    dbshm_u8_free(pw);
    dbshm_unlink(n_pins);

    /* DBSHM_ERR_INCOMPATIBLE: a foreign object under the name. */
    const char *n_foreign = name(prefix, "foreign");
    char path[300];
    snprintf(path, sizeof path, "/%s", n_foreign);
    int fd = shm_open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
    uint8_t garbage[4096];
    memset(garbage, 0xAB, sizeof garbage);
    expect_true(fd >= 0 && write(fd, garbage, sizeof garbage) == (ssize_t)sizeof garbage, "make a foreign object");
    close(fd);
    expect(dbshm_u8_open(n_foreign, &h), DBSHM_ERR_INCOMPATIBLE, "open a foreign object");
    expect(dbshm_unlink(n_foreign), DBSHM_ERR_INCOMPATIBLE, "unlink refuses a foreign object");
    shm_unlink(path);

    /* DBSHM_ERR_PERMISSION_DENIED: a user without access. As root, a child
     * that becomes nobody opens the 0600 segment; otherwise the owner opens
     * it after taking its own permissions away. */
    if (geteuid() != 0) {
        snprintf(path, sizeof path, "/dev/shm/%s", n_main);
        expect_true(chmod(path, 0) == 0, "chmod the segment to 0");
    }
    fflush(stdout);
    child = fork();
    if (child == 0) {
        if (geteuid() == 0 && setuid(65534) != 0) {
            _exit(3);
        }
        dbshm_u8 *denied = NULL;
        _exit(dbshm_u8_open(n_main, &denied) == DBSHM_ERR_PERMISSION_DENIED ? 0 : 1);
    }
    waitpid(child, &wstatus, 0);
    expect_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "a user without access gets PERMISSION_DENIED");

    /* A directory where the segment's file would be is no segment. */
    const char *n_dir = name(prefix, "dir");
    snprintf(path, sizeof path, "/dev/shm/%s", n_dir);
    expect_true(mkdir(path, 0700) == 0, "make a directory in /dev/shm");
    expect(dbshm_u8_open(n_dir, &h), DBSHM_ERR_INCOMPATIBLE, "open a directory");
    rmdir(path);

    /* A chosen directory (dbshm_options.dir): used when safe, refused otherwise. */
    char place[64] = "/tmp/dbshm-test-c-dir-XXXXXX";
    expect_true(mkdtemp(place) != NULL, "make a directory for segments");
    const char *n_place = name(prefix, "place");
    dbshm_options in_place = {0};
    in_place.dir = place;
    dbshm_u8 *p = NULL;
    expect(dbshm_u8_create_with(n_place, shape, 2, &in_place, &p), DBSHM_OK, "create in a chosen directory");
    snprintf(path, sizeof path, "%s/%s", place, n_place);
    expect_true(access(path, F_OK) == 0, "the segment is in the chosen directory");
    snprintf(path, sizeof path, "/dev/shm/%s", n_place);
    expect_true(access(path, F_OK) != 0, "and not in /dev/shm");
    dbshm_u8 *q = NULL;
    in_place.read_only = 1;
    expect(dbshm_u8_open_with(n_place, &in_place, &q), DBSHM_OK, "open read-only in the chosen directory");
    dbshm_u8_free(q);
    dbshm_u8_free(p);
    expect(dbshm_unlink_in(place, n_place), DBSHM_OK, "unlink_in the chosen directory");
    expect(dbshm_unlink_in(place, n_place), DBSHM_ERR_NOT_FOUND, "unlink_in again");
    chmod(place, 0777);
    expect(dbshm_u8_create_with(n_place, shape, 2, &in_place, &h), DBSHM_ERR_INVALID_ARGUMENT,
           "create in a world-writable directory");
    expect_true(strstr(dbshm_last_error(), "not sticky") && strstr(dbshm_last_error(), place),
                "the message names the directory and why");
    in_place.dir = "/nonexistent/dbshm";
    expect(dbshm_u8_create_with(n_place, shape, 2, &in_place, &h), DBSHM_ERR_INVALID_ARGUMENT,
           "create in a missing directory");
    expect(dbshm_unlink_in(place, n_place), DBSHM_ERR_INVALID_ARGUMENT, "unlink_in a world-writable directory");
    rmdir(place);

    /* DBSHM_ERR_OS: a segment larger than all of /dev/shm (1 TiB). */
    const size_t terabyte[1] = {(size_t)1 << 40};
    expect(dbshm_u8_create(name(prefix, "huge"), terabyte, 1, &h), DBSHM_ERR_OS, "create a 1 TiB segment");

    /* dbshm_status_str, dbshm_version */
    expect_true(strcmp(dbshm_status_str(DBSHM_ERR_WRITER_BUSY), "DBSHM_ERR_WRITER_BUSY") == 0, "status_str");
    expect_true(strcmp(dbshm_status_str(999), "unknown status") == 0, "status_str of a garbage value");
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", DBSHM_VERSION_MAJOR, DBSHM_VERSION_MINOR, DBSHM_VERSION_PATCH);
    expect_true(strcmp(dbshm_version(), version) == 0, "dbshm_version matches the macros");

    expect_true(h == SENTINEL, "no failed call wrote *out");
    dbshm_u8_free(w);
    for (int i = 0; i < nnames; i++) {
        dbshm_unlink(names[i]);
    }
    printf("{\"checked\":%d,\"failed\":%d}\n", checked, failed);
    return failed == 0 ? 0 : 1;
}
