// The rule applied to a spike list in a plain loop over synapses grouped by
// target, written by hand in two ways: the lower bound that the benchmark
// compares every implementation with (the faster of the two).
//
// - branching: the loop skips the siblings that give nothing (w_k <= x);
// - branch-free: every sibling computes its gift, zero when w_k <= x, which
//   the compiler can vectorise.
//
// Both run on the same initial values; the output is the branch-free loop's.
//
// Usage: floor INPUT OUTPUT
// INPUT (native byte order): int64 M, N, n_synapses, n_spikes; double W0, eta;
//       int32 source[n_spikes] in delivery order;
//       int64 offsets[N + 1]: the synapses onto target j are slots
//             offsets[j] .. offsets[j + 1] - 1;
//       int64 out_offsets[M + 1]: the synapses of source i are entries
//             out_offsets[i] .. out_offsets[i + 1] - 1 of the next two arrays,
//             in delivery order;
//       int32 out_target[n_synapses]; int64 out_slot[n_synapses];
//       double w[n_synapses] (by slot); double pool[N].
// OUTPUT: double w[n_synapses] (by slot), pool[N], received[N] (sum of the
//         new weights per target).
// Prints the seconds spent in each loop, branching then branch-free, and the
// largest difference between their final weights and pools.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <vector>

template <typename T>
static bool read_all(FILE* f, std::vector<T>& data)
{
    return fread(data.data(), sizeof(T), data.size(), f) == data.size();
}

// Applies the rule to every spike in order; returns the seconds it took.
// Branching: skip the siblings that give nothing; else give them zero.
template <bool Branching>
static double apply(const std::vector<int32_t>& source, const std::vector<int64_t>& offsets,
                    const std::vector<int64_t>& out_offsets, const std::vector<int32_t>& out_target,
                    const std::vector<int64_t>& out_slot, const double W0, const double eta,
                    std::vector<double>& w, std::vector<double>& pool, std::vector<double>& received)
{
    const auto start = std::chrono::steady_clock::now();
    for (const int32_t i : source)
    {
        for (int64_t e = out_offsets[i]; e < out_offsets[i + 1]; e++)
        {
            const int64_t j = out_target[e];
            double* const column = w.data() + offsets[j];
            const int64_t n = offsets[j + 1] - offsets[j];
            double* const own = w.data() + out_slot[e];
            const double x = *own;
            double gain = 0.0;
            for (int64_t k = 0; k < n; k++)
            {
                const double wk = column[k];
                if (Branching)
                {
                    if (wk > x)
                    {
                        const double d = wk * ((wk - x) / (W0 + wk));
                        column[k] = wk - d;
                        gain += d;
                    }
                }
                else
                {
                    const double d = (wk > x) * (wk * ((wk - x) / (W0 + wk)));
                    column[k] = wk - d;
                    gain += d;
                }
            }
            const double from_pool = eta * pool[j];
            *own = x + gain + from_pool;
            pool[j] -= from_pool;
            received[j] += *own;
        }
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int main(int argc, char** argv)
{
    if (argc != 3)
    {
        fprintf(stderr, "usage: floor INPUT OUTPUT\n");
        return 2;
    }
    FILE* in = fopen(argv[1], "rb");
    if (!in)
    {
        fprintf(stderr, "floor: cannot open %s\n", argv[1]);
        return 1;
    }
    std::vector<int64_t> header(4);
    std::vector<double> params(2);
    if (!read_all(in, header) || !read_all(in, params))
    {
        fprintf(stderr, "floor: %s is too short\n", argv[1]);
        return 1;
    }
    const int64_t M = header[0], N = header[1], n_synapses = header[2], n_spikes = header[3];
    const double W0 = params[0], eta = params[1];
    std::vector<int32_t> source(n_spikes), out_target(n_synapses);
    std::vector<int64_t> offsets(N + 1), out_offsets(M + 1), out_slot(n_synapses);
    std::vector<double> w(n_synapses), pool(N), received(N, 0.0);
    if (!read_all(in, source) || !read_all(in, offsets) || !read_all(in, out_offsets) ||
        !read_all(in, out_target) || !read_all(in, out_slot) || !read_all(in, w) ||
        !read_all(in, pool))
    {
        fprintf(stderr, "floor: %s is too short\n", argv[1]);
        return 1;
    }
    fclose(in);

    const std::vector<double> w_init(w), pool_init(pool);
    const double branching = apply<true>(source, offsets, out_offsets, out_target, out_slot, W0, eta, w, pool, received);
    const std::vector<double> w_branching(w), pool_branching(pool);
    w = w_init;
    pool = pool_init;
    std::fill(received.begin(), received.end(), 0.0);
    const double branch_free = apply<false>(source, offsets, out_offsets, out_target, out_slot, W0, eta, w, pool, received);
    double difference = 0.0;
    for (int64_t k = 0; k < n_synapses; k++)
        difference = std::fmax(difference, std::fabs(w[k] - w_branching[k]));
    for (int64_t j = 0; j < N; j++)
        difference = std::fmax(difference, std::fabs(pool[j] - pool_branching[j]));

    FILE* out = fopen(argv[2], "wb");
    if (!out || fwrite(w.data(), sizeof(double), n_synapses, out) != (size_t)n_synapses ||
        fwrite(pool.data(), sizeof(double), N, out) != (size_t)N ||
        fwrite(received.data(), sizeof(double), N, out) != (size_t)N || fclose(out) != 0)
    {
        fprintf(stderr, "floor: cannot write %s\n", argv[2]);
        return 1;
    }
    printf("%.9f %.9f %.3e\n", branching, branch_free, difference);
    return 0;
}
