// cv2.resize sampling shared by resize.cu (resize, letterbox) and tensor.cu (tensor_to_mask).
// Mirrors ops/_resample.py line by line; explicit _rn intrinsics keep the compiler from
// contracting a*b+c into FMAs, so GPU == NumPy bit for bit (uint8) and float ops round alike.
// Sources are read through an accessor `src.at(y, x, c)` (int for uint8, float for float).
#pragma once
#include "common.cuh"

#define INTERP_NEAREST 0
#define INTERP_LINEAR 1
#define INTERP_AREA 3
#define MODE_COPY 0
#define MODE_NEAREST 1
#define MODE_LINEAR 2
#define MODE_AREA_LINEAR 3
#define MODE_AREA_FAST 4
#define MODE_AREA 5
#define RS_DBL_EPSILON 2.220446049250313080847e-16

struct Plan { int mode, kx, ky; };

// cv::hal::resize's choice of algorithm for one image (ops/_resample.choose_mode).
__device__ __forceinline__ Plan choose_mode(int sh, int sw, int dh, int dw, int interp) {
    Plan p; p.mode = MODE_LINEAR; p.kx = 1; p.ky = 1;
    if (sh == dh && sw == dw) { p.mode = MODE_COPY; return p; }
    if (interp == INTERP_NEAREST) { p.mode = MODE_NEAREST; return p; }
    const double scale_x = __ddiv_rn(1.0, __ddiv_rn((double)dw, (double)sw));
    const double scale_y = __ddiv_rn(1.0, __ddiv_rn((double)dh, (double)sh));
    const int ix = __double2int_rn(scale_x), iy = __double2int_rn(scale_y);
    const bool fast = fabs(scale_x - (double)ix) < RS_DBL_EPSILON &&
                      fabs(scale_y - (double)iy) < RS_DBL_EPSILON;
    if (interp == INTERP_LINEAR && fast && ix == 2 && iy == 2) interp = INTERP_AREA;
    if (interp == INTERP_AREA && scale_x >= 1.0 && scale_y >= 1.0) {
        p.mode = fast ? MODE_AREA_FAST : MODE_AREA; p.kx = ix; p.ky = iy; return p;
    }
    p.mode = interp == INTERP_AREA ? MODE_AREA_LINEAR : MODE_LINEAR;
    return p;
}

struct Tap { int i0, i1; float f; };

// OpenCV's bilinear tap of output coordinate d (ops/_resample.linear_taps).
__device__ __forceinline__ Tap linear_tap(int d, int src, int dst, bool area, bool clamp) {
    const double inv = __ddiv_rn((double)dst, (double)src);
    const double scale = __ddiv_rn(1.0, inv);
    int s; float f;
    if (!area) {
        f = __double2float_rn(__dadd_rn(__dmul_rn((double)d + 0.5, scale), -0.5));
        s = (int)floorf(f);
        f = __fsub_rn(f, (float)s);
    } else {
        s = (int)floor(__dmul_rn((double)d, scale));
        f = __double2float_rn(__dsub_rn((double)(d + 1), __dmul_rn((double)(s + 1), inv)));
        f = f <= 0.f ? 0.f : __fsub_rn(f, floorf(f));
    }
    if (clamp) {
        if (s < 0 || s >= src - 1) f = 0.f;
        s = min(max(s, 0), src - 1);
    }
    Tap t;
    t.i0 = min(max(s, 0), src - 1);
    t.i1 = min(max(s + 1, 0), src - 1);
    t.f = f;
    return t;
}

__device__ __forceinline__ int fixed0(float f) { return __float2int_rn(__fmul_rn(__fsub_rn(1.f, f), 2048.f)); }
__device__ __forceinline__ int fixed1(float f) { return __float2int_rn(__fmul_rn(f, 2048.f)); }

// computeResizeAreaTab for one output coordinate, walked tap by tap.
struct AreaAxis { double fs1, fs2, cell; int s1, s2, n; bool lo; };

__device__ __forceinline__ AreaAxis area_axis(int d, int src, int dst) {
    AreaAxis a;
    const double scale = __ddiv_rn(1.0, __ddiv_rn((double)dst, (double)src));
    a.fs1 = __dmul_rn((double)d, scale);
    a.fs2 = __dadd_rn(a.fs1, scale);
    a.cell = fmin(scale, __dsub_rn((double)src, a.fs1));
    a.s1 = (int)ceil(a.fs1);
    a.s2 = min((int)floor(a.fs2), src - 1);
    a.s1 = min(a.s1, a.s2);
    a.lo = __dsub_rn((double)a.s1, a.fs1) > 1e-3;
    const bool hi = __dsub_rn(a.fs2, (double)a.s2) > 1e-3;
    a.n = (a.lo ? 1 : 0) + (a.s2 - a.s1) + (hi ? 1 : 0);
    return a;
}

__device__ __forceinline__ void area_tap(const AreaAxis& a, int j, int& idx, float& w) {
    if (a.lo) {
        if (j == 0) {
            idx = a.s1 - 1;
            w = __double2float_rn(__ddiv_rn(__dsub_rn((double)a.s1, a.fs1), a.cell));
            return;
        }
        j -= 1;
    }
    if (j < a.s2 - a.s1) { idx = a.s1 + j; w = __double2float_rn(__ddiv_rn(1.0, a.cell)); return; }
    idx = a.s2;
    w = __double2float_rn(__ddiv_rn(fmin(fmin(__dsub_rn(a.fs2, (double)a.s2), 1.0), a.cell), a.cell));
}

