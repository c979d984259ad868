// Shared by every kernel: image-table access and border index mapping.
#pragma once

typedef unsigned char u8;

// One image of an image table (see ops/_gpu.py): base pointer, size, row stride in bytes.
struct Img {
    u8* p;
    int h;
    int w;
    long long stride;
};

// Slot `slot` of the table holds rows ptr, h, w, stride, each of n entries.
__device__ __forceinline__ Img img_at(const long long* table, int n, int slot, int i) {
    Img r;
    r.p = reinterpret_cast<u8*>(table[(slot * 4 + 0) * n + i]);
    r.h = static_cast<int>(table[(slot * 4 + 1) * n + i]);
    r.w = static_cast<int>(table[(slot * 4 + 2) * n + i]);
    r.stride = table[(slot * 4 + 3) * n + i];
    return r;
}

// The prologue of every one-thread-per-output-pixel kernel: declares x, y (the pixel),
// s and d (table slots 0 and 1 of image blockIdx.z) and returns when (x, y) lies outside d.
#define PIXEL_PROLOGUE(table, n)                                  \
    const int x = blockIdx.x * blockDim.x + threadIdx.x;          \
    const int y = blockIdx.y * blockDim.y + threadIdx.y;          \
    const Img s = img_at(table, n, 0, blockIdx.z);                \
    const Img d = img_at(table, n, 1, blockIdx.z);                \
    if (x >= d.w || y >= d.h) return

template <typename T>
__device__ __forceinline__ T* row_ptr(const Img& im, int y) {
    return reinterpret_cast<T*>(im.p + static_cast<long long>(y) * im.stride);
}

// Border codes equal OpenCV's BORDER_* values (ops/_border.py holds the same table).
#define BORDER_CONSTANT 0
#define BORDER_REPLICATE 1
#define BORDER_REFLECT 2
#define BORDER_WRAP 3
#define BORDER_REFLECT101 4

// Map a coordinate outside [0, len) into it the way cv::borderInterpolate does;
// -1 means "use the constant value".
__device__ __forceinline__ int border_index(int p, int len, int mode) {
    if (p >= 0 && p < len) return p;
    if (mode == BORDER_CONSTANT) return -1;
    if (mode == BORDER_REPLICATE) return p < 0 ? 0 : len - 1;
    if (len == 1) return 0;
    if (mode == BORDER_WRAP) {
        p %= len;
        return p < 0 ? p + len : p;
    }
    int delta = (mode == BORDER_REFLECT101) ? 1 : 0;
    do {
        if (p < 0) p = -p - 1 + delta;
        else p = len - 1 - (p - len) - delta;
    } while (p < 0 || p >= len);
    return p;
}

// Inline PTX: each instruction in one named function, and only here, so the CPU harness
// (kernels/cpu/cuda_on_cpu.h, which defines TVO_PTX_PORTABLE) can give it in plain C++.
#ifndef TVO_PTX_PORTABLE
// cvt.f32.f16: IEEE binary16 bits -> float (exact).
__device__ __forceinline__ float half_to_float(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
#endif
