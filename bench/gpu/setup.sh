# Sourced by bench/gpu/run.sh (on the lent GPU machine) and bench/gpu/rehearse.sh (here):
# `tvo_setup WORK` makes WORK/venv, a venv over the machine's python3 with the carry
# (.gpu/carry.tar.xz, bench/gpu/build_carry.sh) unpacked first on its path and the machine's
# own packages (NumPy, CuPy, onnxruntime, OpenCV, ...) after it, and the project installed in it
# (editable), then exports
#   TVO_PY            the venv's python (the check runs with it; the Triton stub uses it too,
#                     because the stub takes its prefix from the python3 first on PATH)
#   PATH              the venv's bin/ first
#   LD_LIBRARY_PATH   plus the folder of libpython3.X.so.1.0 when the loader does not find it
# and says clearly what it could not do. Returns non-zero when the server cannot start.

tvo_setup() {
  local work=$1 carry=${CARRY_FILE:-.gpu/carry.tar.xz} status=0
  mkdir -p "$work"
  echo "== setup: machine python $(command -v python3) ($(python3 -V 2>&1))"
  if [ ! -f "$carry" ]; then
    echo "SETUP ERROR: $carry is missing: build it with bash bench/gpu/build_carry.sh and name .gpu in carry"
    return 1
  fi
  python3 -m venv --without-pip "$work/venv" || { echo "SETUP ERROR: python3 -m venv failed"; return 1; }
  local sp ver
  sp=$("$work/venv/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  ver=$("$work/venv/bin/python3" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  local t0=$SECONDS
  # Python's own lzma + tarfile: no dependency on the machine's xz.
  "$work/venv/bin/python3" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="fully_trusted")' \
    "$carry" "$sp" || { echo "SETUP ERROR: unpacking $carry failed"; return 1; }
  mv "$sp/_tvo_perf" "$work/venv/perf"   # clients/perf/install.py looks in sys.prefix/perf
  echo "== setup: carry unpacked into $sp in $((SECONDS - t0)) s ($(du -sh "$sp" | cut -f1))"
  # The machine's own site folders after ours (a .pth runs addsitedir, so theirs run too),
  # and the machine's prefixes in site.PREFIXES: cuda-pathfinder (CuPy 14's way to NVRTC and
  # the CUDA libraries of the nvidia-* wheels) searches site.getsitepackages(), not sys.path.
  python3 - "$sp/zz_machine_site.pth" <<'PY'
import site, sys
dirs = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
prefixes = list(dict.fromkeys(site.PREFIXES))
lines = [f"import site; site.addsitedir({d!r})\n" for d in dirs]
lines.append(f"import site; site.PREFIXES[:] = list(dict.fromkeys(site.PREFIXES + {prefixes!r}))\n")
open(sys.argv[1], "w").write("".join(lines))
print("== setup: machine site folders after the carry:", ", ".join(dirs), "; prefixes:", ", ".join(prefixes))
PY
  # The project, installed editable the way pip's editable wheel does it (one .pth naming the
  # repository root; this venv has no pip): the check, the server and its stubs import it.
  echo "$PWD" > "$sp/_tvo_project.pth"
  export PATH="$work/venv/bin:$PATH"
  export TVO_PY="$work/venv/bin/python3"

  # grpcio: the machine's, unless the carried tritonclient's generated gRPC code refuses it
  # (older than its GRPC_GENERATED_VERSION, or none): then the carried one goes into the
  # venv's site-packages, ahead of the machine's folders. One line says which and why.
  local pick=0
  "$TVO_PY" bench/gpu/grpc_pick.py "$sp/tritonclient/grpc/service_pb2_grpc.py" "$sp/_tvo_grpc" || pick=$?
  case $pick in
    0) rm -rf "$sp/_tvo_grpc" ;;
    10) mv "$sp"/_tvo_grpc/* "$sp"/ && rmdir "$sp/_tvo_grpc" ;;
    *) echo "SETUP ERROR: grpcio: tritonclient.grpc and model_config_pb2 (the pipeline tools, the gRPC clients) will not import"
       status=1 ;;
  esac

  # The Python backend stub of this Python links libpython$ver.so.1.0.
  local stub="$sp/pytriton/tritonserver/python_backend_stubs/$ver/triton_python_backend_stub"
  if [ ! -f "$stub" ]; then
    echo "SETUP ERROR: the carry has no Triton Python stub for Python $ver (build_carry.sh ABIS)"
    status=1
  elif ldd "$stub" | grep -q "libpython.*not found"; then
    local lib="libpython$ver.so.1.0" dir=""
    for d in "$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")')" \
             /usr/lib/x86_64-linux-gnu /usr/local/lib /usr/lib /opt/conda/lib; do
      [ -n "$d" ] && [ -f "$d/$lib" ] && { dir=$d; break; }
    done
    [ -z "$dir" ] && dir=$(dirname "$(timeout 30 find / -xdev -name "$lib" -print -quit 2>/dev/null)" 2>/dev/null)
    if [ -n "$dir" ] && [ -f "$dir/$lib" ]; then
      export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      echo "== setup: $lib found in $dir (added to LD_LIBRARY_PATH)"
    else
      echo "SETUP ERROR: NO $lib ON THIS MACHINE: Triton's Python $ver stub cannot start, so the"
      echo "  server steps (server, pipeline-bench) will fail; the kernel tests and ops-bench still run."
      status=1
    fi
  else
    echo "== setup: stub links $(ldd "$stub" | grep libpython | xargs)"
  fi

  # The segmentation model travels as a carried path (the machine cannot build it: no network).
  [ -f model_repository/unet/1/model.onnx ] || {
    echo "SETUP ERROR: model_repository/unet/1/model.onnx is missing: name it in carry"; status=1; }
  # The stub for this Python next to the backend (serving.server.install, no download: pytriton is there).
  "$TVO_PY" -m serving.server.install || { echo "SETUP ERROR: python -m serving.server.install failed"; status=1; }
  "$TVO_PY" - <<'PY' || status=1
import importlib
for m in ("numpy", "cupy", "onnxruntime", "cv2", "skimage", "yaml", "google.protobuf", "grpc",
          "tritonclient.http", "tritonclient.grpc", "tflite", "pytest"):
    try:
        mod = importlib.import_module(m)
        print(f"== setup: {m} {getattr(mod, '__version__', '')} from {getattr(mod, '__file__', '?')}")
    except Exception as e:
        print(f"SETUP ERROR: import {m}: {type(e).__name__}: {e}")
        raise SystemExit(1)
import cupy  # NVRTC loads without a GPU: CuPy must find it (cuda-pathfinder, site.PREFIXES above)
try:
    print("== setup: NVRTC", ".".join(map(str, cupy.cuda.nvrtc.getVersion())))
except Exception as e:
    print(f"SETUP ERROR: CuPy cannot load NVRTC, no kernel will compile: {type(e).__name__}: {e}")
    raise SystemExit(1)
PY
  return $status
}
