/* Modicum's CPU-bound benchmark job: a fixed number of xorshift64 rounds (argv[1]),
 * one thread, no I/O, so its run time is pure computation and any difference
 * between two ways of running it is their overhead. Built statically
 * (scripts/build-images.sh), since the image has no C library.
 *
 * stdout (the result): the round count and the final state, deterministic.
 * stderr: the CPU and wall seconds the loop took, which the benchmark reads; they vary
 * from run to run, so do not dispute this job's results with a mediator. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(clockid_t clock) {
	struct timespec t;
	clock_gettime(clock, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	unsigned long long rounds = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000000ULL;
	double cpu0 = seconds(CLOCK_PROCESS_CPUTIME_ID), wall0 = seconds(CLOCK_MONOTONIC);
	uint64_t x = 88172645463325252ULL;
	for (unsigned long long i = 0; i < rounds; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	double cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	double wall = seconds(CLOCK_MONOTONIC) - wall0;
	printf("rounds=%llu state=%016llx\n", rounds, (unsigned long long)x);
	fprintf(stderr, "cpu_s=%.6f wall_s=%.6f\n", cpu, wall);
	return 0;
}
