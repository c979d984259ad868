// image_to_tensor (uint8 HWC -> NCHW via per-channel 256-entry tables) and tensor_to_mask
// (activation at the resize taps -> bilinear float resize -> uint8), grid z = image.
#include "resample.cuh"

template <typename T>
__device__ void to_tensor(const long long* table, int n, int cn, const T* lut, T* out, int swap) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const Img s = img_at(table, n, 0, blockIdx.z);
    if (x >= s.w || y >= s.h) return;
    const u8* sp = row_ptr<const u8>(s, y) + x * cn;
    const long long plane = (long long)s.h * s.w;
    T* o = out + (long long)blockIdx.z * cn * plane + (long long)y * s.w + x;
    for (int c = 0; c < cn; ++c) {
        const int sc = (swap && (c == 0 || c == 2)) ? 2 - c : c;
        o[c * plane] = lut[c * 256 + sp[sc]];
    }
}

extern "C" __global__ void to_tensor_f32(const long long* table, int n, int cin, int cout,
                                         const float* lut, float* out, int swap) {
    to_tensor<float>(table, n, cin, lut, out, swap);
}

// float16 values travel as their 16-bit patterns (the table is already float16).
extern "C" __global__ void to_tensor_f16(const long long* table, int n, int cin, int cout,
                                         const unsigned short* lut, unsigned short* out, int swap) {
    to_tensor<unsigned short>(table, n, cin, lut, out, swap);
}

#define ACT_NONE 0
#define ACT_SIGMOID 1
#define ACT_SOFTMAX 2
#define ACT_ARGMAX 3

// Probability of `channel` at tensor pixel (roi_y + y, roi_x + x) of image i.
struct ActSrc {
    const void* t;
    int k, h, w, half, rx, ry, act, channel;
    long long base;
    __device__ __forceinline__ float logit(int kk, int y, int x) const {
        const long long o = base + ((long long)kk * h + y) * w + x;
        return half ? half_to_float(static_cast<const unsigned short*>(t)[o])
                    : static_cast<const float*>(t)[o];
    }
    __device__ float at(int y, int x, int) const {
        y += ry; x += rx;
        const float v = logit(channel, y, x);
        if (act == ACT_SIGMOID) return __fdiv_rn(1.f, __fadd_rn(1.f, expf(-v)));
        if (act == ACT_NONE) return fminf(fmaxf(v, 0.f), 1.f);
        float m = logit(0, y, x);
        int arg = 0;
        for (int kk = 1; kk < k; ++kk) {
            const float u = logit(kk, y, x);
            if (u > m) { m = u; arg = kk; }
        }
        if (act == ACT_ARGMAX) return arg == channel ? 1.f : 0.f;
        float sum = 0.f;
        for (int kk = 0; kk < k; ++kk) sum = __fadd_rn(sum, expf(__fsub_rn(logit(kk, y, x), m)));
        return __fdiv_rn(expf(__fsub_rn(v, m)), sum);
    }
};

// roi: int32 (4, n) rows x, y, w, h; threshold < 0: none.
extern "C" __global__ void tensor_to_mask(const long long* table, int n, int k, int cout,
                                          const void* t, int th, int tw, int half,
                                          const int* roi, int act, int channel, float threshold,
                                          float contrast) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const int i = blockIdx.z;
    const Img d = img_at(table, n, 0, i);
    if (x >= d.w || y >= d.h) return;
    ActSrc src;
    src.t = t; src.k = k; src.h = th; src.w = tw; src.half = half;
    src.rx = roi[i]; src.ry = roi[n + i]; src.act = act; src.channel = channel;
    src.base = (long long)i * k * th * tw;
    const int rw = roi[2 * n + i], rh = roi[3 * n + i];
    float p;
    resample_f32(src, rh, rw, d.h, d.w, x, y, 1, INTERP_LINEAR, &p);
    u8 v;
    if (threshold >= 0.f) {
        v = p >= threshold ? 255 : 0;
    } else {
        // The soft mask's contrast: p stretched around 0.5 (1: as it is), then clipped.
        if (contrast != 1.f) p = fminf(fmaxf(__fadd_rn(__fmul_rn(__fsub_rn(p, 0.5f), contrast), 0.5f), 0.f), 1.f);
        v = (u8)min(max(__float2int_rn(__fmul_rn(p, 255.f)), 0), 255);
    }
    row_ptr<u8>(d, y)[x] = v;
}
