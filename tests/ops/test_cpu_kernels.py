"""The CPU kernel harness itself (ops/_cpu_kernels.py): planted bugs fail parity, CUDA's
block semantics (__shared__, __syncthreads) hold, faults and bad launches are reported.

The ops' parity cases run on the harness through the ``backend`` fixture in each op's
test file; this file shows that those checks can fail."""
import shutil
from pathlib import Path

import numpy as np
import pytest

import ops
from ops import _cpu_kernels as ck
from ops._kernel_sources import KERNEL_DIR
from ops.arrays import hostarrays
from tests.helpers import exact, kernel_matches_numpy, random_image, rng_for

pytestmark = pytest.mark.kernels


def kernel_copy(tmp_path: Path, file: str = "", old: str = "", new: str = "") -> Path:
    """A copy of ops/kernels with ``old`` replaced by ``new`` (exactly once) in ``file``."""
    d = tmp_path / "kernels"
    shutil.copytree(KERNEL_DIR, d, ignore=shutil.ignore_patterns("cpu"))
    if file:
        p = d / file
        text = p.read_text()
        assert text.count(old) == 1, f"{file}: the planted bug's context {old!r} moved"
        p.write_text(text.replace(old, new))
    return d


def lists(rng):
    """A variable-shape list with differing widths, odd and 1-pixel sizes."""
    return [random_image(rng, h, w, 3) for h, w in [(1, 1), (50, 3), (7, 90), (33, 17)]]


def parity_cases(rng):
    """{name: a parity check} for the kernels the planted bugs touch."""
    img = random_image(rng, 37, 53, 3)
    m = random_image(rng, 37, 53, None)
    # The guide's maximum at element 1, which an odd thread of the reduction reads.
    float_guide = img.astype(np.float32)
    float_guide[0, 0, 1] = 2000
    return {
        "blur": lambda: kernel_matches_numpy("harness", ops.gaussian_blur, img, 7, 0,
                                             "reflect101", check=exact),
        "pad": lambda: kernel_matches_numpy("harness", ops.pad, lists(rng), 4, 2, 5, 3,
                                            "reflect", check=exact),
        "composite": lambda: kernel_matches_numpy(
            "harness", lambda a: ops.composite(*a), [img, img[::-1].copy(), m], check=exact),
        "resize": lambda: kernel_matches_numpy("harness", ops.resize, img, (61, 29), "linear",
                                               check=exact),
        "list": lambda: kernel_matches_numpy("harness", ops.cvt_color, lists(rng), "rgb2gray",
                                             check=exact),
        "joint bilateral": lambda: kernel_matches_numpy(
            "harness", lambda a: ops.joint_bilateral_filter(a[0], a[1], 5, 30, 2), [m, img], check=exact),
        "joint bilateral float": lambda: kernel_matches_numpy(
            "harness", lambda a: ops.joint_bilateral_filter(a[0], a[1], 5, 30, 2),
            [m.astype(np.float32), float_guide], check=exact),
        "guided": lambda: kernel_matches_numpy(
            "harness", lambda a: ops.guided_filter(a[0], a[1], 4, 30.0), [img, m], check=exact),
    }


# Each planted bug: (file, original text, bug, the parity cases that must catch it).
PLANTED = {
    "border off-by-one": ("common.cuh", "else p = len - 1 - (p - len) - delta;",
                          "else p = len - (p - len) - delta;", ("blur", "pad")),
    "composite +127 -> +128": ("filter.cu", "(255 - a) + 127) / 255", "(255 - a) + 128) / 255",
                               ("composite",)),
    "resize x/y swapped": ("resize.cu", "resample_u8(src, s.h, s.w, d.h, d.w, x, y,",
                           "resample_u8(src, s.h, s.w, d.h, d.w, y, x,", ("resize",)),
    "joint bilateral: guide channel 0 only": ("bilateral.cu", "row_ptr<u8>(g, sy)[sx * jcn + c]",
                                              "row_ptr<u8>(g, sy)[sx * jcn]", ("joint bilateral",)),
    "joint bilateral: table position": ("bilateral.cu", "a -= (float)idx;", "a -= (float)(idx + 1);",
                                        ("joint bilateral float",)),
    "reduction stops one step early": ("reduce.cu", "step > 0; step /= 2", "step > 1; step /= 2",
                                       ("joint bilateral float",)),
    "list stride of image 0": ("common.cuh", "r.stride = table[(slot * 4 + 3) * n + i];",
                               "r.stride = table[(slot * 4 + 3) * n];", ("list",)),
    "guided box window one short": ("guided.cu", "for (int j = -radius; j <= radius; j++)",
                                    "for (int j = -radius; j < radius; j++)", ("guided",)),
}


def test_unmodified_copy_passes(request, tmp_path):
    """The control: the same cases on an unmodified copy pass, so failures below come from
    the planted bug, not from the copy."""
    with ck.kernel_sources(kernel_copy(tmp_path)):
        for run in parity_cases(rng_for(request)).values():
            run()


