# lit configuration of the autopar regression tests.
import os
import sys

import lit.formats

config.name = "autopar"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "main.cpp", "SolverTest.cpp", "PipelineTest.cpp", "OverlapTest.cpp", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.autopar_obj_root, "test")

# Tools from the build tree first, then LLVM's FileCheck, not, split-file.
config.environment["PATH"] = os.pathsep.join(
    [config.autopar_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")]
)
config.substitutions.append(("%mlir_opt", config.mlir_opt))
config.substitutions.append(("%python", sys.executable))
config.substitutions.append(
    ("%autopar_plugin", os.path.join(config.autopar_lib_dir, "AutoparPlugin.so"))
)
config.substitutions.append(("%autopar_src", config.autopar_src_root))
config.substitutions.append(("%autopar_build", config.autopar_obj_root))
config.substitutions.append(("%corpus", config.corpus_dir))
if os.path.isdir(config.corpus_dir):
    config.available_features.add("corpus")
# Gradient checks: the training step against finite differences, executed
# on CPU (autopar-lower-to-cpu, then mlir-runner).
config.substitutions.append(
    (
        "%gradcheck",
        "%s %s --opt %s --runner %s --libs %s"
        % (
            sys.executable,
            os.path.join(config.autopar_src_root, "test", "Training", "Inputs", "gradcheck.py"),
            os.path.join(config.autopar_tools_dir, "autopar-opt"),
            os.path.join(config.llvm_tools_dir, "mlir-runner"),
            config.llvm_lib_dir,
        ),
    )
)
config.substitutions.append(("%mlir_runner", os.path.join(config.llvm_tools_dir, "mlir-runner")))
config.substitutions.append(("%mlir_libs", config.llvm_lib_dir))
# MPI runs: the launcher, allowed to run as root (CI containers) and on more
# ranks than cores, under a time limit: Open MPI's mpirun once stayed after
# both ranks of a failing job had exited (send-recv.mlir's timeout case, 18
# minutes, on a loaded 2-core machine); the limit turns such a hang into a
# killed launcher (exit 124) instead of a suite that never ends. No test
# runs near it.
mpirun = "timeout -k 30 900 mpirun --oversubscribe --bind-to none"
# And every test under a limit (lit kills the test's processes; it needs
# psutil for that, which scripts/build.sh installs): a hang anywhere, an
# MPI launch inside autopar-run included, fails its test, not the suite.
# The slowest test takes about 90 s on 2 cores.
try:
    import psutil  # noqa: F401

    lit_config.maxIndividualTestTime = 1200
except ImportError:
    lit_config.note("python3-psutil is missing: tests run without a time limit")
if hasattr(os, "geteuid") and os.geteuid() == 0:
    mpirun += " --allow-run-as-root"
# Jobs that fail on purpose (a rank times out waiting for a peer, a bad
# mesh) end within seconds; Open MPI's mpirun sometimes stays after their
# ranks have exited (zombies it never reaps, deaf to SIGTERM: twice in one
# suite run on 2026-12-05, permute.mlir's and send-recv.mlir's timeout
# cases), so their launcher gets a minute, not 15. Killed, it exits 124:
# still a failure for `not`, and the rank's message was already printed.
# (Listed before %mpirun, which is its prefix.)
config.substitutions.append(
    ("%mpirun_failing", mpirun.replace("timeout -k 30 900", "timeout -k 5 60")))
config.substitutions.append(("%mpirun", mpirun))
config.substitutions.append(
    ("%cpu_runtime", os.path.join(config.autopar_lib_dir, "libautopar_cpu_runtime.so"))
)

# The CUDA backend: compiling kernels to binaries needs ptxas (a CUDA
# toolkit) and linking needs libautopar_cuda_runtime; running them needs a
# GPU (nvidia-smi lists one).
import shutil
import subprocess

if config.have_cuda_runtime:
    config.available_features.add("cuda-toolkit")
# The CUDA runtime against host implementations of the CUDA libraries
# (autopar-run --emulate-gpu): the CUDA backend's programs run here.
if config.have_cuda_emulator:
    config.available_features.add("cuda-emulator")
config.substitutions.append(("%llc", config.llc))
config.substitutions.append(("%cxx", config.cxx))
config.substitutions.append(
    ("%cuda_runtime_dir", config.autopar_lib_dir)
)
if shutil.which("nvidia-smi"):
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
        if listed.returncode == 0 and "GPU" in listed.stdout:
            config.available_features.add("cuda-device")
    except (OSError, subprocess.SubprocessError):
        pass

# The PyTorch front end (autopar-import-torch): its environment exists once
# scripts/torch-env.sh has made it (scripts/test.sh does); tests that export
# models REQUIRE torch.
torch_venv = os.environ.get(
    "AUTOPAR_VENV", os.path.join(os.path.expanduser("~"), ".cache", "autopar", "torch-venv")
)
if os.path.exists(os.path.join(torch_venv, ".autopar-pins")):
    config.available_features.add("torch")
    config.environment["AUTOPAR_VENV"] = torch_venv
if "HOME" in os.environ:
    config.environment["HOME"] = os.environ["HOME"]
