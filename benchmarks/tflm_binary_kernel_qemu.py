"""The 1-bit C core on emulated Cortex-M: instructions executed per layer against the same layer done
as a plain int8 loop, under qemu-system-arm (Debian; Cortex-M4 on mps2-an386, Cortex-M55 on
mps3-an547, semihosting for the exit status). Harness: tfquant_lite/tflm_kernel/qemu/layer_bench.c
(three layers: conv 3x3 16->16 on 8x8, depthwise 3x3 on 8x8x64, fully connected 640->128), built
with arm-none-eabi-gcc -O2 (not -ffreestanding, which would turn the core's 4-byte memcpy loads into
calls). Counts are qemu's executed-instruction trace (`-singlestep -d exec`)
minus the harness's set-up alone; they count instructions, not cycles (qemu models no pipeline or
memory wait states).

    python -m benchmarks.tflm_binary_kernel_qemu        # prints a Markdown table
"""
import pathlib
import shutil
import subprocess
import tempfile

from tfquant_lite import tflm_ops

HARNESS = tflm_ops.SOURCE / "qemu"
BOARDS = {"cortex-m4": "mps2-an386", "cortex-m55": "mps3-an547"}
LAYERS = {0: "conv 3x3 16->16, 8x8", 1: "depthwise 3x3, 8x8x64", 2: "fully connected 640->128"}
MODES = {"none": 0, "binary": 1, "int8": 2, "both": 3}


def _build(cpu, layer, mode, out):
    subprocess.run(["arm-none-eabi-gcc", "-std=c99", "-O2", "-mthumb", f"-mcpu={cpu}", "-mfloat-abi=soft",
                    "-nostdlib", "-Wall", "-Wextra", "-Werror", f"-DMODE={mode}",
                    f"-DLAYER={layer}", "-T", str(HARNESS / "boards.ld"), str(HARNESS / "layer_bench.c"),
                    str(HARNESS.parent / "binary_core.c"), "-o", str(out), "-lgcc"], check=True)
    return out


def _qemu(cpu, elf, trace=None):
    command = ["qemu-system-arm", "-M", BOARDS[cpu], "-nographic", "-semihosting-config",
               "enable=on,target=native", "-kernel", str(elf)]
    if trace is not None:
        command += ["-singlestep", "-d", "exec,nochain", "-D", str(trace)]
    return subprocess.run(command, capture_output=True, timeout=600).returncode


def _instructions(cpu, elf, folder):
    trace = folder / "trace.log"
    if _qemu(cpu, elf, trace) != 0:
        raise RuntimeError(f"{elf.name} did not exit cleanly under qemu")
    with open(trace, "rb") as lines:
        count = sum(1 for line in lines if line.startswith(b"Trace"))
    trace.unlink()
    return count


def measure():
    """Rows of (cpu, layer, binary instructions, int8 instructions, outputs equal)."""
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            raise SystemExit(f"error: {tool} is missing (Debian: apt-get install gcc-arm-none-eabi qemu-system-arm)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        for cpu in BOARDS:
            for layer in LAYERS:
                elf = {m: _build(cpu, layer, code, folder / f"{m}.elf") for m, code in MODES.items()}
                equal = _qemu(cpu, elf["both"]) == 0
                base = _instructions(cpu, elf["none"], folder)
                rows.append((cpu, LAYERS[layer], _instructions(cpu, elf["binary"], folder) - base,
                             _instructions(cpu, elf["int8"], folder) - base, equal))
    return rows


def main():
    print("| CPU (qemu board) | layer | 1-bit kernel instructions | int8 loop instructions | ratio | outputs equal |")
    print("|---|---|---|---|---|---|")
    for cpu, layer, binary, int8, equal in measure():
        print(f"| {cpu} ({BOARDS[cpu]}) | {layer} | {binary:,} | {int8:,} | {binary / int8:.2f} | "
              f"{'yes' if equal else 'NO'} |")


if __name__ == "__main__":
    main()
