// Separable filters over image tables: OpenCV's fixed-point Gaussian (Q8 row pass into a
// uint16 buffer, Q8 column pass rounded from Q16) and min/max morphology with the border
// ignored. One launch per pass for a whole batch or variable-shape list.
#include "common.cuh"

// Row pass: tmp(y, x) = sum_k k[k] * src(y, border(x + k - r)), Q8 (fits uint16).
extern "C" __global__ void gauss_rows(const long long* table, int n, int cin, int cout,
                                      const int* kx, int ksize, int border) {
    PIXEL_PROLOGUE(table, n);
    const u8* sr = row_ptr<u8>(s, y);
    unsigned short* dr = row_ptr<unsigned short>(d, y) + x * cout;
    const int r = ksize / 2;
    for (int c = 0; c < cin; c++) {
        unsigned int acc = 0;
        for (int k = 0; k < ksize; k++) {
            const int sx = border_index(x + k - r, s.w, border);
            if (sx >= 0) acc += (unsigned int)kx[k] * sr[sx * cin + c];
        }
        dr[c] = (unsigned short)acc;
    }
}

// Column pass: dst(y, x) = round(sum_k k[k] * tmp(border(y + k - r), x) / 2^16).
extern "C" __global__ void gauss_cols(const long long* table, int n, int cin, int cout,
                                      const int* ky, int ksize, int border) {
    PIXEL_PROLOGUE(table, n);
    const int r = ksize / 2;
    u8* dr = row_ptr<u8>(d, y) + x * cout;
    for (int c = 0; c < cin; c++) {
        unsigned long long acc = 0;
        for (int k = 0; k < ksize; k++) {
            const int sy = border_index(y + k - r, s.h, border);
            if (sy >= 0) acc += (unsigned long long)ky[k] * row_ptr<unsigned short>(s, sy)[x * cin + c];
        }
        const unsigned long long v = (acc + (1ull << 15)) >> 16;
        dr[c] = (u8)(v > 255ull ? 255ull : v);
    }
}

// Morphology pass along x (horizontal) or y: min (erode) or max (dilate) over the
// in-image part of the window, as OpenCV's default border does.
extern "C" __global__ void morph_pass(const long long* table, int n, int cin, int cout,
                                      int radius, int horizontal, int dilate) {
    PIXEL_PROLOGUE(table, n);
    u8* dr = row_ptr<u8>(d, y) + x * cout;
    for (int c = 0; c < cin; c++) {
        int v = dilate ? 0 : 255;
        const int lo = max((horizontal ? x : y) - radius, 0);
        const int hi = min((horizontal ? x : y) + radius, (horizontal ? s.w : s.h) - 1);
        for (int p = lo; p <= hi; p++) {
            const int px = horizontal ? row_ptr<u8>(s, y)[p * cin + c] : row_ptr<u8>(s, p)[x * cin + c];
            v = dilate ? max(v, px) : min(v, px);
        }
        dr[c] = (u8)v;
    }
}

// out = (fg * m + bg * (255 - m) + 127) / 255: the exact nearest integer (never a tie).
extern "C" __global__ void composite(const long long* table, int n, int cin, int cout) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const Img f = img_at(table, n, 0, blockIdx.z);
    const Img d = img_at(table, n, 1, blockIdx.z);
    const Img b = img_at(table, n, 2, blockIdx.z);
    const Img m = img_at(table, n, 3, blockIdx.z);
    if (x >= d.w || y >= d.h) return;
    const int a = row_ptr<u8>(m, y)[x];
    const u8* fp = row_ptr<u8>(f, y) + x * cin;
    const u8* bp = row_ptr<u8>(b, y) + x * cin;
    u8* dp = row_ptr<u8>(d, y) + x * cout;
    for (int c = 0; c < cin; c++)
        dp[c] = (u8)((fp[c] * a + bp[c] * (255 - a) + 127) / 255);
}

// Binary threshold of a mask: 255 where m >= cut, else 0.
extern "C" __global__ void threshold(const long long* table, int n, int cin, int cout, int cut) {
    PIXEL_PROLOGUE(table, n);
    const u8* sp = row_ptr<u8>(s, y) + x * cin;
    u8* dp = row_ptr<u8>(d, y) + x * cout;
    for (int c = 0; c < cin; c++) dp[c] = sp[c] >= cut ? 255 : 0;
}