@pytest.mark.parametrize("bug", PLANTED)
def test_planted_bug_fails_parity(request, tmp_path, monkeypatch, bug):
    monkeypatch.setattr(ck, "TIMEOUT_S", 2.0)  # a wrong border can loop forever
    file, old, new, cases = PLANTED[bug]
    runs = parity_cases(rng_for(request))
    with ck.kernel_sources(kernel_copy(tmp_path, file, old, new)):
        for case in cases:
            with pytest.raises((AssertionError, ck.KernelFault)):
                runs[case]()


def test_every_kernel_runs_on_the_harness(request):
    """Each extern "C" __global__ function of ops/kernels is reached by an op on HostArrays
    (a new kernel without a path here fails this test until its op's cases cover it)."""
    rng = rng_for(request)
    img, m = hostarrays.asarray(random_image(rng, 9, 11, 3)), hostarrays.asarray(random_image(rng, 9, 11, None))
    t = hostarrays.asarray(rng.standard_normal((1, 2, 6, 5)).astype(np.float16))
    ck.launched.clear()
    ops.cvt_color(img, "rgb2bgr")
    ops.gaussian_blur(img, 3, 0)
    ops.morphology(m, "erode", 3)
    ops.composite(img, img, m)
    ops.pad(img, 1, 1, 1, 1)
    ops.pad(hostarrays.asarray(np.zeros((2, 2, 1), np.float32)), 1, 1, 1, 1)
    ops.resize(img, (4, 4))
    ops.resize(hostarrays.asarray(np.zeros((2, 2, 1), np.float32)), (4, 4))
    ops.letterbox(img, (8, 8))
    ops.image_to_tensor(img)
    ops.image_to_tensor(img, dtype="float16")
    ops.tensor_to_mask(t)
    ops.joint_bilateral_filter(m, img, 5, 50, 1)
    ops.threshold(m, 128)
    ops.joint_bilateral_filter(hostarrays.asarray(np.ones((3, 4, 1), np.float32)),
                               hostarrays.asarray(np.eye(3, 4, dtype=np.float32)), 3, 1, 1)
    ops.guided_filter(img, m, 2, 10.0)
    every = {(p.stem, k) for p in KERNEL_DIR.glob("*.cu")
             for k in ck.kernel_signatures(p.read_text())}
    assert len(every) >= 13
    assert set(ck.launched) == every, f"never launched: {sorted(every - set(ck.launched))}"


def test_compile_error_names_file_and_line(tmp_path):
    d = kernel_copy(tmp_path, "pad.cu", "const int sy = border_index(y - top, s.h, mode);",
                    "const int sy = border_index(y - top, s.h, mode)")
    line = next(i for i, t in enumerate((d / "pad.cu").read_text().splitlines(), 1)
                if "border_index(y - top" in t)
    with ck.kernel_sources(d), pytest.raises(ck.KernelBuildError) as e:
        ops.pad(hostarrays.asarray(np.zeros((4, 4, 3), np.uint8)), 1, 1, 1, 1)
    assert f"pad.cu:{line + 1}:" in str(e.value) or f"pad.cu:{line}:" in str(e.value), str(e.value)
    assert "error" in str(e.value)


# ---- CUDA semantics the harness must honour ------------------------------------------

BLOCK_KERNELS = r"""
#include "common.cuh"

// Each block reverses its chunk of n floats through shared memory: correct only if every
// thread's store lands before any thread's load (one __syncthreads).
extern "C" __global__ void reverse_blocks(const float* in, float* out, int n) {
    __shared__ float tile[64];
    const int nt = blockDim.x * blockDim.y;
    const int t = threadIdx.y * blockDim.x + threadIdx.x;
    const int i = blockIdx.x * nt + t;
    tile[t] = i < n ? in[i] : -1.f;
    __syncthreads();
    if (i < n) out[i] = tile[nt - 1 - t];
}

// Tree sum per block: a __syncthreads in a loop, log2(nt) rounds.
extern "C" __global__ void block_sums(const int* in, int* out) {
    __shared__ int acc[64];
    const int t = threadIdx.x;
    acc[t] = in[blockIdx.x * blockDim.x + t];
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if (t < s) acc[t] += acc[t + s];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = acc[0];
}

extern "C" __global__ void early_return(int* out) {
    if (threadIdx.x == 0) return;
    __syncthreads();
    out[threadIdx.x] = 1;
}

extern "C" __global__ void split_barrier(int* out) {
    if (threadIdx.x % 2) { __syncthreads(); out[threadIdx.x] = 1; }
    else { __syncthreads(); out[threadIdx.x] = 2; }
}

extern "C" __global__ void write_one_past(float* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) out[i] = 1.f;
}

extern "C" __global__ void spin(float* out) {
    volatile float* v = out;
    while (v[0] != 12345.f) {}
}

extern "C" __global__ void halves(const unsigned short* in, float* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = half_to_float(in[i]);
}

extern "C" __global__ void to_int(const float* in, int* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __float2int_rn(in[i]);
}
"""


