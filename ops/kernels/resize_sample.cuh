// Resampling shared by resize, letterbox and tensor_to_mask: the arithmetic of
// cv::resize, tap for tap (see ops/resize.py, which mirrors every line).
#pragma once
#include "common.cuh"

#define INTER_NEAREST 0
#define INTER_LINEAR 1
#define INTER_AREA 2

// scale as cv::resize derives it from the sizes: 1 / (dst / src).
__device__ __forceinline__ double inv_ratio(int src, int dst) {
    return 1.0 / ((double)dst / (double)src);
}

// One output coordinate's two source taps: indices and weights (float and 11-bit).
struct Taps {
    int s0, s1;
    float f;      // weight of s1
    int w0, w1;   // round((1 - f) * 2048), round(f * 2048)
};

// clamp_weight: the horizontal axis pins out-of-range taps to the edge with weight 0
// (cv::resize does; its vertical axis only clamps the row index).
__device__ __forceinline__ Taps linear_taps(int d, int src, int dst, bool area_mode,
                                            bool clamp_weight) {
    const double scale = inv_ratio(src, dst);
    int s;
    float f;
    if (!area_mode) {
        f = (float)((d + 0.5) * scale - 0.5);
        s = (int)floorf(f);
        f -= (float)s;
    } else {
        const double inv = (double)dst / (double)src;
        s = (int)floor(d * scale);
        f = (float)((d + 1) - (s + 1) * inv);
        f = f <= 0.f ? 0.f : f - floorf(f);
    }
    Taps t;
    if (clamp_weight) {
        if (s < 0 || s >= src - 1) f = 0.f;
        t.s0 = min(max(s, 0), src - 1);
        t.s1 = min(t.s0 + 1, src - 1);
    } else {
        t.s0 = min(max(s, 0), src - 1);
        t.s1 = min(max(s + 1, 0), src - 1);
    }
    t.f = f;
    t.w0 = __float2int_rn(__fmul_rn(1.f - f, 2048.f));
    t.w1 = __float2int_rn(__fmul_rn(f, 2048.f));
    return t;
}

__device__ __forceinline__ int nearest_index(int d, int src, int dst) {
    return min((int)floor(d * inv_ratio(src, dst)), src - 1);
}

// cv::resize's choice of path for uint8 INTER_LINEAR / INTER_AREA.
#define PATH_NEAREST 0
#define PATH_LINEAR 1        // fixed-point bilinear (area_mode taps when upscaling AREA)
#define PATH_AREA_FAST 2     // integer-factor box average
#define PATH_AREA 3          // fractional box average (float weights)

struct ResizePlan {
    int path;
    bool area_taps;
    int kx, ky;  // integer factors of PATH_AREA_FAST
};

__device__ __forceinline__ ResizePlan plan_resize(int mode, int sh, int sw, int dh, int dw) {
    ResizePlan p;
    p.area_taps = false;
    p.kx = p.ky = 1;
    if (mode == INTER_NEAREST) { p.path = PATH_NEAREST; return p; }
    const double sx = inv_ratio(sw, dw), sy = inv_ratio(sh, dh);
    const int ix = __double2int_rn(sx), iy = __double2int_rn(sy);
    const bool fast = fabs(sx - ix) < 2.220446049250313e-16 && fabs(sy - iy) < 2.220446049250313e-16;
    if (mode == INTER_LINEAR && fast && ix == 2 && iy == 2) mode = INTER_AREA;
    if (mode == INTER_AREA && sx >= 1 && sy >= 1) {
        p.path = fast ? PATH_AREA_FAST : PATH_AREA;
        p.kx = ix; p.ky = iy;
        return p;
    }
    p.path = PATH_LINEAR;
    p.area_taps = mode == INTER_AREA;
    return p;
}

