#!/bin/bash
# Builds the carry for one call on the lent GPU machine: .gpu/carry.tar.xz (git-ignored),
# everything the GPU check needs there that the machine lacks. Run from anywhere in the
# checkout (downloads about 85 MB from PyPI into build/gpu-wheels once, then 2-4 minutes of
# xz on 2 cores). docs/gpu.md says what travels and why.
#
# carry.tar.xz unpacks into a site-packages folder (setup.sh does it there):
#   pytriton/tritonserver/{bin,backends,caches,python_backend_stubs/3.12,3.11}
#                               tritonserver 2.51 + Python backend + stubs (nvidia-pytriton 0.7.0)
#   nvidia_pytriton.libs/       the bundled libraries those binaries need (and nothing else)
#   tritonclient + tflite + protobuf 6.33 + the HTTP client's compiled deps, for cp312 (the
#                               machine) and cp311 (this machine's rehearsal), side by side
#   _tvo_perf/{bin/perf_analyzer,lib/}   perf_analyzer 2.48 + libb64.so.0d + libcudart.so.12
#   nvidia/nvimgcodec, nvidia/cu13/lib/libnvjpeg.so.13   nvImageCodec 0.9 + nvJPEG (GPU decode)
#   _tvo_grpc/{grpc,typing_extensions.py}   grpcio $GRPCIO (cp312 + cp311 modules) + its one
#                               dependency: setup.sh puts it first on the path only when the
#                               machine's grpcio is older than tritonclient's generated code needs
# NumPy, CuPy, onnxruntime, OpenCV, scikit-image, pytest, PyYAML: the machine's own (grpcio too
# when it is new enough).
set -euo pipefail
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$ROOT"
CARRY=${CARRY:-.gpu}
WHEELS=${WHEELS:-build/gpu-wheels}
PYTHON=${PYTHON:-python3}
ABIS=${ABIS:-"3.12 3.11"}          # Python versions of the stubs and compiled client packages
XZ_THREADS=${XZ_THREADS:-0}
# = GRPC_GENERATED_VERSION of tritonclient 2.73's generated gRPC code (checked below); its one
# dependency (grpcio's Requires-Dist, also checked below) is typing-extensions~=4.12.
GRPCIO=1.81.1
TYPING_EXTENSIONS=4.15.0
mkdir -p "$WHEELS" "$CARRY"

plats=""
for t in manylinux_2_35_x86_64 manylinux_2_34_x86_64 manylinux_2_28_x86_64 manylinux_2_27_x86_64 \
         manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_5_x86_64 \
         manylinux1_x86_64 any; do plats="$plats --platform $t"; done
download() {  # download PYVER REQ...
  local v=$1; shift
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version "$v" \
    --implementation cp $plats -d "$WHEELS" "$@"
}
# Pure or abi3 wheels (one of each), then the compiled client deps for each ABI.
download 3.12 nvidia-pytriton==0.7.0 tritonclient==2.73.0 protobuf==6.33.6 zope.event==6.2 tflite==2.18.0
download 3.12 tritonclient==2.48.0   # only for its perf_analyzer binary
download 3.12 nvidia-nvimgcodec-cu13==0.9.0.20 nvidia-nvjpeg==13.2.3.58   # GPU decode/encode
download 3.12 typing-extensions==$TYPING_EXTENSIONS
for v in $ABIS; do
  download "$v" python-rapidjson==1.25 geventhttpclient==2.6.1 gevent==26.9.0 greenlet==3.3.2 \
    brotli==1.2.1 zope.interface==8.7 grpcio==$GRPCIO
done

T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
S=$T/site; mkdir -p "$S" "$T/pt"
whl() { ls "$WHEELS"/$1 2>/dev/null | head -1; }

# 1. tritonserver: the binary, the Python backend, the stubs, and the bundled libraries that
#    the binary, the backend, the stubs and perf_analyzer need (followed through NEEDED).
unzip -qo "$(whl 'nvidia_pytriton-0.7.0-*.whl')" 'pytriton/*' 'nvidia_pytriton.libs/*' -d "$T/pt"
stubs=""; for v in $ABIS; do stubs="$stubs pytriton/tritonserver/python_backend_stubs/$v/triton_python_backend_stub"; done
need=$(cd "$T/pt" && "$PYTHON" - $stubs <<'PY'
import os, subprocess, sys
libs = "nvidia_pytriton.libs"; have = set(os.listdir(libs)); need = set()
todo = ["pytriton/tritonserver/bin/tritonserver",
        "pytriton/tritonserver/backends/python/libtriton_python.so", *sys.argv[1:]]
todo += [os.path.join(libs, n) for n in have if n.startswith(("libb64", "libcudart"))]  # perf_analyzer
need |= {os.path.basename(p) for p in todo if p.startswith(libs)}
while todo:
    out = subprocess.run(["readelf", "-d", todo.pop()], capture_output=True, text=True, check=True).stdout
    for n in (l.split("[")[1].rstrip("]") for l in out.splitlines() if "(NEEDED)" in l):
        if n in have and n not in need:
            need.add(n); todo.append(os.path.join(libs, n))
print(" ".join(f"{libs}/{n}" for n in sorted(need)))
PY
)
(cd "$T/pt" && tar cf - pytriton/__init__.py pytriton/tritonserver/bin pytriton/tritonserver/backends \
   pytriton/tritonserver/caches $(for v in $ABIS; do echo pytriton/tritonserver/python_backend_stubs/$v; done) \
   $need) | tar xf - -C "$S"
rm -rf "$S"/pytriton/tritonserver/backends/python/__pycache__

