/* Seed 004's prime factorization by trial division, in C: the baseline the Rust loop of
 * the pool bench is compared with. Same algorithm as the seed: divide by every i from 2
 * to the square root of the original n, keeping the factors. Returns a checksum of the
 * factors so that the compiler cannot drop the work. */
#include <math.h>
#include <stdint.h>

static uint64_t prime_factors(uint64_t n, uint64_t *factors, int *count) {
    uint64_t limit = (uint64_t)sqrt((double)n);
    uint64_t sum = 0;
    *count = 0;
    for (uint64_t i = 2; i <= limit; i++) {
        while (n % i == 0) {
            factors[(*count)++] = i;
            sum += i;
            n /= i;
        }
    }
    if (n > 2) {
        factors[(*count)++] = n;
        sum += n;
    }
    return sum;
}

uint64_t mp_bench_factor_range(uint64_t start, uint64_t end) {
    uint64_t factors[64];
    uint64_t sum = 0;
    for (uint64_t i = start; i < end; i++) {
        int count;
        sum += prime_factors(i, factors, &count);
    }
    return sum;
}
