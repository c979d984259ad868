// cvt_color: channel swap and OpenCV's fixed-point RGB->gray (15-bit coefficients).
#include "common.cuh"

#define CODE_SWAP_RB 0
#define CODE_RGB2GRAY 1
#define CODE_BGR2GRAY 2

extern "C" __global__ void cvt_color(const long long* table, int n, int cin, int cout,
                                     int code) {
    PIXEL_PROLOGUE(table, n);
    const u8* sp = row_ptr<u8>(s, y) + x * cin;
    u8* dp = row_ptr<u8>(d, y) + x * cout;
    if (code == CODE_SWAP_RB) {
        const u8 c0 = sp[0], c1 = sp[1], c2 = sp[2];
        dp[0] = c2; dp[1] = c1; dp[2] = c0;
    } else {
        const int r = code == CODE_RGB2GRAY ? sp[0] : sp[2];
        const int b = code == CODE_RGB2GRAY ? sp[2] : sp[0];
        dp[0] = static_cast<u8>((r * 9798 + sp[1] * 19235 + b * 3735 + (1 << 14)) >> 15);
    }
}
