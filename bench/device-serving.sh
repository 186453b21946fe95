#!/usr/bin/env bash
# The serving benchmark (bench/serving-throughput.ts) on a machine with cores to spare and none of the project's
# packages: the device machine (16 cores), where the load generator runs on CPUs of its own instead of sharing the
# servers' two. Two halves:
#
#   bash bench/device-serving.sh pack    # here: .device-kit/ with Node, the compiled code, the packages it loads, the
#                                        # model's store and the FastAPI side's wheels (Python 3.12), about 50 MB
#   bash bench/device-serving.sh run <out folder> [<seconds, default 5>]   # there, from the repository's root
#
# `run` unpacks the kit at the path it was packed from (/tmp/serving-kit: the store's records hold absolute file URIs),
# installs the wheels beside the machine's own Python (its onnxruntime and NumPy), pins every server to two CPUs of
# different cores and the load generator to four others, and measures each server at 1 and 64 rows per request.
# The packing traces which packages the compiled server, its workers and the load generator load (a short run of the
# benchmark here) and keeps only those, and only onnxruntime-node's linux-x64 binaries.
set -euo pipefail
kit_root=/tmp/serving-kit
kit_dir=.device-kit

# The FastAPI side, as bench/requirements-serving.txt pins it, with the packages they need at the versions installed
# here (the device machine has anyio, h11, click, NumPy and onnxruntime of its own).
wheels=(fastapi==0.115.6 starlette==0.41.3 pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0
  typing-inspection==0.4.5 typing_extensions==4.16.0 uvicorn==0.34.0 uvloop==0.21.0 httptools==0.6.4)

pack() {
  rm -rf "${kit_root}" "${kit_dir}"
  mkdir -p "${kit_dir}/wheels"
  npx tsx bench/serving-throughput.ts --prepare "${kit_root}"
  # Which packages the compiled code loads: every file resolved under node_modules during a one-second run of each
  # of our servers (one process and clustered, with the log worker) and of the load generator.
  local traced
  traced="$(mktemp)"
  local hook="${kit_root}/trace-packages.js"
  cat > "${hook}" << EOF
const Module = require('module');
const fs = require('fs');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (...args) {
  const file = resolve.apply(this, args);
  if (file.includes('/node_modules/')) fs.appendFileSync('${traced}', file + '\n');
  return file;
};
EOF
  ln -s "$(pwd)/node_modules" "${kit_root}/node_modules"
  NODE_OPTIONS="--require ${hook}" MLOPS_BENCH_NODE_FLAGS="--require ${hook}" node "${kit_root}/built/bench/serving-throughput.js" \
    --store "$(cat "${kit_root}/store-path")" --python none --seconds 1 --rows 1 --only node-1-log,node-2-log,node-bare-2 > /dev/null
  rm "${kit_root}/node_modules" "${hook}"
  local packages
  packages="$(sed "s|^$(pwd)/node_modules/||" "${traced}" | awk -F/ '{ print ($1 ~ /^@/) ? $1 "/" $2 : $1 }' | sort -u)"
  rm -f "${traced}"
  for package in ${packages}; do
    mkdir -p "${kit_root}/node_modules/$(dirname "${package}")"
    if [ "${package}" = onnxruntime-node ]; then
      mkdir -p "${kit_root}/node_modules/onnxruntime-node/bin/napi-v6/linux"
      cp -r node_modules/onnxruntime-node/package.json node_modules/onnxruntime-node/dist "${kit_root}/node_modules/onnxruntime-node/"
      cp -r node_modules/onnxruntime-node/bin/napi-v6/linux/x64 "${kit_root}/node_modules/onnxruntime-node/bin/napi-v6/linux/"
    else
      cp -r "node_modules/${package}" "${kit_root}/node_modules/${package}"
    fi
  done
  cp "$(command -v node)" "${kit_root}/node"
  tar -cJf "${kit_dir}/serving-kit.tar.xz" -C / "${kit_root#/}"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d "${kit_dir}/wheels" "${wheels[@]}"
  echo "packed: $(du -sh "${kit_dir}" | cut -f1) in ${kit_dir} ($(echo "${packages}" | wc -l) packages)"
}

# Two CPUs on different cores for the servers, four others for the load generator (from /sys's topology; plain
# numbers where the machine does not show it).
choose_cpus() {
  python3 - << 'EOF'
import glob, os
cores = {}
for f in sorted(glob.glob('/sys/devices/system/cpu/cpu[0-9]*/topology/core_id')):
    cpu = int(f.split('/')[5][3:])
    package = open(os.path.join(os.path.dirname(f), 'physical_package_id')).read().strip()
    cores.setdefault((package, open(f).read().strip()), []).append(cpu)
firsts = sorted(min(c) for c in cores.values())
if len(firsts) >= 8:
    server, generator = firsts[2:4], firsts[4:8]
else:
    server, generator = [2, 3], [8, 9, 10, 11]
print(','.join(map(str, server)), ','.join(map(str, generator)))
EOF
}

run() {
  local out="$1" seconds="${2:-5}"
  mkdir -p "${out}"
  tar -xJf "${kit_dir}/serving-kit.tar.xz" -C /
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/serving-site \
    "${kit_dir}"/wheels/*.whl
  export PYTHONPATH=/tmp/serving-site
  python3 -c 'import fastapi, uvicorn, uvloop, httptools, onnxruntime, numpy, sys
print("python", sys.version.split()[0], "fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__, "onnxruntime", onnxruntime.__version__, "numpy", numpy.__version__)' | tee "${out}/machine.txt"
  read -r server_cpus generator_cpus <<< "$(choose_cpus)"
  local pin=(--server-cpus "${server_cpus}" --generator-cpus "${generator_cpus}")
  if ! taskset -c "${server_cpus}" true; then
    echo "taskset cannot pin here: the servers and the generator run on any CPU" | tee -a "${out}/machine.txt"
    pin=()
  fi
  { nproc; lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket)'; echo "servers on CPUs ${server_cpus}, the generator on ${generator_cpus}"; } 2>&1 | tee -a "${out}/machine.txt"
  "${kit_root}/node" "${kit_root}/built/bench/serving-throughput.js" --store "$(cat "${kit_root}/store-path")" \
    --python python3 --seconds "${seconds}" --rows 1,64 \
    --only node-1-log,node-2-log,node-bare-1,node-bare-2,fastapi-1,fastapi-2 \
    "${pin[@]}" 2>&1 | tee "${out}/serving.log"
  # The 1-row goal again, one process and two, to see the run-to-run spread.
  "${kit_root}/node" "${kit_root}/built/bench/serving-throughput.js" --store "$(cat "${kit_root}/store-path")" \
    --python python3 --seconds "${seconds}" --rows 1 --only node-1-log,node-2-log,fastapi-1,fastapi-2 \
    "${pin[@]}" 2>&1 | tee "${out}/serving-repeat.log"
}

case "${1:-}" in
  pack) pack ;;
  run) run "${2:?the folder for the results}" "${3:-5}" ;;
  *) echo "usage: bash bench/device-serving.sh pack | run <out folder> [<seconds>]" >&2; exit 2 ;;
esac
