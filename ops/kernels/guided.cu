// Guided filter (ops/guided.py): OpenCV's cv2.ximgproc.guidedFilter arithmetic, operation
// for operation in float32 (compiled without FMA contraction), so the NumPy reference is
// matched bit for bit. Planes are interleaved per pixel: a "planes" image of P channels.
// Box means: a running float64 sum along each row (one thread per plane and row), then
// down each column (one thread per plane and column), as cv::boxFilter sums float input;
// the cost does not grow with the radius beyond the first window.
#include "common.cuh"

__device__ __forceinline__ float load_px(const Img& im, int y, int i, int bytes) {
    return bytes ? (float)row_ptr<u8>(im, y)[i] : row_ptr<float>(im, y)[i];
}

// planes(y, x) = [guide channels, src channels, guide products (OpenCV's order: 00 for a
// grey guide; 00 01 02 22 12 11 for colour), src_s * guide_c (s major)]. Slots: guide,
// planes, src. cin: guide channels; cout: planes per pixel.
extern "C" __global__ void gf_products(const long long* table, int n, int cin, int cout,
                                       int sc, int bytes) {
    PIXEL_PROLOGUE(table, n);
    const Img p = img_at(table, n, 2, blockIdx.z);
    float g[3], q[3];
    for (int c = 0; c < cin; c++) g[c] = load_px(s, y, x * cin + c, bytes);
    for (int c = 0; c < sc; c++) q[c] = load_px(p, y, x * sc + c, bytes);
    float* o = row_ptr<float>(d, y) + x * cout;
    int k = 0;
    for (int c = 0; c < cin; c++) o[k++] = g[c];
    for (int c = 0; c < sc; c++) o[k++] = q[c];
    if (cin == 1) {
        o[k++] = g[0] * g[0];
    } else {
        const int pairs[6][2] = {{0, 0}, {0, 1}, {0, 2}, {2, 2}, {1, 2}, {1, 1}};
        for (int e = 0; e < 6; e++) o[k++] = g[pairs[e][0]] * g[pairs[e][1]];
    }
    for (int t = 0; t < sc; t++)
        for (int c = 0; c < cin; c++) o[k++] = q[t] * g[c];
}

// Row pass: sums(y, x) = sum of in(y, reflect(x - r .. x + r)) in float64: the first window
// left to right, then s += (entering - leaving). x: plane; y: row.
extern "C" __global__ void box_rows(const long long* table, int n, int cin, int cout,
                                    int planes, int radius) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const Img s = img_at(table, n, 0, blockIdx.z);
    const Img d = img_at(table, n, 1, blockIdx.z);
    if (c >= planes || y >= s.h) return;
    const float* in = row_ptr<float>(s, y);
    double* out = row_ptr<double>(d, y);
    double acc = 0.0;
    for (int j = -radius; j <= radius; j++)
        acc += (double)in[border_index(j, s.w, BORDER_REFLECT) * cin + c];
    out[c] = acc;
    for (int x = 1; x < s.w; x++) {
        acc += (double)in[border_index(x + radius, s.w, BORDER_REFLECT) * cin + c]
             - (double)in[border_index(x - 1 - radius, s.w, BORDER_REFLECT) * cin + c];
        out[x * cout + c] = acc;
    }
}

// Column pass (cv::ColumnSum): S = rows -r .. r-1; per row s0 = S + row(y + r),
// mean = float(s0 * scale), S = s0 - row(y - r). Thread i: column i / planes, plane i % planes.
extern "C" __global__ void box_cols(const long long* table, int n, int cin, int cout,
                                    int planes, int radius, double scale) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const Img s = img_at(table, n, 0, blockIdx.z);
    const Img d = img_at(table, n, 1, blockIdx.z);
    const int x = i / planes, c = i % planes;
    if (x >= d.w) return;
    const int at = x * cin + c;
    double acc = 0.0;
    for (int j = -radius; j < radius; j++)
        acc += row_ptr<double>(s, border_index(j, s.h, BORDER_REFLECT))[at];
    for (int y = 0; y < d.h; y++) {
        const double s0 = acc + row_ptr<double>(s, border_index(y + radius, s.h, BORDER_REFLECT))[at];
        row_ptr<float>(d, y)[x * cout + c] = (float)(s0 * scale);
        acc = s0 - row_ptr<double>(s, border_index(y - radius, s.h, BORDER_REFLECT))[at];
    }
}

