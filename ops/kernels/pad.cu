// pad: cv2.copyMakeBorder, one thread per output pixel, grid z = image.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ T from_value(float v);
template <>
__device__ __forceinline__ u8 from_value<u8>(float v) { return (u8)min(max(__float2int_rn(v), 0), 255); }
template <>
__device__ __forceinline__ float from_value<float>(float v) { return v; }

template <typename T>
__device__ void pad_px(const long long* table, int n, int cn, int top, int left, int mode,
                       float v0, float v1, float v2, float v3) {
    PIXEL_PROLOGUE(table, n);
    const int sy = border_index(y - top, s.h, mode);
    const int sx = border_index(x - left, s.w, mode);
    T* dp = row_ptr<T>(d, y) + x * cn;
    if (sy < 0 || sx < 0) {
        const float v[4] = {v0, v1, v2, v3};
        for (int c = 0; c < cn; ++c) dp[c] = from_value<T>(v[c]);
    } else {
        const T* sp = row_ptr<const T>(s, sy) + sx * cn;
        for (int c = 0; c < cn; ++c) dp[c] = sp[c];
    }
}

extern "C" __global__ void pad_u8(const long long* table, int n, int cin, int cout, int top,
                                  int left, int mode, float v0, float v1, float v2, float v3) {
    pad_px<u8>(table, n, cin, top, left, mode, v0, v1, v2, v3);
}

extern "C" __global__ void pad_f32(const long long* table, int n, int cin, int cout, int top,
                                   int left, int mode, float v0, float v1, float v2, float v3) {
    pad_px<float>(table, n, cin, top, left, mode, v0, v1, v2, v3);
}