@pytest.fixture
def block_kernels(tmp_path):
    d = kernel_copy(tmp_path)
    (d / "block.cu").write_text(BLOCK_KERNELS)
    with ck.kernel_sources(d):
        yield


def test_shared_memory_and_syncthreads(block_kernels):
    x = np.arange(200, dtype=np.float32)
    out = hostarrays.empty(200, np.float32)
    ck.launch("block", "reverse_blocks", (4, 1, 1), (8, 8, 1), (hostarrays.asarray(x), out, np.int32(200)))
    exact(np.asarray(out), _reverse_chunks(x, 64))

    v = np.random.default_rng(1).integers(-1000, 1000, 5 * 32).astype(np.int32)
    sums = hostarrays.empty(5, np.int32)
    ck.launch("block", "block_sums", (5, 1, 1), (32, 1, 1), (hostarrays.asarray(v), sums))
    exact(np.asarray(sums), v.reshape(5, 32).sum(axis=1))


def _reverse_chunks(x, nt):
    """What reverse_blocks computes: each nt-chunk reversed, padding (-1) where i >= n."""
    pad = np.full(-(-x.size // nt) * nt, -1, np.float32)
    pad[:x.size] = x
    return pad.reshape(-1, nt)[:, ::-1].reshape(-1)[:x.size]


@pytest.mark.parametrize("kernel, words", [("early_return", "a thread returned while others wait"),
                                           ("split_barrier", "threads wait at different __syncthreads calls")])
def test_divergent_barrier_is_reported(block_kernels, kernel, words):
    with pytest.raises(ck.KernelFault, match=f"kernel {kernel}: {words}"):
        ck.launch("block", kernel, (1, 1, 1), (32, 1, 1), (hostarrays.empty(32, np.int32),))


def test_out_of_bounds_write_is_reported(block_kernels):
    out = hostarrays.empty(100, np.float32)
    with pytest.raises(ck.KernelFault, match=r"SIGSEGV.*0 bytes past the end of a float32 \(100,\)"):
        ck.launch("block", "write_one_past", (4, 1, 1), (32, 1, 1), (out, np.int32(100)))
    # the process survives, and later launches work
    ck.launch("block", "write_one_past", (4, 1, 1), (32, 1, 1), (hostarrays.empty(101, np.float32),
                                                                 np.int32(100)))


def test_endless_loop_is_ended_by_the_watchdog(block_kernels, monkeypatch):
    monkeypatch.setattr(ck, "TIMEOUT_S", 0.5)
    with pytest.raises(ck.KernelFault, match="kernel spin: ran longer than the harness's 500 ms"):
        ck.launch("block", "spin", (1, 1, 1), (1, 1, 1), (hostarrays.empty(1, np.float32),))


def test_portable_ptx_half_to_float_is_exact(block_kernels):
    bits = np.arange(65536, dtype=np.uint16)
    out = hostarrays.empty(65536, np.float32)
    ck.launch("block", "halves", (256, 1, 1), (256, 1, 1), (hostarrays.asarray(bits), out, np.int32(65536)))
    want = bits.view(np.float16).astype(np.float32)
    exact(np.asarray(out).view(np.uint32)[~np.isnan(want)], want.view(np.uint32)[~np.isnan(want)])
    assert np.isnan(np.asarray(out)[np.isnan(want)]).all()


def test_float2int_rn_rounds_half_even_and_saturates(block_kernels):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 254.5, 3e9, -3e9, np.nan, np.inf], np.float32)
    out = hostarrays.empty(x.size, np.int32)
    ck.launch("block", "to_int", (1, 1, 1), (32, 1, 1), (hostarrays.asarray(x), out, np.int32(x.size)))
    exact(np.asarray(out), [0, 2, 2, 0, -2, 254, 2**31 - 1, -2**31, 0, 2**31 - 1])


@pytest.mark.parametrize("args, words", [
    (lambda out: (np.zeros(4, np.float32), np.int32(4)),
     r"argument 0 \(float\* out\) must be a HostArray"),
    (lambda out: (out, np.int64(4)), r"argument 1 \(int n\) must be np.int32, got int64"),
    (lambda out: (out, 4), r"argument 1 \(int n\) must be np.int32, got int"),
    (lambda out: (out,), r"2 arguments \(out, n\), got 1"),
])
def test_bad_arguments_are_refused(block_kernels, args, words):
    """Checked against the kernel's declared parameters (CuPy passes whatever it gets)."""
    with pytest.raises(TypeError, match=words):
        ck.launch("block", "write_one_past", (1, 1, 1), (4, 1, 1), args(hostarrays.empty(4, np.float32)))
