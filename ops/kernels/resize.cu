// resize (uint8 / float32) and letterbox (fused resize + constant pad), one thread per
// output pixel, grid z = image; sampling code in resample.cuh.
#include "resample.cuh"

template <typename T>
struct ImgSrc {
    Img im;
    int cn;
    __device__ __forceinline__ T at(int y, int x, int c) const {
        return row_ptr<const T>(im, y)[x * cn + c];
    }
};

struct U8Src {
    Img im;
    int cn;
    __device__ __forceinline__ int at(int y, int x, int c) const {
        return row_ptr<const u8>(im, y)[x * cn + c];
    }
};

extern "C" __global__ void resize_u8(const long long* table, int n, int cin, int cout,
                                     int interp) {
    PIXEL_PROLOGUE(table, n);
    U8Src src; src.im = s; src.cn = cin;
    resample_u8(src, s.h, s.w, d.h, d.w, x, y, cin, interp, row_ptr<u8>(d, y) + x * cout);
}

extern "C" __global__ void resize_f32(const long long* table, int n, int cin, int cout,
                                      int interp) {
    PIXEL_PROLOGUE(table, n);
    ImgSrc<float> src; src.im = s; src.cn = cin;
    resample_f32(src, s.h, s.w, d.h, d.w, x, y, cin, interp, row_ptr<float>(d, y) + x * cout);
}

// roi: int32 (4, n) rows x, y, w, h of the content of each image.
extern "C" __global__ void letterbox_u8(const long long* table, int n, int cin, int cout,
                                        const int* roi, int v0, int v1, int v2, int v3) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const int i = blockIdx.z;
    const Img s = img_at(table, n, 0, i);
    const Img d = img_at(table, n, 1, i);
    if (x >= d.w || y >= d.h) return;
    const int rx = roi[i], ry = roi[n + i], rw = roi[2 * n + i], rh = roi[3 * n + i];
    u8* dp = row_ptr<u8>(d, y) + x * cout;
    if (x >= rx && x < rx + rw && y >= ry && y < ry + rh) {
        U8Src src; src.im = s; src.cn = cin;
        resample_u8(src, s.h, s.w, rh, rw, x - rx, y - ry, cin, INTERP_LINEAR, dp);
    } else {
        const int v[4] = {v0, v1, v2, v3};
        for (int c = 0; c < cout; ++c) dp[c] = (u8)v[c];
    }
}