// Channel c of the fractional box average at one output pixel, accumulated in float in
// OpenCV's order (each source row across, then rows down).
template <typename Src>
__device__ __forceinline__ float area_box(const Src& src, const AreaAxis& ax, const AreaAxis& ay,
                                          int c) {
    float acc = 0.f;
    for (int j = 0; j < ay.n; ++j) {
        int sy; float wy;
        area_tap(ay, j, sy, wy);
        float buf = 0.f;
        for (int i = 0; i < ax.n; ++i) {
            int sx; float wx;
            area_tap(ax, i, sx, wx);
            buf = __fadd_rn(buf, __fmul_rn((float)src.at(sy, sx, c), wx));
        }
        acc = __fadd_rn(acc, __fmul_rn(buf, wy));
    }
    return acc;
}

__device__ __forceinline__ int nearest_index(int d, int src, int dst) {
    const double ifx = __ddiv_rn(1.0, __ddiv_rn((double)dst, (double)src));
    return min((int)floor(__dmul_rn((double)d, ifx)), src - 1);
}

// One output pixel (x, y) of resizing an sh x sw source to dh x dw; cn channels -> out[c].
// uint8 arithmetic (fixed point / integer area) as OpenCV's 8-bit paths.
template <typename Src>
__device__ void resample_u8(const Src& src, int sh, int sw, int dh, int dw, int x, int y,
                            int cn, int interp, u8* out) {
    const Plan p = choose_mode(sh, sw, dh, dw, interp);
    if (p.mode == MODE_COPY || p.mode == MODE_NEAREST) {
        const int sx = p.mode == MODE_COPY ? x : nearest_index(x, sw, dw);
        const int sy = p.mode == MODE_COPY ? y : nearest_index(y, sh, dh);
        for (int c = 0; c < cn; ++c) out[c] = (u8)src.at(sy, sx, c);
    } else if (p.mode == MODE_AREA_FAST) {
        const float scale = __double2float_rn(1.0 / (double)(p.kx * p.ky));
        for (int c = 0; c < cn; ++c) {
            int sum = 0;
            for (int j = 0; j < p.ky; ++j)
                for (int i = 0; i < p.kx; ++i) sum += src.at(y * p.ky + j, x * p.kx + i, c);
            int v = (p.kx == 2 && p.ky == 2) ? (sum + 2) >> 2
                                             : __float2int_rn(__fmul_rn((float)sum, scale));
            out[c] = (u8)min(max(v, 0), 255);
        }
    } else if (p.mode == MODE_AREA) {
        const AreaAxis ax = area_axis(x, sw, dw), ay = area_axis(y, sh, dh);
        for (int c = 0; c < cn; ++c)
            out[c] = (u8)min(max(__float2int_rn(area_box(src, ax, ay, c)), 0), 255);
    } else {
        const bool area = p.mode == MODE_AREA_LINEAR;
        const Tap tx = linear_tap(x, sw, dw, area, true);
        const Tap ty = linear_tap(y, sh, dh, area, false);
        const int a0 = fixed0(tx.f), a1 = fixed1(tx.f), b0 = fixed0(ty.f), b1 = fixed1(ty.f);
        for (int c = 0; c < cn; ++c) {
            const int h0 = src.at(ty.i0, tx.i0, c) * a0 + src.at(ty.i0, tx.i1, c) * a1;
            const int h1 = src.at(ty.i1, tx.i0, c) * a0 + src.at(ty.i1, tx.i1, c) * a1;
            const int v = (((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16) + 2) >> 2;
            out[c] = (u8)min(max(v, 0), 255);
        }
    }
}

// Same for float sources (float32 arithmetic as OpenCV's 32F paths).
template <typename Src>
__device__ void resample_f32(const Src& src, int sh, int sw, int dh, int dw, int x, int y,
                             int cn, int interp, float* out) {
    const Plan p = choose_mode(sh, sw, dh, dw, interp);
    if (p.mode == MODE_COPY || p.mode == MODE_NEAREST) {
        const int sx = p.mode == MODE_COPY ? x : nearest_index(x, sw, dw);
        const int sy = p.mode == MODE_COPY ? y : nearest_index(y, sh, dh);
        for (int c = 0; c < cn; ++c) out[c] = src.at(sy, sx, c);
    } else if (p.mode == MODE_AREA_FAST) {
        const float scale = __double2float_rn(1.0 / (double)(p.kx * p.ky));
        for (int c = 0; c < cn; ++c) {
            float sum = 0.f;
            for (int j = 0; j < p.ky; ++j)
                for (int i = 0; i < p.kx; ++i)
                    sum = __fadd_rn(sum, src.at(y * p.ky + j, x * p.kx + i, c));
            out[c] = __fmul_rn(sum, scale);
        }
    } else if (p.mode == MODE_AREA) {
        const AreaAxis ax = area_axis(x, sw, dw), ay = area_axis(y, sh, dh);
        for (int c = 0; c < cn; ++c) out[c] = area_box(src, ax, ay, c);
    } else {
        const bool area = p.mode == MODE_AREA_LINEAR;
        const Tap tx = linear_tap(x, sw, dw, area, true);
        const Tap ty = linear_tap(y, sh, dh, area, false);
        const float a0 = __fsub_rn(1.f, tx.f), b0 = __fsub_rn(1.f, ty.f);
        for (int c = 0; c < cn; ++c) {
            const float h0 = __fadd_rn(__fmul_rn(src.at(ty.i0, tx.i0, c), a0),
                                       __fmul_rn(src.at(ty.i0, tx.i1, c), tx.f));
            const float h1 = __fadd_rn(__fmul_rn(src.at(ty.i1, tx.i0, c), a0),
                                       __fmul_rn(src.at(ty.i1, tx.i1, c), tx.f));
            out[c] = __fadd_rn(__fmul_rn(h0, b0), __fmul_rn(h1, ty.f));
        }
    }
}
