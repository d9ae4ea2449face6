/* Small frames through the C ABI: the cost of dbshm_u8_write and
 * dbshm_u8_read of one frame of N bytes (default 64), best of 7 runs of
 * 200,000 calls. Its Rust counterpart is benchmarks/src/bin/small_frames.rs;
 * BENCHMARKS.md ("Small frames from C and from Rust") says how to run both.
 *
 *   cargo rustc --release -p dbshm --features capi --lib --crate-type cdylib
 *   make -C examples-c
 *   cc -O2 -Iinclude benchmarks/c/small_frames.c -Ltarget/release -ldbshm \
 *      -Wl,-rpath,$PWD/target/examples-c -o target/small_frames_c
 *   target/small_frames_c 64
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dbshm.h"
static double now(void){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec*1e9+t.tv_nsec;}
int main(int argc, char **argv){
  size_t n = argc > 1 ? strtoul(argv[1],0,10) : 64;
  char name[64]; snprintf(name, sizeof name, "dbshm-cbench-%d", getpid());
  size_t shape[1] = {n};
  dbshm_u8 *h = NULL;
  if (dbshm_u8_create(name, shape, 1, &h) != DBSHM_OK) { fprintf(stderr, "%s\n", dbshm_last_error()); return 1; }
  unsigned char *buf = calloc(n, 1), *out = malloc(n);
  dbshm_frame_info info;
  const int N = 200000;
  double best_w = 1e18, best_r = 1e18;
  for (int round = 0; round < 7; round++) {
    double t0 = now();
    for (int i = 0; i < N; i++) dbshm_u8_write(h, buf, n);
    double t1 = now();
    for (int i = 0; i < N; i++) dbshm_u8_read(h, out, n, &info);
    double t2 = now();
    if ((t1-t0)/N < best_w) best_w = (t1-t0)/N;
    if ((t2-t1)/N < best_r) best_r = (t2-t1)/N;
  }
  printf("C %zu B: write %.1f ns, read %.1f ns\n", n, best_w, best_r);
  dbshm_u8_free(h); dbshm_unlink(name);
  return 0;
}
