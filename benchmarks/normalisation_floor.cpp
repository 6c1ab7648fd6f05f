// Multiplicative normalisation (eta = 1) of the weights onto one neuron at a
// time, in a plain loop over synapses grouped by target: the lower bound of
// normalisation.py.
//
// Usage: normalisation_floor INPUT OUTPUT
// INPUT (native byte order): int64 N, n_synapses, n_events; double W_total;
//       int64 offsets[N + 1] (the synapses onto target j are offsets[j] ..
//       offsets[j + 1] - 1); int32 events[n_events] (the targets to normalise,
//       in order); double w[n_synapses].
// OUTPUT: double w[n_synapses]. Prints the seconds spent in the loop.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

template <typename T>
static bool read_all(FILE* f, std::vector<T>& data)
{
    return fread(data.data(), sizeof(T), data.size(), f) == data.size();
}

int main(int argc, char** argv)
{
    if (argc != 3)
    {
        fprintf(stderr, "usage: normalisation_floor INPUT OUTPUT\n");
        return 2;
    }
    FILE* in = fopen(argv[1], "rb");
    if (!in)
    {
        fprintf(stderr, "normalisation_floor: cannot open %s\n", argv[1]);
        return 1;
    }
    std::vector<int64_t> header(3);
    std::vector<double> total(1);
    if (!read_all(in, header) || !read_all(in, total))
    {
        fprintf(stderr, "normalisation_floor: %s is too short\n", argv[1]);
        return 1;
    }
    const int64_t N = header[0], n_synapses = header[1], n_events = header[2];
    const double W_total = total[0];
    std::vector<int64_t> offsets(N + 1);
    std::vector<int32_t> events(n_events);
    std::vector<double> w(n_synapses);
    if (!read_all(in, offsets) || !read_all(in, events) || !read_all(in, w))
    {
        fprintf(stderr, "normalisation_floor: %s is too short\n", argv[1]);
        return 1;
    }
    fclose(in);
    for (int64_t e = 0; e < n_events; e++)
    {
        if (events[e] < 0 || events[e] >= N)
        {
            fprintf(stderr, "normalisation_floor: event %lld names target %d of %lld\n",
                    (long long)e, events[e], (long long)N);
            return 1;
        }
    }

    const auto start = std::chrono::steady_clock::now();
    for (int64_t e = 0; e < n_events; e++)
    {
        const int64_t j = events[e];
        double* const column = w.data() + offsets[j];
        const int64_t n = offsets[j + 1] - offsets[j];
        if (n == 0)
            continue;
        double sum = 0.0;
        for (int64_t k = 0; k < n; k++)
            sum += column[k];
        const double factor = 1 + 1.0 * (W_total / sum - 1);
        for (int64_t k = 0; k < n; k++)
            column[k] = column[k] * factor;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    FILE* out = fopen(argv[2], "wb");
    if (!out || fwrite(w.data(), sizeof(double), w.size(), out) != w.size())
    {
        fprintf(stderr, "normalisation_floor: cannot write %s\n", argv[2]);
        return 1;
    }
    fclose(out);
    printf("%.9f\n", seconds);
    return 0;
}