// var + eps on the covariance's diagonal, rounded as OpenCV's SSE loop ((corr + eps) - m m)
// in whole groups of 4 columns and as its scalar tail (corr - (m m - eps)) in the last w % 4.
__device__ __forceinline__ float diag_eps(float corr, float m, float eps, bool tail) {
    const float sq = m * m;
    return tail ? corr - (sq - eps) : (corr + eps) - sq;
}

// The linear model from the means of gf_products' planes: coef = [a (s major, sc x gc),
// b (sc)]. Slots: means, coef. cin: planes per pixel; cout: coefficients per pixel.
extern "C" __global__ void gf_coefficients(const long long* table, int n, int cin, int cout,
                                           int gc, int sc, float eps, int det_guard) {
    PIXEL_PROLOGUE(table, n);
    const float* m = row_ptr<float>(s, y) + x * cin;
    float* o = row_ptr<float>(d, y) + x * cout;
    const bool tail = x >= (d.w & ~3);
    const float* mi = m;
    const float* mp = m + gc;
    float inv[3][3];
    int ncov;
    if (gc == 1) {
        inv[0][0] = 1.0f / diag_eps(m[gc + sc], mi[0], eps, tail);
        ncov = 1;
    } else {
        const float* corr = m + gc + sc;  // 00 01 02 22 12 11
        float c[3][3];
        c[0][0] = diag_eps(corr[0], mi[0], eps, tail);
        c[0][1] = c[1][0] = corr[1] - mi[0] * mi[1];
        c[0][2] = c[2][0] = corr[2] - mi[0] * mi[2];
        c[2][2] = diag_eps(corr[3], mi[2], eps, tail);
        c[1][2] = c[2][1] = corr[4] - mi[1] * mi[2];
        c[1][1] = diag_eps(corr[5], mi[1], eps, tail);
        for (int k = 0; k < 3; k++)
            for (int l = 0; l <= k; l++)
                inv[k][l] = inv[l][k] = c[(k + 1) % 3][(l + 1) % 3] * c[(k + 2) % 3][(l + 2) % 3]
                                      - c[(k + 1) % 3][(l + 2) % 3] * c[(k + 2) % 3][(l + 1) % 3];
        float det = c[0][0] * inv[0][0];
        det = det + c[1][0] * inv[1][0];
        det = det + c[2][0] * inv[2][0];
        if (det_guard && fabsf(det) < 1e-6f) det = 1.0f;
        for (int k = 0; k < 3; k++)
            for (int l = 0; l < 3; l++) inv[k][l] = inv[k][l] / det;
        ncov = 6;
    }
    const float* cross = m + gc + sc + ncov;
    for (int t = 0; t < sc; t++) {
        float cov[3];
        for (int g = 0; g < gc; g++) cov[g] = cross[t * gc + g] - mp[t] * mi[g];
        for (int g = 0; g < gc; g++) {
            float a = inv[g][0] * cov[0];
            for (int k = 1; k < gc; k++) a = a + inv[g][k] * cov[k];
            o[t * gc + g] = a;
        }
    }
    for (int t = 0; t < sc; t++) {
        float b = mp[t];
        for (int g = 0; g < gc; g++) b = b - o[t * gc + g] * mi[g];
        o[sc * gc + t] = b;
    }
}

// out = mean(b) + sum_c mean(a_c) * guide_c; uint8: nearest (ties to even), saturated,
// NaN -> 0. Slots: coefficient means, out, guide. cin: coefficients per pixel; cout: src
// channels.
extern "C" __global__ void gf_apply(const long long* table, int n, int cin, int cout,
                                    int gc, int bytes) {
    PIXEL_PROLOGUE(table, n);
    const Img g = img_at(table, n, 2, blockIdx.z);
    const float* m = row_ptr<float>(s, y) + x * cin;
    float gv[3];
    for (int c = 0; c < gc; c++) gv[c] = load_px(g, y, x * gc + c, bytes);
    for (int t = 0; t < cout; t++) {
        float q = m[cout * gc + t];
        for (int c = 0; c < gc; c++) q = q + m[t * gc + c] * gv[c];
        if (bytes) {
            const int v = __float2int_rn(q);
            row_ptr<u8>(d, y)[x * cout + t] = (u8)(v < 0 ? 0 : v > 255 ? 255 : v);
        } else {
            row_ptr<float>(d, y)[x * cout + t] = q;
        }
    }
}