// The vertical step of cv::resize's 8-bit bilinear (its SIMD formula, used on every
// column): inputs are horizontal sums scaled by 2048.
__device__ __forceinline__ u8 vlinear_u8(int h0, int h1, int b0, int b1) {
    return (u8)((((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16) + 2) >> 2);
}

// Fractional box of output index d: taps first..first+count-1, weights per position.
struct AreaSpan {
    int first, count;
    float w_first, w_mid, w_last;
    bool has_first, has_last;
};

__device__ __forceinline__ AreaSpan area_span(int d, int src, int dst) {
    const double scale = inv_ratio(src, dst);
    const double f1 = d * scale, f2 = f1 + scale;
    const double cell = fmin(scale, src - f1);
    int s1 = (int)ceil(f1), s2 = (int)floor(f2);
    s2 = min(s2, src - 1);
    s1 = min(s1, s2);
    AreaSpan a;
    a.has_first = s1 - f1 > 1e-3;
    a.has_last = f2 - s2 > 1e-3;
    a.first = a.has_first ? s1 - 1 : s1;
    a.count = (s2 - s1) + (a.has_first ? 1 : 0) + (a.has_last ? 1 : 0);
    a.w_first = (float)((s1 - f1) / cell);
    a.w_mid = (float)(1.0 / cell);
    a.w_last = (float)(fmin(fmin(f2 - s2, 1.0), cell) / cell);
    return a;
}

__device__ __forceinline__ float area_weight(const AreaSpan& a, int k) {
    if (k == 0 && a.has_first) return a.w_first;
    if (k == a.count - 1 && a.has_last) return a.w_last;
    return a.w_mid;
}

// One uint8 output pixel (all channels) of image s resized to dh x dw at (x, y).
__device__ void resize_pixel_u8(const Img& s, int dh, int dw, int x, int y, int c,
                                const ResizePlan& p, u8* out) {
    if (p.path == PATH_NEAREST) {
        const u8* sp = row_ptr<u8>(s, nearest_index(y, s.h, dh)) + nearest_index(x, s.w, dw) * c;
        for (int k = 0; k < c; k++) out[k] = sp[k];
    } else if (p.path == PATH_LINEAR) {
        const Taps tx = linear_taps(x, s.w, dw, p.area_taps, true);
        const Taps ty = linear_taps(y, s.h, dh, p.area_taps, false);
        const u8* r0 = row_ptr<u8>(s, ty.s0);
        const u8* r1 = row_ptr<u8>(s, ty.s1);
        for (int k = 0; k < c; k++) {
            const int h0 = r0[tx.s0 * c + k] * tx.w0 + r0[tx.s1 * c + k] * tx.w1;
            const int h1 = r1[tx.s0 * c + k] * tx.w0 + r1[tx.s1 * c + k] * tx.w1;
            out[k] = vlinear_u8(h0, h1, ty.w0, ty.w1);
        }
    } else if (p.path == PATH_AREA_FAST) {
        for (int k = 0; k < c; k++) {
            int sum = 0;
            for (int j = 0; j < p.ky; j++) {
                const u8* r = row_ptr<u8>(s, y * p.ky + j) + x * p.kx * c + k;
                for (int i = 0; i < p.kx; i++) sum += r[i * c];
            }
            if (p.kx == 2 && p.ky == 2) out[k] = (u8)((sum + 2) >> 2);
            else out[k] = (u8)min(max(__float2int_rn(__fmul_rn((float)sum, 1.f / (float)(p.kx * p.ky))), 0), 255);
        }
    } else {
        const AreaSpan ax = area_span(x, s.w, dw), ay = area_span(y, s.h, dh);
        for (int k = 0; k < c; k++) {
            float v = 0.f;
            for (int j = 0; j < ay.count; j++) {
                const u8* r = row_ptr<u8>(s, ay.first + j) + k;
                float b = 0.f;
                for (int i = 0; i < ax.count; i++)
                    b = __fadd_rn(b, __fmul_rn((float)r[(ax.first + i) * c], area_weight(ax, i)));
                v = __fadd_rn(v, __fmul_rn(area_weight(ay, j), b));
            }
            out[k] = (u8)min(max(__float2int_rn(v), 0), 255);
        }
    }
}

// One float output value (channel k) of image s (float HWC, c channels): bilinear with
// cv::resize's float taps, or nearest.
__device__ __forceinline__ float resize_pixel_f32(const Img& s, int dh, int dw, int x, int y,
                                                  int c, int k, bool nearest) {
    if (nearest)
        return (row_ptr<float>(s, nearest_index(y, s.h, dh)))[nearest_index(x, s.w, dw) * c + k];
    const Taps tx = linear_taps(x, s.w, dw, false, true);
    const Taps ty = linear_taps(y, s.h, dh, false, false);
    const float* r0 = row_ptr<float>(s, ty.s0);
    const float* r1 = row_ptr<float>(s, ty.s1);
    const float ax0 = 1.f - tx.f, ay0 = 1.f - ty.f;
    const float h0 = __fadd_rn(__fmul_rn(r0[tx.s0 * c + k], ax0), __fmul_rn(r0[tx.s1 * c + k], tx.f));
    const float h1 = __fadd_rn(__fmul_rn(r1[tx.s0 * c + k], ax0), __fmul_rn(r1[tx.s1 * c + k], tx.f));
    return __fadd_rn(__fmul_rn(h0, ay0), __fmul_rn(h1, ty.f));
}
