// Per-image reductions over image tables: one block per image (grid z), the block's threads
// stride over its pixels, then reduce through shared memory.
#include "common.cuh"

#define REDUCE_THREADS 256

// out[2 i], out[2 i + 1] = min, max over every channel of float32 image i, NaN ignored (as
// fminf/fmaxf do): FLT_MAX and -FLT_MAX for an image of NaN only. Launch with block
// (REDUCE_THREADS, 1, 1).
extern "C" __global__ void minmax_f32(const long long* table, int n, int cin, float* out) {
    __shared__ float lo[REDUCE_THREADS];
    __shared__ float hi[REDUCE_THREADS];
    const Img s = img_at(table, n, 0, blockIdx.z);
    const int t = threadIdx.x;
    const long long count = (long long)s.h * s.w * cin;
    const int row = s.w * cin;
    float a = 3.402823466e+38f, b = -3.402823466e+38f;
    for (long long p = t; p < count; p += REDUCE_THREADS) {
        const float v = row_ptr<float>(s, (int)(p / row))[p % row];
        a = fminf(a, v);
        b = fmaxf(b, v);
    }
    lo[t] = a;
    hi[t] = b;
    __syncthreads();
    for (int step = REDUCE_THREADS / 2; step > 0; step /= 2) {
        if (t < step) {
            lo[t] = fminf(lo[t], lo[t + step]);
            hi[t] = fmaxf(hi[t], hi[t + step]);
        }
        __syncthreads();
    }
    if (t == 0) {
        out[2 * blockIdx.z] = lo[0];
        out[2 * blockIdx.z + 1] = hi[0];
    }
}
