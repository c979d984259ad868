// Joint bilateral filter (cv2.ximgproc.jointBilateralFilter): each output pixel is the mean
// of src over a circular window, each tap weighted by its distance (space) and by the L1
// distance of its guide colour from the centre's (colour, through a lookup table). The
// arithmetic follows OpenCV's loop tap for tap, in float, so uint8 results are bit-exact.
// Image table slots: 0 src, 1 dst, 2 guide. offs holds (dy, dx) per tap, sw its space weight.
#include "common.cuh"

// uint8: lut[L1 distance] (0 .. 255 * jcn), one table for all images.
extern "C" __global__ void jbf_u8(const long long* table, int n, int cin, int cout, int jcn,
                                  const int* offs, const float* sw, int taps, const float* lut,
                                  int border) {
    PIXEL_PROLOGUE(table, n);
    const Img g = img_at(table, n, 2, blockIdx.z);
    const u8* gc = row_ptr<u8>(g, y) + x * jcn;
    int g0[3] = {0, 0, 0};
    for (int c = 0; c < jcn; c++) g0[c] = gc[c];
    float acc[3] = {0.f, 0.f, 0.f};
    float wsum = 0.f;
    for (int k = 0; k < taps; k++) {
        const int sy = border_index(y + offs[2 * k], s.h, border);
        const int sx = border_index(x + offs[2 * k + 1], s.w, border);
        const bool inside = sy >= 0 && sx >= 0;   // else the constant border: value 0
        int dist = 0;
        for (int c = 0; c < jcn; c++) dist += abs(g0[c] - (inside ? row_ptr<u8>(g, sy)[sx * jcn + c] : 0));
        const float w = sw[k] * lut[dist];
        for (int c = 0; c < cin; c++)
            acc[c] += w * (float)(inside ? row_ptr<u8>(s, sy)[sx * cin + c] : 0);
        wsum += w;
    }
    const float inv = 1.f / wsum;
    u8* dr = row_ptr<u8>(d, y) + x * cout;
    for (int c = 0; c < cin; c++) {
        const int v = __float2int_rn(acc[c] * inv);
        dr[c] = (u8)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

// float32: per image, a table of bins + 2 entries over the guide's range (range: min, max
// per image, from reduce.cu), interpolated linearly as OpenCV does; scales[i] maps an L1
// distance to a table position. One thread per entry, grid z = image.
extern "C" __global__ void jbf_lut_f32(const float* range, float* luts, float* scales, int n,
                                       int jcn, int bins, double color_coeff) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int img = blockIdx.z;
    if (i >= bins + 2 || img >= n) return;
    float crange = (float)((double)range[2 * img + 1] - (double)range[2 * img]) * (float)jcn;
    crange = fmaxf(0.01f, crange);
    const float scale = (float)bins / crange;
    const double v = (double)((float)i / scale);
    luts[(long long)img * (bins + 2) + i] = (float)exp(v * v * color_coeff);
    if (i == 0) scales[img] = scale;
}

extern "C" __global__ void jbf_f32(const long long* table, int n, int cin, int cout, int jcn,
                                   const int* offs, const float* sw, int taps,
                                   const float* luts, const float* scales, int bins, int border) {
    PIXEL_PROLOGUE(table, n);
    const Img g = img_at(table, n, 2, blockIdx.z);
    const float* lut = luts + (long long)blockIdx.z * (bins + 2);
    const float scale = scales[blockIdx.z];
    const float* gc = row_ptr<float>(g, y) + x * jcn;
    float g0[3] = {0.f, 0.f, 0.f};
    for (int c = 0; c < jcn; c++) g0[c] = gc[c];
    float acc[3] = {0.f, 0.f, 0.f};
    float wsum = 0.f;
    const float top = (float)(bins + 1);
    for (int k = 0; k < taps; k++) {
        const int sy = border_index(y + offs[2 * k], s.h, border);
        const int sx = border_index(x + offs[2 * k + 1], s.w, border);
        const bool inside = sy >= 0 && sx >= 0;
        float a = 0.f;
        for (int c = 0; c < jcn; c++) a += fabsf(g0[c] - (inside ? row_ptr<float>(g, sy)[sx * jcn + c] : 0.f));
        a *= scale;
        // Past the table (a constant border outside the guide's range) or NaN: its last
        // entry, where OpenCV would read outside its table.
        if (!(a < top)) a = top;
        const int idx = min((int)a, bins);
        a -= (float)idx;
        const float w = sw[k] * (lut[idx] + a * (lut[idx + 1] - lut[idx]));
        for (int c = 0; c < cin; c++)
            acc[c] += w * (inside ? row_ptr<float>(s, sy)[sx * cin + c] : 0.f);
        wsum += w;
    }
    const float inv = 1.f / wsum;
    float* dr = row_ptr<float>(d, y) + x * cout;
    for (int c = 0; c < cin; c++) dr[c] = acc[c] * inv;
}
