"""background_blur_encoded on the real server: files in, files out. With PNG output it equals
background_blur on the same pixels (decoded by OpenCV) byte for byte, over HTTP and gRPC, on
real photos at several JPEG qualities and in one dynamic batch of mixed sizes; the output
format follows the input; the fused model equals the ensemble; a bad file fails alone."""
import concurrent.futures as cf

import numpy as np
import pytest
import tritonclient.http as http
from tritonclient.utils import InferenceServerException

import ops
from tests.codec_cases import CORRUPT_PNG, FILES, PHOTOS, cv_reference, pil_file
from tests.helpers import cpu_instances, infer, url

pytestmark = pytest.mark.server
MODEL = "background_blur_encoded"


def as_input(f: bytes) -> np.ndarray:
    return np.frombuffer(f, np.uint8)[None]


def blur_file(server, protocol: str, f: bytes, model: str = MODEL, **params) -> tuple[bytes, bytes]:
    out = infer(url(server, protocol), protocol, model, {"ENCODED": as_input(f)},
                parameters=params or None)
    return out["BLURRED"][0].tobytes(), out["MASK"][0].tobytes()


def blur_pixels(server, protocol: str, img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = infer(url(server, protocol), protocol, "background_blur", {"IMAGE": img[None]})
    return out["BLURRED"][0], out["MASK"][0]


def assert_same_as_pixels(server, protocol: str, f: bytes, blurred: bytes, mask: bytes) -> None:
    """The PNG outputs of the encoded pipeline equal background_blur on OpenCV's decode of f."""
    ref_blurred, ref_mask = blur_pixels(server, protocol, cv_reference(f))
    assert ops.sniff(blurred) == "png" and ops.sniff(mask) == "png"
    np.testing.assert_array_equal(cv_reference(blurred), ref_blurred)
    got_mask = ops.decode([mask])[0]
    np.testing.assert_array_equal(got_mask[..., 0], ref_mask)
    assert ops.probe(mask).channels == 1


@cpu_instances  # a GPU's JPEG decoder gives other pixels than OpenCV's
@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize("quality", [40, 92])
@pytest.mark.parametrize("photo", list(PHOTOS))
def test_png_output_equals_background_blur(server, protocol, quality, photo):
    f = pil_file(PHOTOS[photo], "JPEG", quality=quality)
    blurred, mask = blur_file(server, protocol, f, format="png")
    assert_same_as_pixels(server, protocol, f, blurred, mask)


@pytest.mark.parametrize("name", ["coffee-jpeg-q75", "png-rgba", "webp-lossy"])
def test_output_format_follows_the_input(server, name):
    f = FILES[name]
    blurred, mask = blur_file(server, "grpc", f)
    fmt = ops.probe(f).format
    assert ops.sniff(blurred) == fmt and ops.sniff(mask) == "png"
    assert ops.decode([blurred])[0].shape == ops.decode([f])[0].shape
    for other in ops.FORMATS:
        assert ops.sniff(blur_file(server, "grpc", f, format=other)[0]) == other


def test_quality_parameter(server):
    f = FILES["astronaut-jpeg-q95"]
    small, _ = blur_file(server, "http", f, quality=20)
    large, _ = blur_file(server, "http", f, quality=98)
    assert len(small) < len(large) / 2
    png, _ = blur_file(server, "http", f, format="png")
    exact = cv_reference(png)
    assert np.abs(cv_reference(small).astype(float) - exact).mean() > \
        np.abs(cv_reference(large).astype(float) - exact).mean()


@cpu_instances
def test_mixed_sizes_in_one_dynamic_batch(server):
    photos = [np.ascontiguousarray(ops.resize(PHOTOS[p], s)) for p, s in
              [("astronaut", (120, 160)), ("coffee", (90, 200)), ("chelsea", (64, 64)),
               ("astronaut", (200, 150)), ("coffee", (33, 47))]] * 3
    files = [pil_file(p, "JPEG", quality=80 + i) for i, p in enumerate(photos)]
    stats = http.InferenceServerClient(server.http_url)
    before = {m["name"]: m for m in stats.get_inference_statistics()["model_stats"]}
    with cf.ThreadPoolExecutor(len(files)) as pool:
        results = list(pool.map(lambda f: blur_file(server, "grpc", f, format="png"), files))
    after = {m["name"]: m for m in stats.get_inference_statistics()["model_stats"]}
    for f, (blurred, mask) in zip(files, results):
        assert_same_as_pixels(server, "grpc", f, blurred, mask)
    batched = []
    for name in ("decode", "encode", "encode_mask"):
        inf = int(after[name]["inference_count"]) - int(before[name]["inference_count"])
        exe = int(after[name]["execution_count"]) - int(before[name]["execution_count"])
        assert inf == len(files), name
        batched.append(inf > exe)
    assert any(batched), "no codec step ever ran more than one request per execution"


def padded(files: list[bytes]) -> np.ndarray:
    """Files as one (N, L) request tensor, the shorter ones zero-padded."""
    batch = np.zeros((len(files), max(map(len, files))), np.uint8)
    for row, f in zip(batch, files):
        row[:len(f)] = np.frombuffer(f, np.uint8)
    return batch


@pytest.mark.parametrize("model", [MODEL, f"{MODEL}_fused"])
def test_several_files_in_one_request(server, model):
    """A request of N files is an (N, L) tensor: shorter files zero-padded, and so are the
    outputs (decoders stop at a file's end)."""
    files = [pil_file(ops.resize(PHOTOS[p], (96, 128)), "JPEG", quality=q)
             for p, q in (("astronaut", 75), ("chelsea", 30))]
    if model.endswith("_fused"):  # in one process, the images may differ in size too
        files.append(FILES["coffee-jpeg-q75"])
    out = infer(server.grpc_url, "grpc", model, {"ENCODED": padded(files)}, parameters={"format": "png"})
    assert out["BLURRED"].shape[0] == len(files)
    for f, blurred, mask in zip(files, out["BLURRED"], out["MASK"]):
        single, single_mask = blur_file(server, "grpc", f, format="png")
        assert blurred.tobytes().rstrip(b"\0") == single.rstrip(b"\0")
        assert mask.tobytes().rstrip(b"\0") == single_mask.rstrip(b"\0")


def test_files_of_different_sizes_in_one_request_to_the_ensemble(server):
    """Between two steps of an ensemble one request's images are one tensor, of one size."""
    files = [FILES["astronaut-jpeg-q75"], FILES["coffee-jpeg-q75"]]
    with pytest.raises(InferenceServerException) as e:
        infer(server.http_url, "http", MODEL, {"ENCODED": padded(files)})
    assert e.value.status() == "400" and "separate requests" in str(e.value), str(e.value)


@pytest.mark.parametrize("name", ["coffee-jpeg-q75", "png-gray"])
def test_fused_equals_the_ensemble(server, name):
    f = FILES[name]
    assert blur_file(server, "http", f, f"{MODEL}_fused") == blur_file(server, "http", f)


@pytest.mark.parametrize("model", [MODEL, f"{MODEL}_fused"])
def test_a_corrupt_file_in_a_batch_fails_alone(server, model):
    """A file whose header is fine but whose data is not fails only when it is decoded, in the
    same execute() as good ones: only its request fails."""
    good = [pil_file(ops.resize(PHOTOS["coffee"], (60 + i, 80)), "PNG") for i in range(6)]
    bad = CORRUPT_PNG
    ops.probe(bad)  # the header passes
    with cf.ThreadPoolExecutor(8) as pool:
        futs = [pool.submit(blur_file, server, "grpc", f, model) for f in good]
        futs.insert(3, pool.submit(blur_file, server, "grpc", bad, model))
        outs = [f.exception() or f.result() for f in futs]
    assert isinstance(outs[3], InferenceServerException), outs[3]
    assert "corrupt PNG" in str(outs[3]) and "StatusCode.INVALID_ARGUMENT" in str(outs[3].status())
    for f, out in zip(good, outs[:3] + outs[4:]):
        assert not isinstance(out, Exception), out
        assert out == blur_file(server, "grpc", f, model)