# 2. perf_analyzer from the tritonclient 2.48 wheel (clients/perf/install.py), with the two
#    libraries it needs under the names it asks for (copies: xz stores the duplicates cheaply).
mkdir -p "$S/_tvo_perf/bin" "$S/_tvo_perf/lib"
unzip -qjo "$(whl 'tritonclient-2.48.0-*manylinux1_x86_64.whl')" 'tritonclient-2.48.0.data/data/bin/perf_analyzer' -d "$S/_tvo_perf/bin"
chmod 755 "$S/_tvo_perf/bin/perf_analyzer"
cp "$S"/nvidia_pytriton.libs/libb64-*.so.0d "$S/_tvo_perf/lib/libb64.so.0d"
cp "$S"/nvidia_pytriton.libs/libcudart-*.so.12* "$S/_tvo_perf/lib/libcudart.so.12"

# 3. Python packages: tritonclient (HTTP + gRPC), protobuf >= 6.33.5 (tritonclient's generated
#    code refuses an older runtime), the HTTP client's deps, tflite (tests import it).
for w in 'tritonclient-2.73.0-*.whl' 'protobuf-6.33.6-*.whl' 'zope_event-6.2-*.whl' 'tflite-2.18.0-*.whl'; do
  unzip -qo "$(whl "$w")" -d "$S"
done
for v in $ABIS; do
  tag=cp${v/./}
  for w in python_rapidjson-1.25 geventhttpclient-2.6.1 gevent-26.9.0 greenlet-3.3.2 brotli-1.2.1 zope_interface-8.7; do
    unzip -qo "$(whl "$w-$tag-*.whl")" -d "$S"
  done
done
# 3b. grpcio for a machine whose own is too old for tritonclient's generated code (setup.sh
#    decides, bench/gpu/grpc_pick.py): one grpc/ folder with the compiled module of each ABI
#    (the Python files are the same), unpacked: xz stores the two modules in 6.6 MB where the
#    two wheels (already deflated) take 13.2 MB.
unzip -qo "$(whl 'tritonclient-2.73.0-*.whl')" tritonclient/grpc/service_pb2_grpc.py -d "$T"
need_grpc=$("$PYTHON" -c 'import sys; from pathlib import Path; from bench.gpu.grpc_pick import required_version as r; print(r(Path(sys.argv[1])))' \
  "$T/tritonclient/grpc/service_pb2_grpc.py")
[ "$need_grpc" = "$GRPCIO" ] || { echo "build_carry: tritonclient needs grpcio $need_grpc, GRPCIO is $GRPCIO" >&2; exit 1; }
for v in $ABIS; do
  w=$(whl "grpcio-$GRPCIO-cp${v/./}-*.whl")
  deps=$(unzip -p "$w" "grpcio-$GRPCIO.dist-info/METADATA" | sed -n 's/^Requires-Dist: //p' | grep -v 'extra ==' || true)
  [ "$deps" = "typing-extensions~=4.12" ] || { echo "build_carry: grpcio $GRPCIO requires: $deps (expected typing-extensions~=4.12 only)" >&2; exit 1; }
  unzip -qo "$w" -d "$S/_tvo_grpc"
done
unzip -qo "$(whl "typing_extensions-$TYPING_EXTENSIONS-*.whl")" -d "$S/_tvo_grpc"
# 4. nvImageCodec (ops/_nvimgcodec.py) with nvJPEG, which its extension finds at
#    ../../cu13/lib: only the Python modules of $ABIS and the JPEG, PNG/WebP (OpenCV) and
#    libjpeg-turbo extensions (JPEG 2000, TIFF, BMP, PNM are not used).
unzip -qo "$(whl 'nvidia_nvimgcodec_cu13-0.9.0.20-*.whl')" -d "$S"
unzip -qo "$(whl 'nvidia_nvjpeg-13.2.3.58-*.whl')" 'nvidia/cu13/lib/*' -d "$S"
keep=""; for v in $ABIS; do keep="$keep -not -name nvimgcodec_impl.cpython-${v/./}-*"; done
find "$S/nvidia/nvimgcodec" -maxdepth 1 -name 'nvimgcodec_impl.cpython-*' $keep -delete
# Its nvidia/__init__.py would make nvidia a regular package that hides the machine's
# nvidia-* wheels (nvidia/cu13, ...): without it the folders merge as one namespace.
rm -f "$S"/nvidia/__init__.py
rm -rf "$S"/nvidia/nvimgcodec/{include,tools} \
       "$S"/nvidia/nvimgcodec/extensions/lib{nvjpeg2k,nvtiff,tiff,nvbmp,nvpnm}_ext.so*
# The deps' own test suites are never loaded.
rm -rf "$S"/gevent/tests "$S"/zope/interface/tests "$S"/zope/interface/common/tests "$S"/greenlet/tests \
       2>/dev/null || true
find "$S" -name '__pycache__' -type d -prune -exec rm -rf {} +
find "$S" \( -name '*.so' -o -name '*.so.*' \) ! -path '*/nvidia_pytriton.libs/*' -exec strip --strip-debug {} + 2>/dev/null || true
find "$S" -name '*.c' -o -name '*.h' -o -name '*.pyx' -o -name '*.pxd' | xargs rm -f

(cd "$S" && tar cf - . | xz -T"$XZ_THREADS" -9e > "$ROOT/$CARRY/carry.tar.xz.tmp")
mv "$CARRY/carry.tar.xz.tmp" "$CARRY/carry.tar.xz"
echo "unpacked: $(du -sh "$S" | cut -f1)"
bash "$ROOT/bench/gpu/carry_size.sh"
