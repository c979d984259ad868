// resize: one thread per output pixel of every image of the table, all channels.
#include "resize_sample.cuh"

extern "C" __global__ void resize_u8(const long long* table, int n, int cin, int cout,
                                     int mode) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const Img s = img_at(table, n, 0, blockIdx.z);
    const Img d = img_at(table, n, 1, blockIdx.z);
    if (x >= d.w || y >= d.h) return;
    const ResizePlan p = plan_resize(mode, s.h, s.w, d.h, d.w);
    resize_pixel_u8(s, d.h, d.w, x, y, cin, p, row_ptr<u8>(d, y) + x * cout);
}

extern "C" __global__ void resize_f32(const long long* table, int n, int cin, int cout,
                                      int mode) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const Img s = img_at(table, n, 0, blockIdx.z);
    const Img d = img_at(table, n, 1, blockIdx.z);
    if (x >= d.w || y >= d.h) return;
    float* out = row_ptr<float>(d, y) + x * cout;
    for (int k = 0; k < cin; k++)
        out[k] = resize_pixel_f32(s, d.h, d.w, x, y, cin, k, mode == INTER_NEAREST);
}
