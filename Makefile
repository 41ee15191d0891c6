# The README's commands. Each target sets up what it needs itself.
PY      := .venv/bin/python
STAMP   := .venv/.tfquant-setup
APT     := dataset-fashion-mnist chromium qemu-user-static debootstrap binfmt-support gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm

.PHONY: setup test test-slow main bench
setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT) >/dev/null; \
	else echo "not root: install these Debian packages yourself: $(APT)"; fi
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@# The PyTorch backend tests: the CPU build torch 2.13.0+cpu, which this kind of machine keeps on disk (PyPI has no
	@# "+cpu" builds, so elsewhere this fails at once instead of fetching GBs of CUDA); without it the PyTorch tests skip.
	-$(PY) -m pip install -q "torch==2.13.0+cpu"
	@# tflite-runtime 2.14 needs numpy<2: it gets its own venv (.venv-tflite-runtime, with this checkout installed
	@# --no-deps so that tfquant_lite.interpreters runs there), run in a subprocess.
	-$(PY) -m export._tflite_runtime_venv
	@# larq (the peer benchmarked in docs/RESULTS.md) runs only on legacy tf-keras: its own venv (.venv-larq).
	-[ -x .venv-larq/bin/python ] || bash benchmarks/larq_env.sh
	@# tfquant's 1-bit TFLite Micro kernel as the shared library the tflite-micro wheel loads (g++, no download;
	@# into ~/.cache/tfquant/tflm_kernel/<digest of the sources>/, where tfquant_lite.tflm_ops finds it).
	-$(PY) -m tfquant_lite.tflm_ops
	@if [ -f android_demo/package.json ]; then (cd android_demo && npm ci --no-audit --no-fund --loglevel=error); fi
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

test-slow: setup
	$(PY) -m pytest -q -m "slow and not heavy"

# The main job writes into runs/main only; `python -m jobs.main_job --publish` also updates the demo's
# models and docs/RESULTS.md.
main: setup
	$(PY) -m jobs.main_job

bench: setup
	$(PY) -m benchmarks.optimizer_overhead --write
	$(PY) -m benchmarks.export_size_latency --write
	$(PY) -m benchmarks.export_compat --write
