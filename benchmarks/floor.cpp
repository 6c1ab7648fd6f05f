// The rule applied to a spike list in a plain loop: the lower bound that the
// benchmark compares every implementation with.
//
// Usage: floor INPUT OUTPUT
// INPUT (native byte order): int64 M, N, n_spikes; double W0, eta;
//       int32 source[n_spikes] in delivery order;
//       double w[N*M] (the M weights onto target j at w[j*M]); double pool[N].
// OUTPUT: double w[N*M], pool[N], received[N] (sum of the new weights per target).
// Prints the seconds spent in the loop.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

static bool read_all(FILE* f, void* data, size_t size, size_t count)
{
    return fread(data, size, count, f) == count;
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
    int64_t header[3];
    double params[2];
    if (!read_all(in, header, sizeof(int64_t), 3) || !read_all(in, params, sizeof(double), 2))
    {
        fprintf(stderr, "floor: %s is too short\n", argv[1]);
        return 1;
    }
    const int64_t M = header[0], N = header[1], n_spikes = header[2];
    const double W0 = params[0], eta = params[1];
    std::vector<int32_t> source(n_spikes);
    std::vector<double> w(M * N), pool(N), received(N, 0.0);
    if (!read_all(in, source.data(), sizeof(int32_t), n_spikes) ||
        !read_all(in, w.data(), sizeof(double), M * N) ||
        !read_all(in, pool.data(), sizeof(double), N))
    {
        fprintf(stderr, "floor: %s is too short\n", argv[1]);
        return 1;
    }
    fclose(in);

    const auto start = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < n_spikes; s++)
    {
        const int64_t i = source[s];
        for (int64_t j = 0; j < N; j++)
        {
            double* const column = w.data() + j * M;
            const double x = column[i];
            double gain = 0.0;
            for (int64_t k = 0; k < M; k++)
            {
                const double wk = column[k];
                if (wk > x)
                {
                    const double d = wk * (wk - x) / (W0 + wk);
                    column[k] = wk - d;
                    gain += d;
                }
            }
            const double from_pool = eta * pool[j];
            column[i] = x + gain + from_pool;
            pool[j] -= from_pool;
            received[j] += column[i];
        }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    FILE* out = fopen(argv[2], "wb");
    if (!out || fwrite(w.data(), sizeof(double), M * N, out) != (size_t)(M * N) ||
        fwrite(pool.data(), sizeof(double), N, out) != (size_t)N ||
        fwrite(received.data(), sizeof(double), N, out) != (size_t)N || fclose(out) != 0)
    {
        fprintf(stderr, "floor: cannot write %s\n", argv[2]);
        return 1;
    }
    printf("%.9f\n", seconds);
    return 0;
}
